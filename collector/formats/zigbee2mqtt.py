"""Zigbee2MQTT (door contacts, temperature/humidity and leak sensors): ``<base>/<friendly_name>``.

Every message carries the device's whole cached state, and the bridge republishes all of them when
it restarts: repeats are expected here and removed downstream. With the bridge's
``advanced.last_seen`` set, a message carries when the bridge last heard from the device (ISO 8601
in UTC or with the bridge's offset, or epoch milliseconds): that is ``ts`` when plausible, else the
time of receipt, which is also ``ts`` when ``last_seen`` is off (the default). A republished state
then keeps its own time, so it is recognised downstream as the repeat it is.
"""

from __future__ import annotations

from datetime import datetime
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
    source_topic,
    text,
)
from collector.models import Rejection

DEFAULT_BASE = "zigbee2mqtt"
# Attributes read as they are; "contact" is handled apart (a boolean, inverted). "water_leak" is
# not read: no metric takes a leak yet, and rejecting it would quarantine every leak sensor.
NUMBERS = ("temperature", "humidity", "battery")
_AVAILABILITY = {"online": True, "offline": False}


def subscriptions(device: DeviceConfig) -> list[str]:
    state = _state_topic(device)
    return [state, f"{state}/availability"]


def shared_topics(device: DeviceConfig) -> list[str]:
    return []  # a friendly name is one device's


def parse(
    device: DeviceConfig, topic: str, payload: bytes, received_at: float, tz: ZoneInfo
) -> list[Parsed]:
    message = Message(device, topic, payload, received_at)
    state = _state_topic(device)
    if topic == state:
        return _state(message)
    if topic == f"{state}/availability":
        return _availability(message)
    return [message.reject("not a Zigbee2MQTT device topic")]


def _state_topic(device: DeviceConfig) -> str:
    return f"{mqtt_source(device).base or DEFAULT_BASE}/{source_topic(device)}"


def _state(message: Message) -> list[Parsed]:
    body = decode(message)
    if isinstance(body, Rejection):
        return [body]
    if not isinstance(body, dict):
        return [message.reject("state payload must be a JSON object")]
    ts = _last_seen(message, body.get("last_seen"))
    if isinstance(ts, Rejection):
        return [ts]
    results: list[Parsed] = []
    # null means "not reported yet" (e.g. just after pairing), not a broken value.
    for name in NUMBERS:
        if body.get(name) is not None:
            results += measure(message, name, body[name], name, ts)
    if body.get("contact") is not None and message.device.accepts("contact"):
        results += _contact(message, body["contact"], ts)
    if not results:
        wanted = [name for name in (*NUMBERS, "contact") if message.device.accepts(name)]
        return [nothing_for(message, " or ".join(wanted) or "reading")]
    return results


def _last_seen(message: Message, raw: object) -> float | Rejection:
    """The bridge's ``advanced.last_seen``: ISO_8601 (UTC, ``...Z``), ISO_8601_local (with the
    bridge's offset) or epoch (milliseconds); the time of receipt when off or implausible."""
    if raw is None:
        return message.received_at
    ts = _iso_8601(message, raw) if isinstance(raw, str) else _epoch_ms(message, raw)
    if isinstance(ts, Rejection):
        return ts
    # A bridge whose clock is not set: its values are still good, stamped on receipt.
    return device_time(ts, message.received_at)


def _iso_8601(message: Message, raw: str) -> float | Rejection:
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return message.reject(f"last_seen {raw[:40]!r} is not ISO 8601")
    if parsed.tzinfo is None:
        return message.reject(f"last_seen {raw[:40]!r} has no UTC offset")
    return parsed.timestamp()


def _epoch_ms(message: Message, raw: object) -> float | Rejection:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        kind = type(raw).__name__
        return message.reject(f"last_seen must be ISO 8601 or epoch milliseconds, not {kind}")
    ms = number(raw)
    if ms is None:
        return message.reject("last_seen is not a finite number")
    return ms / 1000.0


def _contact(message: Message, raw: object, ts: float) -> list[Parsed]:
    if not isinstance(raw, bool):
        return [message.reject(f"contact must be true or false, not {type(raw).__name__}")]
    # contact: true means the magnet is at the reed switch, i.e. the door is CLOSED; our contact
    # metric is 1 = open (devices.md).
    return measure(message, "contact", 0.0 if raw else 1.0, "contact", ts)


def _availability(message: Message) -> list[Parsed]:
    # {"state": "online"}; older bridges (the legacy availability payload) send plain online.
    state: object = text(message.payload)
    if state not in _AVAILABILITY:
        state = lookup(decode(message), ("state",))
    online = _AVAILABILITY.get(state) if isinstance(state, str) else None
    if online is None:
        return [message.reject('availability must be online/offline or {"state": "online"}')]
    return [message.availability(online)]
