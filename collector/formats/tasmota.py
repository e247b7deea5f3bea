"""Tasmota (smart plugs, power monitors, ESP boards with probes): ``tele/<topic>/SENSOR`` and LWT.

SENSOR carries ``ENERGY`` (Total kWh, Power W) and temperature probes under their sensor's name.
Its ``Time`` is the device's local time without an offset (devices.md), resolved with the site's
zone; at a DST change, to the instant closest to its receipt (``_local_time``). Only the default
FullTopic ``%prefix%/%topic%/`` with prefix ``tele`` is read.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from collector.config import DeviceConfig
from collector.formats.base import (
    Message,
    Parsed,
    decode,
    device_time,
    measure,
    nothing_for,
    same,
    source_topic,
    text,
)
from collector.models import Rejection

# Probes that measure the device's surroundings; "ESP32" (the chip's own temperature) and
# "Global" (an average over probes) are left out on purpose. Several probes of one type are
# numbered (DS18B20-1, DS18B20-2) or carry their bus address (SHT3X-0x45).
PROBE = re.compile(
    r"(DS18B20|DS18S20|DS18x20|AM2301|DHT11|SHT3X|SHT4X|BME280|BMP280|BME680|SI7021|HTU21|AHT2X)"
    r"(-[0-9A-Za-z]{1,4})?",
    re.ASCII,
)
_AVAILABILITY = {"online": True, "offline": False}
_EPOCH = datetime(1970, 1, 1)  # naive: wall-clock arithmetic before the zone's offset


def subscriptions(device: DeviceConfig) -> list[str]:
    topic = source_topic(device)
    return [f"tele/{topic}/SENSOR", f"tele/{topic}/LWT"]


def shared_topics(device: DeviceConfig) -> list[str]:
    return []  # a Tasmota topic is one device's


def parse(
    device: DeviceConfig, topic: str, payload: bytes, received_at: float, tz: ZoneInfo
) -> list[Parsed]:
    message = Message(device, topic, payload, received_at)
    own = source_topic(device)
    if topic == f"tele/{own}/SENSOR":
        return _sensor(message, tz)
    if topic == f"tele/{own}/LWT":
        online = _AVAILABILITY.get(text(payload))
        if online is None:
            return [message.reject("LWT payload must be Online or Offline")]
        return [message.availability(online)]
    if topic == f"tele/{own}/STATE":
        return []  # uptime and Wi-Fi: nothing we measure
    return [message.reject("not a Tasmota telemetry topic")]


def _sensor(message: Message, tz: ZoneInfo) -> list[Parsed]:
    body = decode(message)
    if isinstance(body, Rejection):
        return [body]
    if not isinstance(body, dict):
        return [message.reject("SENSOR payload must be a JSON object")]
    ts = _time(message, body.get("Time"), tz)
    if isinstance(ts, Rejection):
        return [ts]
    energy = body.get("ENERGY")
    results = _energy(message, energy, ts) if isinstance(energy, dict) else []
    probe = next((body[key] for key in body if PROBE.fullmatch(key)), None)
    if isinstance(probe, dict):
        results += _probe(message, probe, body.get("TempUnit", "C"), ts)
    if not results:
        return [nothing_for(message, "ENERGY or temperature probe")]
    return results


def _time(message: Message, raw: object, tz: ZoneInfo) -> float | Rejection:
    if raw is None:
        return message.received_at
    if not isinstance(raw, str):
        return message.reject(f"Time must be a string, not {type(raw).__name__}")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return message.reject(f"Time {raw[:40]!r} is not ISO 8601")
    # An offset is present only with SetOption52, and then used as sent.
    try:
        if parsed.tzinfo is not None:
            ts = parsed.timestamp()
        else:
            ts = _local_time(parsed, tz, message.received_at)
    except (OverflowError, ValueError, OSError):
        return message.received_at
    return device_time(ts, message.received_at)


def _local_time(wall: datetime, tz: ZoneInfo, received_at: float) -> float:
    """The instant a wall-clock time without offset names in ``tz``, in unix seconds.

    Where the wall time is ambiguous (the hour repeated when summer time ends) or does not exist
    (the hour skipped when it starts: the device's clock changed late or early), its two readings
    (PEP 495 fold=0 and fold=1: the offset before and after the change) are both candidates, and
    the one closest to the time of receipt wins. Tasmota stamps a message as it sends it, so this
    is right unless delivery took over half an hour; a tie goes to the earlier instant, as a
    message arrives after it is sent. Deterministic in (wall, tz, received_at).
    """
    naive = (wall - _EPOCH).total_seconds()
    candidates = {naive - offset for offset in _offsets(tz, wall.replace(second=0, microsecond=0))}
    return min(candidates, key=lambda ts: (abs(ts - received_at), ts))


@lru_cache(maxsize=4096)
def _offsets(tz: ZoneInfo, minute: datetime) -> frozenset[float]:
    # Zone offsets change only on whole minutes: every device's message of that minute shares
    # one lookup (a quarter of parsing a SENSOR message was this, uncached).
    return frozenset(_offset(minute.replace(tzinfo=tz, fold=fold)) for fold in (0, 1))


def _offset(aware: datetime) -> float:
    offset = aware.utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def _energy(message: Message, energy: dict[object, object], ts: float) -> list[Parsed]:
    results: list[Parsed] = []
    for key, metric in (("Total", "energy"), ("Power", "power")):
        if key in energy:
            raw = _channels(energy[key])
            results += measure(message, metric, raw, f"ENERGY.{key}", ts)
    return results


def _channels(raw: object) -> object:
    # Multi-channel and three-phase builds send one value per channel, e.g. "Power":[45,12];
    # the device's reading is their sum.
    if isinstance(raw, list) and raw and all(_is_number(value) for value in raw):
        return sum(raw)
    return raw


def _is_number(raw: object) -> bool:
    return isinstance(raw, int | float) and not isinstance(raw, bool)


def _probe(message: Message, probe: dict[object, object], unit: object, ts: float) -> list[Parsed]:
    results: list[Parsed] = []
    if "Temperature" in probe and message.device.accepts("temperature"):
        if unit not in ("C", "F"):
            return [message.reject("TempUnit must be C or F")]
        convert = _celsius if unit == "F" else same
        results += measure(message, "temperature", probe["Temperature"], "Temperature", ts, convert)
    if "Humidity" in probe:
        results += measure(message, "humidity", probe["Humidity"], "Humidity", ts)
    return results


def _celsius(fahrenheit: float) -> float:
    return (fahrenheit - 32.0) * 5.0 / 9.0
