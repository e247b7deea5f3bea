"""Zigbee2MQTT (door contacts, temperature/humidity and leak sensors): ``<base>/<friendly_name>``.

Every message carries the device's whole cached state, and the bridge republishes all of them when
it restarts: repeats are expected here and removed downstream. Messages carry no time of their own
(``last_seen`` is off by default), so ``ts`` is the time of receipt.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from collector.config import DeviceConfig
from collector.formats.base import (
    Message,
    Parsed,
    decode,
    lookup,
    measure,
    mqtt_source,
    nothing_for,
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
    ts = message.received_at
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
