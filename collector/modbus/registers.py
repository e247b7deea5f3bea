"""Register maps as data: which registers a meter has, how to decode them, what they measure.

Eastron SDM630/SDM120 are shipped (``devices.md``); a site can declare its own map in the YAML.
Only registers with a ``metric`` become readings; the others are named values for diagnostics.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from collector.duration import Duration
from collector.models import METRICS

__all__ = [
    "MAPS",
    "SDM120",
    "SDM630",
    "ByteOrder",
    "DataType",
    "ModbusSource",
    "RegisterMap",
    "RegisterSpec",
    "RegisterType",
    "width",
]

RegisterType = Literal["input", "holding"]
DataType = Literal["float32", "int16", "uint16", "int32", "uint32"]
ByteOrder = Literal["big", "little"]

_WIDTH: dict[str, int] = {"float32": 2, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2}


def width(type_: DataType) -> int:
    """Registers (16-bit words) one value of ``type_`` occupies."""
    return _WIDTH[type_]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterSpec(_Strict):
    # ``register`` in YAML; the attribute name would shadow ABCMeta.register on a pydantic model.
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, serialize_by_alias=True
    )

    name: str = Field(min_length=1)
    address: int = Field(ge=0, le=0xFFFF)
    register_type: RegisterType = Field(default="input", alias="register")
    type: DataType = "float32"
    word_order: ByteOrder = "big"
    byte_order: ByteOrder = "big"
    scale: float = 1.0
    metric: str | None = None
    unit: str | None = None

    @property
    def width(self) -> int:
        return width(self.type)

    @model_validator(mode="after")
    def _check(self) -> RegisterSpec:
        if self.address + self.width > 0x10000:
            raise ValueError(f"{self.name}: {self.type} at {self.address:#x} runs past 0xFFFF")
        if not math.isfinite(self.scale) or self.scale == 0:
            raise ValueError(f"{self.name}: scale must be a finite, non-zero number")
        if self.metric is not None:
            if self.metric not in METRICS:
                raise ValueError(f"{self.name}: unknown metric {self.metric!r}")
            # The unit is the one after scaling: a Wh counter with scale 0.001 is kWh.
            expected = METRICS[self.metric].unit
            if self.unit is not None and self.unit != expected:
                raise ValueError(
                    f"{self.name}: {self.metric} is in {expected!r}, not {self.unit!r}"
                    " (use scale to convert)"
                )
        return self


class RegisterMap(_Strict):
    name: str = Field(min_length=1)
    registers: tuple[RegisterSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> RegisterMap:
        names = [r.name for r in self.registers]
        if len(set(names)) != len(names):
            raise ValueError(f"map {self.name}: register names repeat")
        metrics = [r.metric for r in self.registers if r.metric is not None]
        if len(set(metrics)) != len(metrics):
            raise ValueError(f"map {self.name}: a metric is read from two registers")
        return self

    @property
    def metered(self) -> tuple[RegisterSpec, ...]:
        """The registers that become readings."""
        return tuple(r for r in self.registers if r.metric is not None)


def _sdm(name: str, values: list[tuple[str, int, str, str | None]]) -> RegisterMap:
    # Eastron: every value an IEEE-754 float32 in two input registers, big-endian words and bytes.
    return RegisterMap(
        name=name,
        registers=tuple(RegisterSpec(name=n, address=a, unit=u, metric=m) for n, a, u, m in values),
    )


SDM630 = _sdm(
    "sdm630",
    [
        ("l1_voltage", 0x0000, "V", None),
        ("l2_voltage", 0x0002, "V", None),
        ("l3_voltage", 0x0004, "V", None),
        ("l1_current", 0x0006, "A", None),
        ("l2_current", 0x0008, "A", None),
        ("l3_current", 0x000A, "A", None),
        ("l1_power", 0x000C, "W", None),
        ("l2_power", 0x000E, "W", None),
        ("l3_power", 0x0010, "W", None),
        ("total_power", 0x0034, "W", "power"),
        ("frequency", 0x0046, "Hz", None),
        # Import, not "total active energy" (0x0156), which adds export (devices.md).
        ("import_energy", 0x0048, "kWh", "energy"),
        ("export_energy", 0x004A, "kWh", None),
    ],
)

SDM120 = _sdm(
    "sdm120",
    [
        ("voltage", 0x0000, "V", None),
        ("current", 0x0006, "A", None),
        ("power", 0x000C, "W", "power"),
        ("frequency", 0x0046, "Hz", None),
        ("import_energy", 0x0048, "kWh", "energy"),
        ("export_energy", 0x004A, "kWh", None),
    ],
)

MAPS: dict[str, RegisterMap] = {m.name: m for m in (SDM630, SDM120)}


class ModbusSource(_Strict):
    """A Modbus TCP meter as the site YAML declares it: a shipped ``map`` or own ``registers``."""

    format: Literal["modbus"] = "modbus"
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535)
    unit: int = Field(default=1, ge=0, le=255, description="Modbus device (slave) id")
    map: Literal["sdm630", "sdm120"] | None = None
    registers: tuple[RegisterSpec, ...] | None = None
    interval: Duration = timedelta(seconds=10)
    timeout: Duration = timedelta(seconds=3)
    retries: int = Field(default=2, ge=0, le=10)

    @model_validator(mode="after")
    def _check(self) -> ModbusSource:
        if (self.map is None) == (self.registers is None):
            raise ValueError("give exactly one of map (sdm630, sdm120) or registers")
        if self.interval <= timedelta(0) or self.timeout <= timedelta(0):
            raise ValueError("interval and timeout must be positive")
        if self.registers is not None:
            RegisterMap(name="custom", registers=self.registers)  # unique names, at load time
        return self

    @property
    def register_map(self) -> RegisterMap:
        if self.map is not None:
            return MAPS[self.map]
        return RegisterMap(name="custom", registers=self.registers or ())
