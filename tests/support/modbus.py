"""pymodbus's own server on loopback, serving a known SDM630 register image."""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Mapping

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from tests.support.ports import free_port

UNIT = 1
# What the meter measures, as float32 big-endian at the SDM630 input register addresses.
SDM630_IMAGE: dict[int, float] = {
    0x0000: 230.1,
    0x0002: 229.8,
    0x0004: 231.0,
    0x0006: 12.5,
    0x0008: 11.0,
    0x000A: 9.5,
    0x000C: 950.1,
    0x000E: 1000.0,
    0x0010: 925.2,
    0x0034: 2875.3,
    0x0046: 50.0,
    0x0048: 12345.6,
    0x004A: 0.0,
}
IMAGE_SIZE = 0x004C
HOLDING_START = 0x0100
HOLDING = [2301, 0xFFFF, 0x0001, 0xE240]  # uint16 230.1 V ×10, int16 -1, uint32 123456 Wh


def float_words(value: float) -> list[int]:
    return list(struct.unpack(">HH", struct.pack(">f", value)))


def input_words(image: Mapping[int, float]) -> list[int]:
    words = [0] * IMAGE_SIZE
    for address, value in image.items():
        words[address : address + 2] = float_words(value)
    return words


class MeterServer:
    """A ModbusTcpServer in its own thread and event loop; can stop and start again on its port."""

    def __init__(self, image: Mapping[int, float]) -> None:
        self.port = free_port()
        bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
        holding = SimData(HOLDING_START, values=HOLDING, datatype=DataType.REGISTERS)
        inputs = SimData(0, values=input_words(image), datatype=DataType.REGISTERS)
        self._device = SimDevice(UNIT, simdata=(bits, list(bits), [holding], [inputs]))
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusTcpServer | None = None

    def start(self) -> None:
        self._ready.clear()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), f"no Modbus server on port {self.port}"

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = ModbusTcpServer(self._device, address=("127.0.0.1", self.port))
        # Not wait_listening: its probe connection, accepted while a test already stops the
        # server, leaks a socket in asyncio. serve_forever(background=True) returns once listening.
        await self._server.serve_forever(background=True)
        self._ready.set()
        await self._server.serving

    def stop(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            return
        assert self._loop is not None and self._server is not None
        asyncio.run_coroutine_threadsafe(
            self._server.shutdown(),  # type: ignore[no-untyped-call]
            self._loop,
        ).result(10)
        self._thread.join(10)
