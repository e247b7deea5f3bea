"""Register maps and the YAML-facing meter config: what loads, what is refused and why."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

import collector.modbus
from collector.modbus.registers import MAPS, SDM120, SDM630, ModbusSource, RegisterSpec

ENERGY = {"name": "energy", "address": 0x10, "metric": "energy"}


@pytest.mark.parametrize(
    ("register_map", "metered"),
    [
        (
            SDM630,
            [("total_power", 0x0034, "power", "W"), ("import_energy", 0x0048, "energy", "kWh")],
        ),
        (SDM120, [("power", 0x000C, "power", "W"), ("import_energy", 0x0048, "energy", "kWh")]),
    ],
)
def test_shipped_maps_read_import_energy_and_power(
    register_map: Any, metered: list[tuple[str, int, str, str]]
) -> None:
    assert [(r.name, r.address, r.metric, r.unit) for r in register_map.metered] == metered
    assert {
        (r.register_type, r.type, r.word_order, r.byte_order) for r in register_map.registers
    } == {("input", "float32", "big", "big")}
    assert MAPS[register_map.name] is register_map


@pytest.mark.parametrize(
    ("name", "address", "unit"),
    [("l1_voltage", 0x0000, "V"), ("l3_current", 0x000A, "A"), ("frequency", 0x0046, "Hz")],
)
def test_sdm630_names_values_without_a_metric(name: str, address: int, unit: str) -> None:
    (register,) = [r for r in SDM630.registers if r.name == name]
    assert (register.address, register.unit, register.metric) == (address, unit, None)


def test_a_meter_with_a_shipped_map_takes_the_defaults() -> None:
    source = ModbusSource.model_validate({"host": "10.0.0.7", "map": "sdm630"})
    assert (source.port, source.unit, source.retries) == (502, 1, 2)
    assert (source.interval, source.timeout) == (timedelta(seconds=10), timedelta(seconds=3))
    assert source.register_map is SDM630


def test_a_meter_with_its_own_registers_reads_them_as_yaml_writes_them() -> None:
    register = {"name": "e", "address": 0x100, "register": "holding", "type": "uint32"}
    register |= {"word_order": "little", "scale": 0.001, "metric": "energy", "unit": "kWh"}
    source = ModbusSource.model_validate(
        {"host": "gw", "unit": 3, "registers": [register], "interval": "1m", "timeout": "500ms"}
    )
    (spec,) = source.register_map.registers
    assert (spec.register_type, spec.type, spec.word_order, spec.scale) == (
        "holding",
        "uint32",
        "little",
        0.001,
    )
    assert (source.interval, source.timeout) == (timedelta(minutes=1), timedelta(milliseconds=500))
    assert spec.model_dump()["register"] == "holding"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "exactly one of map"),
        ({"map": "sdm630", "registers": [ENERGY]}, "exactly one of map"),
        ({"map": "sdm999"}, "map"),
        ({"map": "sdm630", "port": 0}, "port"),
        ({"map": "sdm630", "unit": 256}, "unit"),
        ({"map": "sdm630", "retries": -1}, "retries"),
        ({"map": "sdm630", "interval": "0s"}, "positive"),
        ({"map": "sdm630", "interval": "soon"}, "not a duration"),
        ({"map": "sdm630", "baud": 9600}, "baud"),
        ({"registers": []}, "registers"),
        ({"registers": [ENERGY, ENERGY]}, "names repeat"),
        ({"registers": [ENERGY, {**ENERGY, "name": "e2"}]}, "two registers"),
        ({"registers": [{**ENERGY, "metric": "volts"}]}, "unknown metric"),
        ({"registers": [{**ENERGY, "unit": "Wh"}]}, "use scale"),
        ({"registers": [{**ENERGY, "scale": 0}]}, "non-zero"),
        ({"registers": [{**ENERGY, "scale": float("nan")}]}, "finite"),
        ({"registers": [{**ENERGY, "address": 0xFFFF}]}, "past 0xFFFF"),
        ({"registers": [{**ENERGY, "address": 0x10000}]}, "address"),
        ({"registers": [{**ENERGY, "type": "float64"}]}, "type"),
        ({"registers": [{**ENERGY, "register": "coil"}]}, "register"),
        ({"registers": [{**ENERGY, "word_order": "middle"}]}, "word_order"),
        ({"registers": [{**ENERGY, "offset": 1}]}, "offset"),
    ],
)
def test_a_meter_config_that_cannot_be_polled_is_refused(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ModbusSource.model_validate({"host": "10.0.0.7", **fields})


def test_register_specs_are_frozen() -> None:
    with pytest.raises(ValidationError):
        RegisterSpec.model_validate(ENERGY).address = 1


@pytest.mark.parametrize("name", collector.modbus.__all__)
def test_the_package_exports_what_it_declares(name: str) -> None:
    assert not name.startswith("_")
    assert getattr(collector.modbus, name) is not None
