"""What every device format shares: the result types and the checks every value passes.

A format is a module with ``subscriptions(device)``, ``shared_topics(device)`` and ``parse(device,
topic, payload, received_at, tz)`` (the ``Format`` protocol). Parsing returns values and never
raises: a value that cannot become a reading comes back as a ``Rejection`` beside the readings of
the same message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from collector.config import DeviceConfig, Source
from collector.models import METRICS, AccessEvent, Reading, Rejection
from collector.native import EARLIEST_TS, KEEP_REJECTED, MAX_FUTURE_S, MAX_PAYLOAD
from collector.payload import load_json


@dataclass(frozen=True, slots=True)
class Availability:
    """A device reported itself online or offline (a retained last will: it may be old news)."""

    device: str
    online: bool
    received_at: float


Parsed = Reading | AccessEvent | Rejection | Availability


class Format(Protocol):
    def subscriptions(self, device: DeviceConfig) -> list[str]: ...

    def shared_topics(self, device: DeviceConfig) -> list[str]:
        """Subscriptions that other devices may read too (one Shelly, a device per channel);
        any other topic read by two devices is a site-YAML mistake."""
        ...

    def parse(
        self, device: DeviceConfig, topic: str, payload: bytes, received_at: float, tz: ZoneInfo
    ) -> list[Parsed]: ...


def same(value: float) -> float:
    return value


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message for one device: what a reading or a rejection is made from."""

    device: DeviceConfig
    topic: str
    payload: bytes
    received_at: float

    def reject(self, reason: str) -> Rejection:
        # Keep enough to diagnose; a flood of huge payloads must not fill the agent's disk.
        payload = self.payload[:KEEP_REJECTED]
        return Rejection(self.topic, payload, reason, self.received_at, self.device.id)

    def availability(self, online: bool) -> Availability:
        return Availability(self.device.id, online, self.received_at)


def mqtt_source(device: DeviceConfig) -> Source:
    """The device's MQTT source; only MQTT devices are routed to a format parser."""
    if not isinstance(device.source, Source):
        raise TypeError(f"{device.id} is not an MQTT device")
    return device.source


def source_topic(device: DeviceConfig) -> str:
    # Source requires a topic for every format but native; the id is only a typing fallback.
    return mqtt_source(device).topic or device.id


def decode(message: Message) -> object:
    """The JSON document of the payload, or a ``Rejection`` saying why there is none."""
    if len(message.payload) > MAX_PAYLOAD:
        return message.reject(f"payload of {len(message.payload)} bytes is over {MAX_PAYLOAD}")
    try:
        return load_json(message.payload)
    except UnicodeDecodeError:
        return message.reject("payload is not UTF-8")
    except (ValueError, RecursionError) as error:
        return message.reject(f"not JSON: {error}"[:200])


def text(payload: bytes) -> str:
    """A short plain-text payload (``Online``, ``true``), lower-cased; "" if it is not UTF-8."""
    try:
        return payload[:64].decode("utf-8-sig").strip().lower()
    except UnicodeDecodeError:
        return ""


def device_time(ts: float, received_at: float) -> float:
    """The device's own time when plausible, else the time of receipt.

    A device whose clock is not set yet (Tasmota before NTP says 1970-01-01) still measures
    correctly: keep its values, stamped with the agent's clock, rather than reject them.
    """
    return ts if EARLIEST_TS <= ts <= received_at + MAX_FUTURE_S else received_at


def lookup(document: object, path: tuple[str, ...]) -> object:
    """``document[path[0]][path[1]]...``, or None where a level is missing or not an object."""
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def number(raw: object) -> float | None:
    """A finite JSON number as a float, else None (a bool is not a number here)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        value = float(raw)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def measure(
    message: Message,
    metric: str,
    raw: object,
    name: str,
    ts: float,
    convert: Callable[[float], float] = same,
) -> list[Parsed]:
    """The reading of ``metric`` from the raw value named ``name`` in the payload, in our units.

    Nothing when the device's kind has no such metric (a plug's chip temperature is no reading).
    """
    if not message.device.accepts(metric):
        return []
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return [message.reject(f"{name} must be a number, not {type(raw).__name__}")]
    try:
        value = convert(float(raw))
    except OverflowError:
        return [message.reject(f"{name} is too large")]
    if not math.isfinite(value):
        return [message.reject(f"{name} is not finite")]
    spec = METRICS[metric]
    if not spec.low <= value <= spec.high:
        bounds = f"{spec.low:g}..{spec.high:g}"
        return [message.reject(f"{name}: {metric} {value:g} {spec.unit} is outside {bounds}")]
    return [Reading(message.device.id, metric, ts, value, message.received_at)]


def nothing_for(message: Message, what: str) -> Rejection:
    return message.reject(f"no {what} for a {message.device.kind} device in the message")
