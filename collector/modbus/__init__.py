"""Modbus TCP meters: register maps as data, pure decoding, one pymodbus adapter, a poller."""

from collector.modbus.client import ModbusReader, Reader, open_reader
from collector.modbus.decode import ReadRequest, decode, plan_reads, values_from
from collector.modbus.errors import BadResponse, MeterError, MeterUnreachable, ModbusError
from collector.modbus.poller import MeterStats, Poller, read_values, readings_from
from collector.modbus.registers import (
    MAPS,
    SDM120,
    SDM630,
    ModbusSource,
    RegisterMap,
    RegisterSpec,
)

__all__ = [
    "MAPS",
    "SDM120",
    "SDM630",
    "BadResponse",
    "MeterError",
    "MeterStats",
    "MeterUnreachable",
    "ModbusError",
    "ModbusReader",
    "ModbusSource",
    "Poller",
    "ReadRequest",
    "Reader",
    "RegisterMap",
    "RegisterSpec",
    "decode",
    "open_reader",
    "plan_reads",
    "read_values",
    "readings_from",
    "values_from",
]
