"""Fixtures: pymodbus's own server on loopback (tests/support/modbus.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest

from tests.support.modbus import (
    HOLDING,
    HOLDING_START,
    IMAGE_SIZE,
    SDM630_IMAGE,
    UNIT,
    MeterServer,
    float_words,
    input_words,
)

__all__ = [
    "HOLDING",
    "HOLDING_START",
    "IMAGE_SIZE",
    "SDM630_IMAGE",
    "UNIT",
    "MeterServer",
    "float_words",
    "input_words",
]

MeterFactory = Callable[[Mapping[int, float]], MeterServer]


@pytest.fixture
def meter_factory() -> Iterator[MeterFactory]:
    started: list[MeterServer] = []

    def start(image: Mapping[int, float]) -> MeterServer:
        server = MeterServer(image)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def meter(meter_factory: MeterFactory) -> MeterServer:
    return meter_factory(SDM630_IMAGE)
