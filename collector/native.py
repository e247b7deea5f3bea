"""The native MQTT format (the contract of issue 2).

Reading: ``fw/<site>/<device>/<metric>`` with ``{"ts": <unix s | ISO 8601>, "value": <number>}`` or
a bare number. Access event: ``fw/<site>/<device>/access`` with card, result, direction, reason.
Parsing never raises: anything that is not a valid reading comes back as a ``Rejection``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from collector.config import RESERVED_DEVICE_ID, DeviceConfig
from collector.models import METRICS, AccessEvent, MetricSpec, Reading, Rejection
from collector.payload import load_json

# Device clocks are often wrong, but not by decades; outside this window the time is garbage.
EARLIEST_TS = 946684800.0  # 2000-01-01
# A day: wider than any time-zone mistake (a local time read as UTC is at most 14 h off,
# devices.md), far narrower than a clock that was never set or a year typed wrong.
MAX_FUTURE_S = 86400.0
# One reason for every such reading, so that quarantine counts them together (agent status).
FUTURE = "ts is in the future: more than 1 day ahead of the agent's clock"
MAX_PAYLOAD = 64 * 1024
KEEP_REJECTED = 4096
MAX_BATCH = 1000
# Tuples, not sets: a JSON list or object is unhashable, and `in` on a set would raise.
_RESULTS = ("granted", "denied")
_DIRECTIONS = ("in", "out")


class PayloadError(ValueError):
    """Why a payload was rejected; the message is stored in quarantine."""


# fw/<site>/alarms/<alarm id> carries the agent's own alarm states (for sirens and displays): no
# device may be called that, and the agent does not read back what it publishes there.
ALARMS = RESERVED_DEVICE_ID


def topic_filter(site: str) -> str:
    return f"fw/{site}/+/+"


def alarm_topic(site: str, alarm_id: str) -> str:
    return f"fw/{site}/{ALARMS}/{alarm_id}"


def parse(
    topic: str,
    payload: bytes,
    received_at: float,
    devices: Mapping[str, DeviceConfig],
) -> Reading | AccessEvent | Rejection:
    parts = topic.split("/")
    device_id = parts[2] if len(parts) == 4 else None
    try:
        if len(parts) != 4 or parts[0] != "fw":
            raise PayloadError("topic is not fw/<site>/<device>/<metric>")
        device = devices.get(parts[2])
        if device is None:
            raise PayloadError(f"unknown device {parts[2]!r}")
        if len(payload) > MAX_PAYLOAD:
            raise PayloadError(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
        if parts[3] == "access":
            return _access(device, payload, received_at)
        return _reading(device, parts[3], payload, received_at)
    except PayloadError as error:
        # Keep enough to diagnose; a flood of huge payloads must not fill the agent's disk.
        return Rejection(topic, payload[:KEEP_REJECTED], str(error), received_at, device_id)


def parse_batch(
    topic: str,
    payload: bytes,
    received_at: float,
    devices: Mapping[str, DeviceConfig],
) -> list[Reading | Rejection]:
    """A JSON array of ``{"ts", "value"}`` on a metric topic: readings a device buffered or a
    gateway collected. A bad element is rejected alone; the others are kept."""
    parts = topic.split("/")
    device_id = parts[2] if len(parts) == 4 else None
    try:
        device, spec = _metric_of(parts, devices)
        if len(payload) > MAX_PAYLOAD:
            raise PayloadError(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
        body = _decode(payload)
        if not isinstance(body, list) or len(body) > MAX_BATCH:
            raise PayloadError(f"a batch is a JSON array of at most {MAX_BATCH} readings")
    except PayloadError as error:
        return [Rejection(topic, payload[:KEEP_REJECTED], str(error), received_at, device_id)]
    out: list[Reading | Rejection] = []
    metric, low, high, latest = parts[3], spec.low, spec.high, received_at + MAX_FUTURE_S
    for element in body:
        # The common element (float value in range, float unix time in the window) is built
        # here without the checks' calls; anything else takes `_element`, which gives the
        # reason. test_native proves the two agree on arbitrary elements.
        if type(element) is dict:
            value, ts = element.get("value"), element.get("ts")
            if (
                type(value) is float
                and type(ts) is float
                and low <= value <= high
                and value - value == 0.0  # NaN fails the range, inf this
                and EARLIEST_TS <= ts <= latest
            ):
                out.append(_new_reading(Reading, (device.id, metric, ts, value, received_at)))
                continue
        out.append(_element(topic, device, metric, spec, element, received_at))
    return out


# A Reading without its generated __new__ (a Python function): a third of building one.
_new_reading = tuple.__new__


def _element(
    topic: str,
    device: DeviceConfig,
    metric: str,
    spec: MetricSpec,
    element: Any,
    received_at: float,
) -> Reading | Rejection:
    """One element of a batch, every check with its reason."""
    try:
        if not isinstance(element, dict) or "ts" not in element or "value" not in element:
            raise PayloadError('each element of a batch needs "ts" and "value"')
        return _checked(device, metric, spec, element, received_at)
    except PayloadError as error:
        raw = json.dumps(element).encode()[:KEEP_REJECTED]
        return Rejection(topic, raw, f"batch element: {error}", received_at, device.id)


def _metric_of(
    parts: list[str], devices: Mapping[str, DeviceConfig]
) -> tuple[DeviceConfig, MetricSpec]:
    if len(parts) != 4 or parts[0] != "fw":
        raise PayloadError("topic is not fw/<site>/<device>/<metric>")
    device = devices.get(parts[2])
    if device is None:
        raise PayloadError(f"unknown device {parts[2]!r}")
    spec = METRICS.get(parts[3])
    if spec is None or not device.accepts(parts[3]):
        raise PayloadError(f"unknown metric {parts[3]!r} for a {device.kind} device")
    return device, spec


def _checked(
    device: DeviceConfig, metric: str, spec: MetricSpec, body: dict[str, Any], received_at: float
) -> Reading:
    value = _number(body["value"], "value")
    ts = _timestamp(body.get("ts"), received_at)
    if not spec.low <= value <= spec.high:
        raise PayloadError(f"{metric} {value:g} {spec.unit} is outside {spec.low:g}..{spec.high:g}")
    return Reading(device.id, metric, ts, value, received_at)


def _reading(device: DeviceConfig, metric: str, payload: bytes, received_at: float) -> Reading:
    spec = METRICS.get(metric)
    if spec is None or not device.accepts(metric):
        raise PayloadError(f"unknown metric {metric!r} for a {device.kind} device")
    body = _decode(payload)
    if not isinstance(body, dict):
        body = {"value": body}  # a bare number: stamped with the time of receipt
    elif "value" not in body:
        raise PayloadError("object payload has no 'value'")
    return _checked(device, metric, spec, body, received_at)


def _access(device: DeviceConfig, payload: bytes, received_at: float) -> AccessEvent:
    if device.kind != "access_reader":
        raise PayloadError(f"access event from a {device.kind} device")
    body = _decode(payload)
    if not isinstance(body, dict):
        raise PayloadError("access event must be a JSON object")
    card = body.get("card")
    if not isinstance(card, str | int) or isinstance(card, bool) or not str(card).strip():
        raise PayloadError("access event needs a 'card'")
    result = body.get("result")
    if result not in _RESULTS:
        raise PayloadError(f"access result must be granted or denied, not {result!r}")
    direction = body.get("direction")
    if direction is not None and direction not in _DIRECTIONS:
        raise PayloadError(f"access direction must be in or out, not {direction!r}")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise PayloadError("access reason must be a string")
    _storable(str(card), "card")
    _storable(reason, "reason")
    ts = _timestamp(body.get("ts"), received_at)
    return AccessEvent(device.id, ts, str(card)[:64], result, direction, reason, received_at)


def _decode(payload: bytes) -> Any:
    try:
        return load_json(payload)
    except UnicodeDecodeError as error:
        raise PayloadError(f"payload is not UTF-8: {error}") from None
    except ValueError as error:
        raise PayloadError(f"not JSON or a number: {error}") from None


def _storable(text: str | None, name: str) -> None:
    # A JSON escape such as "\ud800" decodes to a lone surrogate, which SQLite cannot store.
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(f"{name} is not valid Unicode text") from None


def _number(raw: Any, name: str) -> float:
    if type(raw) is float and raw - raw == 0.0:  # the common case, finite; NaN and inf fail
        return raw
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise PayloadError(f"{name} must be a number, not {type(raw).__name__}")
    try:
        value = float(raw)
    except OverflowError:
        raise PayloadError(f"{name} is too large") from None
    if not math.isfinite(value):
        raise PayloadError(f"{name} is not finite")
    return value


def _timestamp(raw: Any, received_at: float) -> float:
    if raw is None:
        return received_at
    if type(raw) is float and EARLIEST_TS <= raw <= received_at + MAX_FUTURE_S:
        return raw  # the common case: plausible unix seconds
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise PayloadError(f"ts {raw[:40]!r} is not ISO 8601") from None
        if parsed.tzinfo is None:
            raise PayloadError("ts in ISO 8601 needs a UTC offset")
        try:
            ts = parsed.astimezone(UTC).timestamp()
        except OverflowError:
            raise PayloadError(f"ts {raw[:40]!r} is not a plausible time") from None
    else:
        ts = _number(raw, "ts")
        if ts > 1e11:
            raise PayloadError(f"ts {ts:.0f} looks like milliseconds; send unix seconds")
    if ts > received_at + MAX_FUTURE_S:
        raise PayloadError(FUTURE)
    if ts < EARLIEST_TS:
        raise PayloadError(f"ts {ts:.0f} is not a plausible time")
    return ts
