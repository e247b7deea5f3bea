"""How a site declares its devices (the ``devices:`` list of the site YAML)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DeviceKind = Literal[
    "power_meter", "water_meter", "temperature", "humidity", "door", "access_reader"
]

# The metrics each kind of device may publish; anything else is quarantined as an unknown metric.
KIND_METRICS: dict[str, frozenset[str]] = {
    "power_meter": frozenset({"energy", "power"}),
    "water_meter": frozenset({"water", "battery"}),
    "temperature": frozenset({"temperature", "humidity", "battery"}),
    "humidity": frozenset({"humidity", "temperature", "battery"}),
    "door": frozenset({"contact", "battery"}),
    "access_reader": frozenset({"contact", "battery"}),
}

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(Strict):
    building: str | None = None
    floor: str | None = None
    room: str | None = None
    department: str | None = None


class Source(Strict):
    format: Literal["native"] = "native"
    topic: str | None = None


class DeviceConfig(Strict):
    id: str = Field(pattern=_ID)
    name: str | None = None
    kind: DeviceKind
    location: Location = Location()
    source: Source = Source()

    @property
    def label(self) -> str:
        return self.name or self.id

    def accepts(self, metric: str) -> bool:
        return metric in KIND_METRICS[self.kind]


ID_PATTERN = _ID
