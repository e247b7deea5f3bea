"""Zigbee2MQTT: device state (contact inverted), last_seen, availability, and what is rejected."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.config import DeviceConfig
from collector.formats import Availability, Parsed
from collector.formats.zigbee2mqtt import parse, subscriptions
from collector.models import Reading, Rejection
from tests.collector.formats.strategies import documents, storable

UTC = ZoneInfo("UTC")
RECEIVED = 1_795_414_200.0
DOOR = DeviceConfig.model_validate(
    {"id": "coldroom-door", "kind": "door", "source": {"format": "zigbee2mqtt", "topic": "cd"}}
)
FRIDGE = DeviceConfig.model_validate(
    {
        "id": "pharmacy-fridge",
        "kind": "temperature",
        "source": {"format": "zigbee2mqtt", "topic": "pharmacy/fridge", "base": "z2m"},
    }
)
LEAK = DeviceConfig.model_validate(
    {"id": "leak-1", "kind": "water_meter", "source": {"format": "zigbee2mqtt", "topic": "leak"}}
)


def state(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def reading(device: DeviceConfig, metric: str, value: float) -> Reading:
    return Reading(device.id, metric, RECEIVED, value, RECEIVED)


def rejected(device: DeviceConfig, topic: str, payload: bytes, reason: str) -> Rejection:
    return Rejection(topic, payload, reason, RECEIVED, device.id)


SUBSCRIPTIONS = [
    pytest.param(DOOR, ["zigbee2mqtt/cd", "zigbee2mqtt/cd/availability"], id="default base"),
    pytest.param(
        FRIDGE, ["z2m/pharmacy/fridge", "z2m/pharmacy/fridge/availability"], id="own base, / name"
    ),
]


@pytest.mark.parametrize(("device", "expected"), SUBSCRIPTIONS)
def test_subscriptions(device: DeviceConfig, expected: list[str]) -> None:
    assert subscriptions(device) == expected


GOOD = [
    pytest.param(
        DOOR,
        state(contact=False, battery=91, voltage=2985, linkquality=120),
        [reading(DOOR, "battery", 91.0), reading(DOOR, "contact", 1.0)],
        id="contact false is OPEN: 1",
    ),
    pytest.param(
        DOOR,
        state(contact=True, battery=91, voltage=2985, linkquality=120),
        [reading(DOOR, "battery", 91.0), reading(DOOR, "contact", 0.0)],
        id="contact true is CLOSED: 0",
    ),
    pytest.param(
        DOOR,
        state(contact=None, battery=100),
        [reading(DOOR, "battery", 100.0)],
        id="null: not reported yet",
    ),
    pytest.param(
        FRIDGE,
        state(temperature=4.21, humidity=55.3, battery=100, linkquality=87),
        [
            reading(FRIDGE, "temperature", 4.21),
            reading(FRIDGE, "humidity", 55.3),
            reading(FRIDGE, "battery", 100.0),
        ],
        id="temperature and humidity",
    ),
    pytest.param(
        FRIDGE,
        state(temperature=4.0, contact=True),
        [reading(FRIDGE, "temperature", 4.0)],
        id="contact is no reading of a temperature device",
    ),
    pytest.param(
        LEAK,
        state(water_leak=True, battery=80),
        [reading(LEAK, "battery", 80.0)],
        id="water_leak has no metric yet: ignored",
    ),
]


@pytest.mark.parametrize(("device", "payload", "expected"), GOOD)
def test_state_messages_become_readings(
    device: DeviceConfig, payload: bytes, expected: list[Parsed]
) -> None:
    assert parse(device, subscriptions(device)[0], payload, RECEIVED, UTC) == expected


# advanced.last_seen: ISO_8601 (UTC), ISO_8601_local (the bridge's offset; older bridges wrote
# +0100), epoch (milliseconds). 2026-11-23T06:09:58.123Z is two seconds before RECEIVED.
SEEN = 1_795_414_198.123
LAST_SEEN = [
    pytest.param("2026-11-23T06:09:58.123Z", SEEN, id="ISO_8601"),
    pytest.param("2026-11-23T14:09:58+08:00", 1_795_414_198.0, id="ISO_8601_local"),
    pytest.param("2026-11-23T07:09:58.123+0100", SEEN, id="ISO_8601_local without colon"),
    pytest.param(1_795_414_198_123, SEEN, id="epoch ms"),
    pytest.param(None, RECEIVED, id="null: time of receipt"),
    pytest.param(1_795_155_000_000, 1_795_155_000.0, id="three days old: a republished state"),
    pytest.param(1_795_414_260_000, 1_795_414_260.0, id="a minute ahead: kept"),
    pytest.param(1_795_414_198, RECEIVED, id="epoch seconds read as ms: 1970, receipt"),
    pytest.param("1970-01-01T00:00:05.000Z", RECEIVED, id="bridge clock not set: receipt"),
    pytest.param("2027-01-01T00:00:00.000Z", RECEIVED, id="far future: receipt"),
]


@pytest.mark.parametrize(("last_seen", "ts"), LAST_SEEN)
def test_last_seen_is_the_reading_time_when_plausible(last_seen: object, ts: float) -> None:
    payload = state(contact=False, battery=91, linkquality=120, last_seen=last_seen)
    expected = [
        Reading(DOOR.id, "battery", ts, 91.0, RECEIVED),
        Reading(DOOR.id, "contact", ts, 1.0, RECEIVED),
    ]
    assert parse(DOOR, "zigbee2mqtt/cd", payload, RECEIVED, UTC) == expected


BAD = [
    pytest.param(DOOR, b"open", "not JSON: Expecting value: line 1 column 1 (char 0)", id="text"),
    pytest.param(DOOR, b"[true]", "state payload must be a JSON object", id="list"),
    pytest.param(
        DOOR, state(contact="open"), "contact must be true or false, not str", id="contact string"
    ),
    pytest.param(
        DOOR, state(contact=1), "contact must be true or false, not int", id="contact number"
    ),
    pytest.param(
        DOOR,
        state(linkquality=120),
        "no battery or contact for a door device in the message",
        id="only linkquality",
    ),
    pytest.param(
        FRIDGE,
        state(temperature=-273.0),
        "temperature: temperature -273 °C is outside -100..200",
        id="temperature out of range",
    ),
    pytest.param(
        FRIDGE,
        state(humidity="55"),
        "humidity must be a number, not str",
        id="humidity string",
    ),
    pytest.param(
        FRIDGE,
        state(temperature=4.0, last_seen="yesterday"),
        "last_seen 'yesterday' is not ISO 8601",
        id="last_seen not ISO",
    ),
    pytest.param(
        FRIDGE,
        state(temperature=4.0, last_seen="2026-11-23T06:09:58"),
        "last_seen '2026-11-23T06:09:58' has no UTC offset",
        id="last_seen without offset",
    ),
    pytest.param(
        FRIDGE,
        state(temperature=4.0, last_seen=True),
        "last_seen must be ISO 8601 or epoch milliseconds, not bool",
        id="last_seen bool",
    ),
    pytest.param(
        FRIDGE,
        state(temperature=4.0, last_seen={"ms": 1}),
        "last_seen must be ISO 8601 or epoch milliseconds, not dict",
        id="last_seen object",
    ),
    pytest.param(
        FRIDGE,
        b'{"temperature":4.0,"last_seen":NaN}',
        "last_seen is not a finite number",
        id="last_seen NaN",
    ),
    pytest.param(
        FRIDGE,
        b'{"temperature":4.0,"last_seen":1' + b"0" * 400 + b"}",
        "last_seen is not a finite number",
        id="last_seen too large for a float",
    ),
]


@pytest.mark.parametrize(("device", "payload", "reason"), BAD)
def test_bad_state_messages_are_rejected_with_a_reason(
    device: DeviceConfig, payload: bytes, reason: str
) -> None:
    topic = subscriptions(device)[0]
    expected = [rejected(device, topic, payload, reason)]
    assert parse(device, topic, payload, RECEIVED, UTC) == expected


AVAILABILITY = [
    pytest.param(b'{"state":"online"}', True, id="JSON online"),
    pytest.param(b'{"state":"offline"}', False, id="JSON offline"),
    pytest.param(b"online", True, id="legacy online"),
    pytest.param(b"offline", False, id="legacy offline"),
]


@pytest.mark.parametrize(("payload", "online"), AVAILABILITY)
def test_availability(payload: bytes, online: bool) -> None:
    expected = [Availability("coldroom-door", online, RECEIVED)]
    assert parse(DOOR, "zigbee2mqtt/cd/availability", payload, RECEIVED, UTC) == expected


@pytest.mark.parametrize("payload", [b'{"state":"gone"}', b"[]", b"\xff", b'{"state":1}'])
def test_unknown_availability_is_rejected(payload: bytes) -> None:
    topic = "zigbee2mqtt/cd/availability"
    reason = 'availability must be online/offline or {"state": "online"}'
    assert parse(DOOR, topic, payload, RECEIVED, UTC) == [rejected(DOOR, topic, payload, reason)]


def test_a_topic_of_another_device_is_rejected() -> None:
    topic = "zigbee2mqtt/cd/set"
    reason = "not a Zigbee2MQTT device topic"
    assert parse(DOOR, topic, b"{}", RECEIVED, UTC) == [rejected(DOOR, topic, b"{}", reason)]


KEYS = ["temperature", "humidity", "battery", "contact", "water_leak", "linkquality", "state"]
KEYS += ["last_seen"]


@settings(max_examples=300)
@given(
    device=st.sampled_from([DOOR, FRIDGE, LEAK]),
    availability=st.booleans(),
    payload=documents(KEYS),
)
def test_parse_never_raises(device: DeviceConfig, availability: bool, payload: bytes) -> None:
    topic = subscriptions(device)[int(availability)]
    assert storable(parse(device, topic, payload, RECEIVED, UTC))
