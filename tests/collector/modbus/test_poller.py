"""The poller: pure counters and validation, then whole polls against pymodbus's server."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from collector.modbus.poller import (
    MeterStats,
    Poller,
    after_failure,
    after_success,
    readings_from,
)
from collector.modbus.registers import SDM630, ModbusSource, RegisterSpec
from collector.models import Reading
from tests.collector.modbus.conftest import (
    HOLDING_START,
    SDM630_IMAGE,
    UNIT,
    MeterFactory,
    MeterServer,
)
from tests.support.wait import until

NOW = 1_700_000_000.0


def source(meter: MeterServer, **fields: Any) -> ModbusSource:
    settings = {"map": "sdm630", "timeout": "500ms", "retries": 0, **fields}
    return ModbusSource.model_validate(
        {"host": "127.0.0.1", "port": meter.port, "unit": UNIT, **settings}
    )


class Recorder:
    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.availability: list[tuple[str, bool]] = []

    def submit(self, reading: Reading) -> None:
        self.readings.append(reading)

    def changed(self, device: str, online: bool) -> None:
        self.availability.append((device, online))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


PollerFor = Callable[..., Poller]


@pytest.fixture
def poller_for(recorder: Recorder) -> Iterator[PollerFor]:
    """Pollers submitting to ``recorder`` at ``NOW``; stopped (readers closed) after the test."""
    made: list[Poller] = []

    def make(*meters: tuple[str, ModbusSource], submit: Any = recorder.submit) -> Poller:
        poller = Poller(list(meters), submit, lambda: NOW, on_availability=recorder.changed)
        made.append(poller)
        return poller

    yield make
    for poller in made:
        poller.stop()


@pytest.fixture
def poller(meter: MeterServer, poller_for: PollerFor) -> Poller:
    return poller_for(("main-meter", source(meter)))


@pytest.mark.parametrize(
    ("stats", "kind", "expected"),
    [
        (MeterStats(), "unreachable", MeterStats(1, {"unreachable": 1}, 1, None, False)),
        (
            MeterStats(2, {"unreachable": 2}, 2, 5.0),
            "unreachable",
            MeterStats(3, {"unreachable": 3}, 3, 5.0, True),
        ),
        (
            MeterStats(9, {"exception": 4}, 4, None, True),
            "unreachable",
            MeterStats(10, {"exception": 4, "unreachable": 1}, 5, None, True),
        ),
    ],
)
def test_after_failure_counts_and_marks_offline_on_the_third(
    stats: MeterStats, kind: str, expected: MeterStats
) -> None:
    assert after_failure(stats, kind) == expected


@pytest.mark.parametrize(
    ("stats", "bad", "expected"),
    [
        (MeterStats(), 0, MeterStats(1, {}, 0, NOW, False)),
        (MeterStats(), 2, MeterStats(1, {"value": 2}, 0, NOW, False)),
        (
            MeterStats(5, {"unreachable": 5}, 5, 1.0, True),
            0,
            MeterStats(6, {"unreachable": 5}, 0, NOW, False),
        ),
    ],
)
def test_after_success_resets_failures_and_comes_back_online(
    stats: MeterStats, bad: int, expected: MeterStats
) -> None:
    assert after_success(stats, NOW, bad) == expected


@pytest.mark.parametrize(
    ("values", "readings", "bad"),
    [
        ({"total_power": 10.0, "import_energy": 5.0}, [("power", 10.0), ("energy", 5.0)], []),
        ({"total_power": -3.5, "l1_voltage": 230.0}, [("power", -3.5)], []),
        ({"total_power": math.nan, "import_energy": 5.0}, [("energy", 5.0)], ["total_power"]),
        ({"total_power": math.inf, "import_energy": -1.0}, [], ["total_power", "import_energy"]),
        ({"total_power": 2e9}, [], ["total_power"]),
        ({}, [], []),
    ],
)
def test_readings_from_keeps_metered_values_within_physical_ranges(
    values: dict[str, float], readings: list[tuple[str, float]], bad: list[str]
) -> None:
    expected = [Reading("m", metric, NOW, value, NOW) for metric, value in readings]
    assert readings_from("m", SDM630.registers, values, NOW) == (expected, bad)


def test_poll_once_reads_power_and_import_energy_at_the_clock_time(
    poller: Poller, recorder: Recorder
) -> None:
    expected = [
        Reading("main-meter", "power", NOW, 2875.3, NOW),
        Reading("main-meter", "energy", NOW, 12345.6, NOW),
    ]
    assert poller.poll_once("main-meter") == expected
    assert recorder.readings == expected
    assert poller.stats("main-meter") == MeterStats(1, {}, 0, NOW, False)


def test_a_stopped_meter_goes_offline_after_three_failures_and_back_on_answering(
    meter: MeterServer, poller: Poller, recorder: Recorder
) -> None:
    meter.stop()
    assert poller.poll_once("main-meter") == []
    assert poller.poll_once("main-meter") == []
    assert (poller.offline, recorder.availability) == (frozenset(), [])
    assert poller.poll_once("main-meter") == []
    assert poller.stats("main-meter") == MeterStats(3, {"unreachable": 3}, 3, None, True)
    assert (poller.offline, recorder.availability) == (
        frozenset({"main-meter"}),
        [("main-meter", False)],
    )
    meter.start()
    assert len(poller.poll_once("main-meter")) == 2
    assert poller.stats("main-meter") == MeterStats(4, {"unreachable": 3}, 0, NOW, False)
    assert poller.offline == frozenset()
    assert recorder.availability == [("main-meter", False), ("main-meter", True)]


def test_impossible_values_are_counted_and_never_submitted(
    meter_factory: MeterFactory, recorder: Recorder, poller_for: PollerFor
) -> None:
    meter = meter_factory({**SDM630_IMAGE, 0x0034: math.nan, 0x0048: -5.0})
    poller = poller_for(("m", source(meter)))
    assert poller.poll_once("m") == []
    assert recorder.readings == []
    assert poller.stats("m") == MeterStats(1, {"value": 2}, 0, NOW, False)


def test_a_user_map_reads_holding_registers_with_types_and_scale(
    meter: MeterServer, poller_for: PollerFor
) -> None:
    registers = [
        RegisterSpec(name="volts", address=HOLDING_START, register="holding", type="uint16"),
        RegisterSpec.model_validate(
            {"name": "wh", "address": HOLDING_START + 2, "register": "holding"}
            | {"type": "uint32", "scale": 0.001, "metric": "energy", "unit": "kWh"}
        ),
    ]
    poller = poller_for(("m", source(meter, map=None, registers=registers)))
    assert poller.poll_once("m") == [Reading("m", "energy", NOW, 123.456, NOW)]


def test_an_unmapped_register_counts_the_exception_code_kind(
    meter: MeterServer, poller_for: PollerFor
) -> None:
    registers = [{"name": "e", "address": 0x2000, "metric": "energy"}]
    poller = poller_for(("m", source(meter, map=None, registers=registers)))
    assert poller.poll_once("m") == []
    assert poller.stats("m").errors == {"exception": 1}


def test_the_loop_polls_every_meter_on_its_interval_until_stopped(
    meter: MeterServer, recorder: Recorder, poller_for: PollerFor
) -> None:
    meters = [("a", source(meter, interval="50ms")), ("b", source(meter, interval="50ms"))]
    poller = poller_for(*meters)
    poller.start()
    until(lambda: poller.stats("a").polls >= 3 and poller.stats("b").polls >= 3, timeout=10)
    poller.stop()
    polls = poller.stats("a").polls
    assert {r.device for r in recorder.readings} == {"a", "b"}
    assert poller.stats("a").errors == {}
    time.sleep(0.2)
    assert poller.stats("a").polls == polls


def test_the_loop_survives_a_submit_that_raises(meter: MeterServer, poller_for: PollerFor) -> None:
    def submit(reading: Reading) -> None:
        raise RuntimeError("store is full")

    poller = poller_for(("m", source(meter, interval="20ms")), submit=submit)
    poller.start()
    until(lambda: poller.stats("m").errors.get("internal", 0) >= 3, timeout=10)
    poller.stop()
    assert poller.stats("m").consecutive_failures == 0


def test_a_device_id_twice_is_refused(meter: MeterServer, poller_for: PollerFor) -> None:
    with pytest.raises(ValueError, match="twice"):
        poller_for(("m", source(meter)), ("m", source(meter)))
