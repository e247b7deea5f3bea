"""Shelly Gen2+ (Plus/Pro PM relays, EM, Pro 3EM): ``<id>/status/<component>`` and ``<id>/online``.

A device is one channel of a Shelly (``source.channel``, default 0). Energy counters arrive in Wh
and are stored in kWh (devices.md: a known bug source). The status topics carry no time; JSON-RPC
``NotifyStatus`` frames on ``<id>/events/rpc`` carry ``params.ts`` and only the fields that
changed. A device with both enabled reports a value on both: repeats are removed downstream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from collector.config import DeviceConfig
from collector.formats.base import (
    Message,
    Parsed,
    decode,
    device_time,
    lookup,
    measure,
    mqtt_source,
    nothing_for,
    number,
    same,
    source_topic,
    text,
)
from collector.models import Rejection


def _kwh(wh: float) -> float:
    return wh / 1000.0


@dataclass(frozen=True, slots=True)
class Field:
    path: tuple[str, ...]
    metric: str
    convert: Callable[[float], float] = same


# A device is one meter: one channel of a Shelly (source.channel, default 0), whose components are
# named <kind>:<channel>. A Pro 4PM is four devices with the same topic and channels 0-3; they share
# the Shelly's online and events/rpc topics. pm1 is the Plus PM Mini's meter, em/emdata the Pro
# 3EM's three-phase totals, em1/em1data one channel of a Pro EM or of a Pro 3EM set to monophase.
COMPONENTS: dict[str, tuple[Field, ...]] = {
    "switch": (Field(("apower",), "power"), Field(("aenergy", "total"), "energy", _kwh)),
    "pm1": (Field(("apower",), "power"), Field(("aenergy", "total"), "energy", _kwh)),
    "em": (Field(("total_act_power",), "power"),),
    "emdata": (Field(("total_act",), "energy", _kwh),),
    "em1": (Field(("act_power",), "power"),),
    "em1data": (Field(("total_act_energy",), "energy", _kwh),),
}
_NOTIFICATIONS = ("NotifyStatus", "NotifyFullStatus")
_AVAILABILITY = {"true": True, "false": False}


def _channel(device: DeviceConfig) -> int:
    return mqtt_source(device).channel or 0


def _components(device: DeviceConfig) -> list[str]:
    """The components the device reads, e.g. ``switch:1``, ``em1:1``... for channel 1."""
    return [f"{kind}:{_channel(device)}" for kind in COMPONENTS]


def shared_topics(device: DeviceConfig) -> list[str]:
    own = source_topic(device)
    return [f"{own}/online", f"{own}/events/rpc"]


def subscriptions(device: DeviceConfig) -> list[str]:
    own = source_topic(device)
    return [*shared_topics(device), *(f"{own}/status/{name}" for name in _components(device))]


def parse(
    device: DeviceConfig, topic: str, payload: bytes, received_at: float, tz: ZoneInfo
) -> list[Parsed]:
    message = Message(device, topic, payload, received_at)
    own = source_topic(device)
    if topic == f"{own}/online":
        online = _AVAILABILITY.get(text(payload))
        if online is None:
            return [message.reject("online payload must be true or false")]
        return [message.availability(online)]
    if topic == f"{own}/events/rpc":
        return _rpc(message)
    status, channel = f"{own}/status/", _channel(device)
    component = topic[len(status) :]
    fields = _fields(component, channel) if topic.startswith(status) else None
    if fields is None:
        return [message.reject(f"not a Shelly status topic of channel {channel}")]
    return _status(message, component, fields)


def _fields(component: str, channel: int) -> tuple[Field, ...] | None:
    """What is read from ``component`` (``em1:1``), or None if it is not one of the channel's."""
    kind, _, index = component.partition(":")
    return COMPONENTS.get(kind) if index == str(channel) else None


def _status(message: Message, component: str, fields: tuple[Field, ...]) -> list[Parsed]:
    body = decode(message)
    if isinstance(body, Rejection):
        return [body]
    if not isinstance(body, dict):
        return [message.reject(f"{component} status must be a JSON object")]
    results = _component(message, component, fields, body, message.received_at)
    if not results:
        names = " or ".join(".".join(field.path) for field in fields)
        return [nothing_for(message, f"{names} in {component}")]
    return results


def _rpc(message: Message) -> list[Parsed]:
    body = decode(message)
    if isinstance(body, Rejection):
        return [body]
    if lookup(body, ("method",)) not in _NOTIFICATIONS:
        return []  # NotifyEvent (button presses, updates), RPC replies: nothing we measure
    params = lookup(body, ("params",))
    if not isinstance(params, dict):
        return [message.reject("NotifyStatus needs params")]
    raw_ts = number(params.get("ts"))
    if raw_ts is None:
        return [message.reject("NotifyStatus params.ts must be a finite number")]
    ts = device_time(raw_ts, message.received_at)
    own = _channel(message.device)
    results: list[Parsed] = []
    # A notification names only what changed, and other channels' components are other devices'.
    for component, status in params.items():
        fields = _fields(component, own)
        if fields is None:
            continue
        if not isinstance(status, dict):
            results.append(message.reject(f"{component} must be a JSON object"))
            continue
        results += _component(message, component, fields, status, ts)
    return results


def _component(
    message: Message,
    component: str,
    fields: tuple[Field, ...],
    status: dict[object, object],
    ts: float,
) -> list[Parsed]:
    results: list[Parsed] = []
    for field in fields:
        raw = lookup(status, field.path)
        if raw is not None:
            name = ".".join((component, *field.path))
            results += measure(message, field.metric, raw, name, ts, field.convert)
    return results
