"""How a site declares its devices (the ``devices:`` list of the site YAML)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from collector.modbus.registers import ModbusSource

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
RESERVED_DEVICE_ID = "alarms"  # the topic segment of the agent's alarm states (collector.native)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(Strict):
    building: str | None = None
    floor: str | None = None
    room: str | None = None
    department: str | None = None


FormatName = Literal["native", "tasmota", "zigbee2mqtt", "shelly"]
# A topic name, not a filter: a wildcard would subscribe to other devices' messages (MQTT 3.1.1
# section 4.7). No empty level at either end, no control characters; a Zigbee2MQTT friendly name
# may contain "/" and spaces.
_TOPIC = re.compile(r"[^+#/\s\x00-\x1f\x7f][^+#\x00-\x1f\x7f]{0,127}(?<![/\s])")


class Source(Strict):
    """Where a device publishes: ``topic`` is the device's own name (Tasmota topic, Zigbee2MQTT
    friendly name, Shelly device id); ``base`` is Zigbee2MQTT's base topic (default zigbee2mqtt);
    ``channel`` is the Shelly component id the device is (``switch:1`` of a Pro 4PM; default 0)."""

    format: FormatName = "native"
    topic: str | None = None
    base: str | None = None
    channel: int | None = Field(default=None, ge=0)

    @field_validator("topic", "base")
    @classmethod
    def _topic_name(cls, value: str | None) -> str | None:
        if value is not None and not _TOPIC.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a topic name (1-128 characters, no + or #, "
                "no leading or trailing / or space)"
            )
        return value

    @field_validator("channel", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        # YAML 1.1 reads `channel: on` as true, which int validation would take for channel 1.
        if isinstance(value, bool):
            raise ValueError("channel is a component id (0, 1, ...), not true or false")
        return value

    @model_validator(mode="after")
    def _topic_for_format(self) -> Source:
        if self.format != "native" and self.topic is None:
            raise ValueError(f"format {self.format} needs source.topic (the device's own name)")
        if self.base is not None and self.format != "zigbee2mqtt":
            raise ValueError("source.base applies only to format zigbee2mqtt")
        if self.channel is not None and self.format != "shelly":
            raise ValueError("source.channel applies only to format shelly")
        return self


def _source_format(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("format", "native"))
    return str(getattr(value, "format", "native"))


AnySource = Annotated[
    Annotated[Source, Tag("mqtt")] | Annotated[ModbusSource, Tag("modbus")],
    Discriminator(lambda v: "modbus" if _source_format(v) == "modbus" else "mqtt"),
]


class CounterSpec(Strict):
    """What a cumulative meter can physically do (energy.md): a rise faster than
    ``max_rate_per_hour`` (kW for kWh, m³/h for m³) is an impossible jump; ``rollover_at`` is where
    its register wraps to zero; a drop of at most ``jitter`` is noise."""

    max_rate_per_hour: float | None = Field(default=None, gt=0)
    rollover_at: float | None = Field(default=None, gt=0)
    jitter: float = Field(default=0.001, ge=0)


class DeviceConfig(Strict):
    id: str = Field(pattern=_ID)
    name: str | None = None
    kind: DeviceKind
    location: Location = Location()
    source: AnySource = Source()
    counter: CounterSpec = CounterSpec()

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == RESERVED_DEVICE_ID:
            raise ValueError(f"{value!r} is reserved: fw/<site>/{value}/... carries alarm states")
        return value

    @property
    def label(self) -> str:
        return self.name or self.id

    def accepts(self, metric: str) -> bool:
        return metric in KIND_METRICS[self.kind]


ID_PATTERN = _ID
