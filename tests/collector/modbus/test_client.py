"""The pymodbus adapter against pymodbus's own server on loopback: words, or our errors."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from collector.modbus.client import ModbusReader, open_reader
from collector.modbus.errors import MeterError, MeterUnreachable, ModbusError
from collector.modbus.registers import ModbusSource
from tests.collector.modbus.conftest import (
    HOLDING,
    HOLDING_START,
    SDM630_IMAGE,
    UNIT,
    MeterServer,
    float_words,
)
from tests.support.ports import free_port


@pytest.fixture
def reader(meter: MeterServer) -> Iterator[ModbusReader]:
    reader = ModbusReader("127.0.0.1", meter.port, unit=UNIT, timeout=1.0, retries=0)
    yield reader
    reader.close()


@pytest.mark.parametrize("address", [0x0000, 0x0006, 0x0034, 0x0046, 0x0048])
def test_read_returns_the_input_registers_served(reader: ModbusReader, address: int) -> None:
    assert reader.read("input", address, 2) == float_words(SDM630_IMAGE[address])


def test_read_returns_a_run_of_input_registers(reader: ModbusReader) -> None:
    assert reader.read("input", 0x0000, 4) == float_words(230.1) + float_words(229.8)


def test_read_returns_holding_registers(reader: ModbusReader) -> None:
    assert reader.read("holding", HOLDING_START, 4) == HOLDING


@pytest.mark.parametrize(
    ("register_type", "start", "count", "function"),
    [("input", 0x1000, 2, 4), ("input", 0x004A, 4, 4), ("holding", 0x0000, 2, 3)],
)
def test_an_unmapped_address_is_a_meter_error_with_its_exception_code(
    reader: ModbusReader, register_type: str, start: int, count: int, function: int
) -> None:
    with pytest.raises(MeterError) as raised:
        reader.read(register_type, start, count)  # type: ignore[arg-type]
    assert (raised.value.code, raised.value.start, raised.value.count) == (2, start, count)
    assert raised.value.function == function
    assert raised.value.kind == "exception"


def test_nothing_listening_is_unreachable() -> None:
    reader = ModbusReader("127.0.0.1", free_port(), timeout=0.5, retries=0)
    with pytest.raises(MeterUnreachable) as raised:
        reader.read("input", 0, 2)
    reader.close()
    assert (raised.value.host, raised.value.kind) == ("127.0.0.1", "unreachable")
    assert isinstance(raised.value, ModbusError)


def test_a_meter_that_never_answers_is_unreachable_after_its_retries() -> None:
    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        reader = ModbusReader("127.0.0.1", silent.getsockname()[1], timeout=0.2, retries=1)
        started = time.monotonic()
        with pytest.raises(MeterUnreachable, match="No response"):
            reader.read("input", 0, 2)
        reader.close()
    assert 0.3 < time.monotonic() - started < 5


def test_a_stopped_server_is_unreachable_and_a_restarted_one_is_read_again(
    meter: MeterServer, reader: ModbusReader
) -> None:
    assert reader.read("input", 0x0048, 2) == float_words(12345.6)
    meter.stop()
    with pytest.raises(MeterUnreachable):
        reader.read("input", 0x0048, 2)
    with pytest.raises(MeterUnreachable):
        reader.read("input", 0x0048, 2)
    meter.start()
    assert reader.read("input", 0x0048, 2) == float_words(12345.6)


def test_open_reader_takes_its_settings_from_the_config(meter: MeterServer) -> None:
    source = ModbusSource.model_validate(
        {"host": "127.0.0.1", "port": meter.port, "unit": UNIT, "map": "sdm630", "timeout": "1s"}
    )
    reader = open_reader(source)
    assert (reader.host, reader.port, reader.unit) == ("127.0.0.1", meter.port, UNIT)
    assert reader.read("input", 0x0034, 2) == float_words(2875.3)
    reader.close()
