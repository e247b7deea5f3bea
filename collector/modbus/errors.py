"""What can go wrong talking to a Modbus meter, as one hierarchy.

    ModbusError                 (every failure of one read; ``kind`` names it in counters)
    ├── MeterUnreachable        no connection, connection lost, or no answer within the timeout
    ├── MeterError              the meter answered with a Modbus exception (``code``, e.g. 2)
    └── BadResponse             an answer that is not what was asked (wrong count, garbled PDU)

pymodbus's own exceptions are translated in ``collector.modbus.client`` and nowhere else.
"""

from __future__ import annotations

__all__ = ["BadResponse", "MeterError", "MeterUnreachable", "ModbusError"]


class ModbusError(Exception):
    kind = "error"


class MeterUnreachable(ModbusError):
    kind = "unreachable"

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"{host}:{port} unreachable: {reason}")
        self.host = host
        self.port = port
        self.reason = reason


class MeterError(ModbusError):
    """A Modbus exception response; codes are the standard's (1 illegal function, 2 illegal
    data address, 3 illegal data value, 4 device failure, 6 busy, 0x0B gateway no response)."""

    kind = "exception"

    def __init__(self, code: int, function: int, start: int, count: int) -> None:
        super().__init__(
            f"exception code {code} for function {function} at {start:#06x} (+{count})"
        )
        self.code = code
        self.function = function
        self.start = start
        self.count = count


class BadResponse(ModbusError):
    kind = "response"
