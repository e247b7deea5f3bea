"""The one adapter over pymodbus: read registers from a Modbus TCP meter, or raise our errors.

pymodbus moves its API between minor versions (3.10 renamed ``slave=`` to ``device_id=``), so it
is pinned in ``pyproject.toml`` and imported here only; its exceptions and error responses become
the ``collector.modbus.errors`` hierarchy at this boundary.
"""

from __future__ import annotations

from typing import Protocol

from pymodbus import ExceptionResponse, ModbusException
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException

from collector.modbus.errors import BadResponse, MeterError, MeterUnreachable
from collector.modbus.registers import ModbusSource, RegisterType

__all__ = ["ModbusReader", "Reader", "open_reader"]


class Reader(Protocol):
    def read(self, register_type: RegisterType, start: int, count: int) -> list[int]: ...

    def close(self) -> None: ...


class ModbusReader:
    """Reads from one device id behind one host; reconnects on the next read after a loss."""

    def __init__(
        self, host: str, port: int = 502, *, unit: int = 1, timeout: float = 3.0, retries: int = 2
    ) -> None:
        self.host = host
        self.port = port
        self.unit = unit
        # pymodbus retries a request that times out; a refused connection fails at once.
        self._client = ModbusTcpClient(host, port=port, timeout=timeout, retries=retries)

    def read(self, register_type: RegisterType, start: int, count: int) -> list[int]:
        function = 4 if register_type == "input" else 3
        try:
            if register_type == "input":
                response = self._client.read_input_registers(
                    start, count=count, device_id=self.unit
                )
            else:
                response = self._client.read_holding_registers(
                    start, count=count, device_id=self.unit
                )
        except (ConnectionException, ModbusIOException, OSError) as exc:
            # Drop the socket: a late answer to a timed-out request must not meet the next one.
            self.close()
            raise MeterUnreachable(self.host, self.port, str(exc)) from exc
        except ModbusException as exc:
            self.close()
            raise BadResponse(str(exc)) from exc
        if isinstance(response, ExceptionResponse):
            raise MeterError(response.exception_code, function, start, count)
        words = list(response.registers)
        if response.isError() or len(words) != count:
            raise BadResponse(f"asked {count} registers at {start:#06x}, got {response}")
        return words

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


def open_reader(source: ModbusSource) -> ModbusReader:
    return ModbusReader(
        source.host,
        source.port,
        unit=source.unit,
        timeout=source.timeout.total_seconds(),
        retries=source.retries,
    )
