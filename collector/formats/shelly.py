"""Shelly Gen2+ (Plus/Pro PM relays, EM, Pro 3EM): ``<id>/status/<component>`` and ``<id>/online``.

Energy counters arrive in Wh and are stored in kWh (devices.md: a known bug source). The status
topics carry no time; JSON-RPC ``NotifyStatus`` frames on ``<id>/events/rpc`` carry ``params.ts``
and only the fields that changed. A device with both enabled reports a value on both: repeats are
removed downstream.
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


# Channel 0 only: a device is one meter here, and channels 1.. of a Pro 4PM or Pro EM-50 would give
# it a second value for the same metric at the same time. pm1 is the Plus PM Mini's meter.
COMPONENTS: dict[str, tuple[Field, ...]] = {
    "switch:0": (Field(("apower",), "power"), Field(("aenergy", "total"), "energy", _kwh)),
    "pm1:0": (Field(("apower",), "power"), Field(("aenergy", "total"), "energy", _kwh)),
    "em:0": (Field(("total_act_power",), "power"),),
    "emdata:0": (Field(("total_act",), "energy", _kwh),),
    "em1:0": (Field(("act_power",), "power"),),
    "em1data:0": (Field(("total_act_energy",), "energy", _kwh),),
}
_NOTIFICATIONS = ("NotifyStatus", "NotifyFullStatus")
_AVAILABILITY = {"true": True, "false": False}


def subscriptions(device: DeviceConfig) -> list[str]:
    own = source_topic(device)
    return [
        f"{own}/online",
        f"{own}/events/rpc",
        *(f"{own}/status/{component}" for component in COMPONENTS),
    ]


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
    status = f"{own}/status/"
    if topic.startswith(status) and topic[len(status) :] in COMPONENTS:
        return _status(message, topic[len(status) :])
    return [message.reject("not a Shelly status topic")]


def _status(message: Message, component: str) -> list[Parsed]:
    body = decode(message)
    if isinstance(body, Rejection):
        return [body]
    if not isinstance(body, dict):
        return [message.reject(f"{component} status must be a JSON object")]
    results = _component(message, component, body, message.received_at)
    if not results:
        names = " or ".join(".".join(field.path) for field in COMPONENTS[component])
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
    results: list[Parsed] = []
    # A notification names only what changed: a component without our fields is not an error.
    for component, status in params.items():
        if component not in COMPONENTS:
            continue
        if not isinstance(status, dict):
            results.append(message.reject(f"{component} must be a JSON object"))
            continue
        results += _component(message, component, status, ts)
    return results


def _component(
    message: Message, component: str, status: dict[object, object], ts: float
) -> list[Parsed]:
    results: list[Parsed] = []
    for field in COMPONENTS[component]:
        raw = lookup(status, field.path)
        if raw is not None:
            name = ".".join((component, *field.path))
            results += measure(message, field.metric, raw, name, ts, field.convert)
    return results
