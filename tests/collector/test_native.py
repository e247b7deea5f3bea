"""The native MQTT format: what becomes a reading or an access event, and why the rest is not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.config import DeviceConfig
from collector.models import (
    METRICS,
    AccessEvent,
    AccessResult,
    Direction,
    Reading,
    Rejection,
)
from collector.native import (
    KEEP_REJECTED,
    MAX_PAYLOAD,
    _element,
    parse,
    parse_batch,
    topic_filter,
)
from collector.payload import load_json
from tests.collector.formats.strategies import plain

RECEIVED = 1_700_000_000.0  # 2023-11-14T22:13:20Z
DEVICES = {
    device.id: device
    for device in (
        DeviceConfig(id="main-meter", kind="power_meter"),
        DeviceConfig(id="tap-1", kind="water_meter"),
        DeviceConfig(id="freezer-1", kind="temperature"),
        DeviceConfig(id="store-rh", kind="humidity"),
        DeviceConfig(id="door-1", kind="door"),
        DeviceConfig(id="gate-north", kind="access_reader"),
    )
}
FREEZER = "fw/demo/freezer-1/temperature"
GATE = "fw/demo/gate-north/access"


@pytest.fixture
def devices() -> dict[str, DeviceConfig]:
    return DEVICES


def body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def temperature(value: float, ts: float) -> Reading:
    return Reading("freezer-1", "temperature", ts, value, RECEIVED)


def access(
    card: str,
    result: AccessResult = "granted",
    direction: Direction | None = None,
    reason: str | None = None,
    ts: float = RECEIVED,
) -> AccessEvent:
    return AccessEvent("gate-north", ts, card, result, direction, reason, RECEIVED)


GOOD_READINGS = [
    pytest.param(FREEZER, b"-18.5", temperature(-18.5, RECEIVED), id="bare float"),
    pytest.param(FREEZER, b"-18", temperature(-18.0, RECEIVED), id="bare int"),
    pytest.param(FREEZER, b" 4.25\n", temperature(4.25, RECEIVED), id="bare with whitespace"),
    pytest.param(FREEZER, b"\xef\xbb\xbf4", temperature(4.0, RECEIVED), id="UTF-8 BOM"),
    pytest.param(FREEZER, body(value=4.2), temperature(4.2, RECEIVED), id="object without ts"),
    pytest.param(
        FREEZER, body(ts=None, value=4.2), temperature(4.2, RECEIVED), id="object with null ts"
    ),
    pytest.param(
        FREEZER,
        body(ts=1_699_999_990, value=4),
        temperature(4.0, 1_699_999_990.0),
        id="unix int ts and int value",
    ),
    pytest.param(
        FREEZER,
        body(ts=1_699_999_990.5, value=4.2),
        temperature(4.2, 1_699_999_990.5),
        id="unix float ts",
    ),
    pytest.param(
        FREEZER,
        body(ts="2023-11-14T22:13:00Z", value=4.2),
        temperature(4.2, 1_699_999_980.0),
        id="ISO Z",
    ),
    pytest.param(
        FREEZER,
        body(ts="2023-11-15T06:13:00+08:00", value=4.2),
        temperature(4.2, 1_699_999_980.0),
        id="ISO +08:00",
    ),
    pytest.param(
        FREEZER,
        body(ts="2023-11-14T17:13:00.250-05:00", value=4.2),
        temperature(4.2, 1_699_999_980.25),
        id="ISO fractional -05:00",
    ),
    pytest.param(
        FREEZER,
        body(ts=946_684_800, value=1),
        temperature(1.0, 946_684_800.0),
        id="ts at 2000-01-01",
    ),
    pytest.param(
        FREEZER,
        body(ts=RECEIVED + 86_400, value=1),
        temperature(1.0, RECEIVED + 86_400),
        id="ts a day ahead",
    ),
    pytest.param(
        FREEZER,
        body(value=1, unit="C", probe="A"),
        temperature(1.0, RECEIVED),
        id="extra keys ignored",
    ),
    pytest.param(FREEZER, b"-100", temperature(-100.0, RECEIVED), id="lowest temperature"),
    pytest.param(FREEZER, b"200", temperature(200.0, RECEIVED), id="highest temperature"),
    pytest.param(
        "fw/demo/store-rh/humidity",
        b"100",
        Reading("store-rh", "humidity", RECEIVED, 100.0, RECEIVED),
        id="humidity 100",
    ),
    pytest.param(
        "fw/demo/freezer-1/humidity",
        b"0",
        Reading("freezer-1", "humidity", RECEIVED, 0.0, RECEIVED),
        id="humidity on a temperature probe",
    ),
    pytest.param(
        "fw/demo/main-meter/energy",
        body(ts=1_699_999_000, value=123456.75),
        Reading("main-meter", "energy", 1_699_999_000.0, 123456.75, RECEIVED),
        id="energy",
    ),
    pytest.param(
        "fw/demo/main-meter/power",
        b"-1500",
        Reading("main-meter", "power", RECEIVED, -1500.0, RECEIVED),
        id="negative power (export)",
    ),
    pytest.param(
        "fw/demo/main-meter/power",
        b"1e3",
        Reading("main-meter", "power", RECEIVED, 1000.0, RECEIVED),
        id="exponent",
    ),
    pytest.param(
        "fw/demo/tap-1/water",
        b"0",
        Reading("tap-1", "water", RECEIVED, 0.0, RECEIVED),
        id="water",
    ),
    pytest.param(
        "fw/demo/door-1/contact",
        b"1",
        Reading("door-1", "contact", RECEIVED, 1.0, RECEIVED),
        id="door contact",
    ),
    pytest.param(
        "fw/demo/gate-north/battery",
        b"87",
        Reading("gate-north", "battery", RECEIVED, 87.0, RECEIVED),
        id="battery of a reader",
    ),
]


@pytest.mark.parametrize(("topic", "payload", "expected"), GOOD_READINGS)
def test_a_good_payload_is_a_reading(
    devices: dict[str, DeviceConfig], topic: str, payload: bytes, expected: Reading
) -> None:
    assert parse(topic, payload, RECEIVED, devices) == expected


def test_an_int_value_becomes_a_float(devices: dict[str, DeviceConfig]) -> None:
    reading = parse(FREEZER, body(ts=1_699_999_990, value=4), RECEIVED, devices)
    assert isinstance(reading, Reading)
    assert (type(reading.value), type(reading.ts)) == (float, float)


GOOD_ACCESS = [
    pytest.param(
        body(card="04A1B2C3", result="granted", direction="in"),
        access("04A1B2C3", direction="in"),
        id="granted in",
    ),
    pytest.param(
        body(card="04A1B2C3", result="denied", direction="out", reason="expired"),
        access("04A1B2C3", "denied", "out", "expired"),
        id="denied out with reason",
    ),
    pytest.param(
        body(card="04A1B2C3", result="granted"),
        access("04A1B2C3"),
        id="no direction",
    ),
    pytest.param(
        body(card="04A1B2C3", result="denied", direction=None, reason=None),
        access("04A1B2C3", "denied"),
        id="null direction and reason",
    ),
    pytest.param(
        body(card="7", result="granted", ts="2023-11-15T06:13:00+08:00"),
        access("7", ts=1_699_999_980.0),
        id="ISO ts",
    ),
    pytest.param(
        body(card="7", result="granted", ts=1_699_999_990),
        access("7", ts=1_699_999_990.0),
        id="unix ts",
    ),
    pytest.param(body(card=12345, result="granted"), access("12345"), id="numeric card"),
    pytest.param(
        body(card="<script>alert(1)</script>", result="denied", reason="<b>x</b>"),
        access("<script>alert(1)</script>", "denied", reason="<b>x</b>"),
        id="markup kept as text",
    ),
    pytest.param(
        body(card="'; DROP TABLE access_events; --", result="granted"),
        access("'; DROP TABLE access_events; --"),
        id="SQL kept as text",
    ),
    pytest.param(
        json.dumps({"card": "卡-7", "result": "granted"}, ensure_ascii=False).encode(),
        access("卡-7"),
        id="UTF-8 card",
    ),
    pytest.param(
        body(card="A" * 100, result="granted"),
        access("A" * 64),
        id="long card cut to 64",
    ),
]


@pytest.mark.parametrize(("payload", "expected"), GOOD_ACCESS)
def test_a_good_access_payload_is_an_access_event(
    devices: dict[str, DeviceConfig], payload: bytes, expected: AccessEvent
) -> None:
    assert parse(GATE, payload, RECEIVED, devices) == expected


BAD = [
    # encoding and syntax
    pytest.param(FREEZER, b"hello", "not JSON", id="not JSON"),
    pytest.param(FREEZER, b"", "not JSON", id="empty"),
    pytest.param(FREEZER, b"  \n", "not JSON", id="whitespace"),
    pytest.param(FREEZER, b'{"value": 1', "not JSON", id="truncated JSON"),
    pytest.param(FREEZER, b"\xff", "UTF-8", id="invalid byte"),
    pytest.param(FREEZER, b"\xc3\x28", "UTF-8", id="invalid sequence"),
    pytest.param(FREEZER, "21".encode("utf-16"), "UTF-8", id="UTF-16 with BOM"),
    pytest.param(FREEZER, "21".encode("utf-16-le"), "not JSON", id="UTF-16 without BOM"),
    pytest.param(GATE, b'{"card": "\xed\xa0\x80", "result": "granted"}', "UTF-8", id="CESU"),
    pytest.param(FREEZER, b"1" * (MAX_PAYLOAD + 1), "over 65536", id="oversized"),
    # value
    pytest.param(FREEZER, body(ts=RECEIVED), "no 'value'", id="object without value"),
    pytest.param(FREEZER, b"{}", "no 'value'", id="empty object"),
    pytest.param(FREEZER, body(value="21.5"), "value must be a number, not str", id="str"),
    pytest.param(FREEZER, b'"21.5"', "value must be a number, not str", id="bare str"),
    pytest.param(FREEZER, body(value=True), "value must be a number, not bool", id="bool"),
    pytest.param(FREEZER, b"false", "value must be a number, not bool", id="bare bool"),
    pytest.param(FREEZER, body(value=None), "value must be a number", id="null"),
    pytest.param(FREEZER, b"null", "value must be a number", id="bare null"),
    pytest.param(FREEZER, body(value=[1]), "value must be a number, not list", id="list"),
    pytest.param(FREEZER, b"[1, 2]", "value must be a number, not list", id="bare list"),
    pytest.param(FREEZER, body(value={"v": 1}), "value must be a number, not dict", id="dict"),
    pytest.param(FREEZER, b"NaN", "not finite", id="bare NaN"),
    pytest.param(FREEZER, b'{"value": NaN}', "not finite", id="NaN"),
    pytest.param(FREEZER, b'{"value": Infinity}', "not finite", id="Infinity"),
    pytest.param(FREEZER, b"-Infinity", "not finite", id="-Infinity"),
    pytest.param(FREEZER, b"1e999", "not finite", id="float overflow"),
    pytest.param(FREEZER, b"1" + b"0" * 400, "too large", id="400-digit int"),
    pytest.param(FREEZER, b"1" * 5000, "not JSON", id="5000-digit int"),
    # range
    pytest.param("fw/demo/store-rh/humidity", b"120", "outside 0..100", id="humidity 120"),
    pytest.param("fw/demo/store-rh/humidity", b"-0.5", "outside 0..100", id="humidity -0.5"),
    pytest.param(FREEZER, b"-300", "outside -100..200", id="temperature -300"),
    pytest.param(FREEZER, b"255.15", "outside -100..200", id="temperature in kelvin"),
    pytest.param("fw/demo/main-meter/energy", b"-1", "outside 0..", id="negative energy"),
    pytest.param("fw/demo/door-1/contact", b"2", "outside 0..1", id="contact 2"),
    pytest.param("fw/demo/door-1/battery", b"101", "outside 0..100", id="battery 101"),
    # ts
    pytest.param(FREEZER, body(ts=1_699_999_990_000, value=1), "milliseconds", id="ts in ms"),
    pytest.param(FREEZER, body(ts=0, value=1), "not a plausible time", id="ts 0"),
    pytest.param(FREEZER, body(ts=-1, value=1), "not a plausible time", id="negative ts"),
    pytest.param(FREEZER, body(ts=946_684_799, value=1), "not a plausible time", id="ts 1999"),
    pytest.param(
        FREEZER,
        body(ts="1999-12-31T23:59:59Z", value=1),
        "not a plausible time",
        id="ISO 1999",
    ),
    pytest.param(
        FREEZER, body(ts=RECEIVED + 86_401, value=1), "in the future", id="ts a day ahead"
    ),
    pytest.param(FREEZER, body(ts="2100-01-01T00:00:00Z", value=1), "in the future", id="ISO 2100"),
    pytest.param(
        FREEZER,
        body(ts="0001-01-01T00:00:00+14:00", value=1),
        "not a plausible time",
        id="ISO before year 1 in UTC",
    ),
    pytest.param(
        FREEZER,
        body(ts="9999-12-31T23:59:59-14:00", value=1),
        "not a plausible time",
        id="ISO after year 9999 in UTC",
    ),
    pytest.param(
        FREEZER,
        body(ts="2023-11-14T22:13:00", value=1),
        "needs a UTC offset",
        id="ISO without offset",
    ),
    pytest.param(FREEZER, body(ts="2023-11-14", value=1), "needs a UTC offset", id="ISO date only"),
    pytest.param(FREEZER, body(ts="yesterday", value=1), "not ISO 8601", id="ts not ISO"),
    pytest.param(FREEZER, body(ts="", value=1), "not ISO 8601", id="ts empty"),
    pytest.param(FREEZER, body(ts=True, value=1), "ts must be a number, not bool", id="ts bool"),
    pytest.param(FREEZER, body(ts=[RECEIVED], value=1), "ts must be a number", id="ts list"),
    pytest.param(FREEZER, b'{"ts": NaN, "value": 1}', "ts is not finite", id="ts NaN"),
    pytest.param(
        FREEZER, b'{"ts": 1' + b"0" * 400 + b', "value": 1}', "too large", id="ts 400 digits"
    ),
    # topic, device and metric
    pytest.param("fw/demo/ghost/temperature", b"1", "unknown device 'ghost'", id="unknown device"),
    pytest.param("fw/demo//temperature", b"1", "unknown device ''", id="empty device"),
    pytest.param(
        "fw/demo/freezer-1/pressure", b"1", "unknown metric 'pressure'", id="unknown metric"
    ),
    pytest.param(
        "fw/demo/main-meter/temperature",
        b"1",
        "unknown metric 'temperature' for a power_meter device",
        id="temperature on a power meter",
    ),
    pytest.param(
        "fw/demo/freezer-1/energy",
        b"1",
        "unknown metric 'energy' for a temperature device",
        id="energy on a probe",
    ),
    pytest.param(
        "fw/demo/freezer-1/Temperature", b"1", "unknown metric 'Temperature'", id="metric case"
    ),
    pytest.param("fw/demo/freezer-1", b"1", "topic is not fw/", id="three levels"),
    pytest.param(FREEZER + "/x", b"1", "topic is not fw/", id="five levels"),
    pytest.param("fw/demo/freezer-1/temperature/", b"1", "topic is not fw/", id="trailing slash"),
    pytest.param("xx/demo/freezer-1/temperature", b"1", "topic is not fw/", id="wrong prefix"),
    pytest.param("", b"1", "topic is not fw/", id="empty topic"),
    # access events
    pytest.param(
        "fw/demo/door-1/access",
        body(card="1", result="granted"),
        "access event from a door device",
        id="access from a door",
    ),
    pytest.param(
        "fw/demo/main-meter/access",
        body(card="1", result="granted"),
        "access event from a power_meter device",
        id="access from a meter",
    ),
    pytest.param(GATE, b'"granted"', "must be a JSON object", id="access not an object"),
    pytest.param(GATE, b"1", "must be a JSON object", id="access bare number"),
    pytest.param(GATE, b"", "not JSON", id="access empty"),
    pytest.param(GATE, body(result="granted"), "needs a 'card'", id="no card"),
    pytest.param(GATE, body(card="", result="granted"), "needs a 'card'", id="empty card"),
    pytest.param(GATE, body(card="  ", result="granted"), "needs a 'card'", id="blank card"),
    pytest.param(GATE, body(card=None, result="granted"), "needs a 'card'", id="null card"),
    pytest.param(GATE, body(card=True, result="granted"), "needs a 'card'", id="bool card"),
    pytest.param(GATE, body(card=["1"], result="granted"), "needs a 'card'", id="list card"),
    pytest.param(GATE, body(card=1.5, result="granted"), "needs a 'card'", id="float card"),
    pytest.param(
        GATE, body(card="1", result="maybe"), "must be granted or denied", id="bad result"
    ),
    pytest.param(
        GATE, body(card="1", result="GRANTED"), "must be granted or denied", id="result case"
    ),
    pytest.param(GATE, body(card="1"), "must be granted or denied", id="no result"),
    pytest.param(
        GATE, body(card="1", result=["granted"]), "must be granted or denied", id="list result"
    ),
    pytest.param(
        GATE, body(card="1", result={"ok": 1}), "must be granted or denied", id="dict result"
    ),
    pytest.param(
        GATE,
        body(card="1", result="granted", direction="up"),
        "direction must be in or out",
        id="bad direction",
    ),
    pytest.param(
        GATE,
        body(card="1", result="granted", direction=1),
        "direction must be in or out",
        id="numeric direction",
    ),
    pytest.param(
        GATE,
        body(card="1", result="granted", direction=["in"]),
        "direction must be in or out",
        id="list direction",
    ),
    pytest.param(
        GATE,
        body(card="1", result="denied", reason=5),
        "reason must be a string",
        id="numeric reason",
    ),
    pytest.param(
        GATE,
        body(card="1", result="granted", ts=1_699_999_990_000),
        "milliseconds",
        id="access ts in ms",
    ),
    pytest.param(
        GATE,
        body(card="\ud800", result="granted"),
        "card is not valid Unicode",
        id="lone surrogate card",
    ),
    pytest.param(
        GATE,
        body(card="1", result="denied", reason="\udfff"),
        "reason is not valid Unicode",
        id="lone surrogate reason",
    ),
]


@pytest.mark.parametrize(("topic", "payload", "reason"), BAD)
def test_a_bad_payload_is_rejected_with_a_reason(
    devices: dict[str, DeviceConfig], topic: str, payload: bytes, reason: str
) -> None:
    rejection = parse(topic, payload, RECEIVED, devices)
    assert isinstance(rejection, Rejection)
    assert reason in rejection.reason


@pytest.mark.parametrize(
    ("topic", "device"),
    [
        (FREEZER, "freezer-1"),
        ("fw/demo/ghost/temperature", "ghost"),
        ("fw/demo/freezer-1", None),
        ("fw/demo/freezer-1/temperature/x", None),
    ],
)
def test_a_rejection_keeps_what_arrived(
    devices: dict[str, DeviceConfig], topic: str, device: str | None
) -> None:
    rejection = parse(topic, b"\x00 not json", RECEIVED, devices)
    assert isinstance(rejection, Rejection)
    assert (rejection.topic, rejection.payload, rejection.received_at, rejection.device) == (
        topic,
        b"\x00 not json",
        RECEIVED,
        device,
    )


def test_the_subscription_covers_every_device_and_metric_of_a_site() -> None:
    assert topic_filter("demo") == "fw/demo/+/+"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=8)
FIELD = JSON | TEXT | st.sampled_from(["granted", "denied", "in", "out", "2023-11-14T22:13:00Z"])
OBJECT = st.fixed_dictionaries(
    {},
    optional={
        "value": FIELD | st.floats(-200, 300),
        "ts": FIELD | st.floats(0, 4e9) | st.integers(0, 10**13),
        "card": FIELD,
        "result": FIELD,
        "direction": FIELD,
        "reason": FIELD,
    },
)
PAYLOADS = (
    st.binary(max_size=64)
    | (JSON | OBJECT).map(lambda document: json.dumps(document).encode())
    | st.floats().map(lambda number: repr(number).encode())
)
TOPICS = st.text(max_size=40) | st.builds(
    "fw/{}/{}/{}".format,
    st.sampled_from(["demo", "", "+"]),
    st.sampled_from([*DEVICES, "ghost"]),
    st.sampled_from([*METRICS, "access", "pressure", ""]),
)


@settings(max_examples=500)
@given(topic=TOPICS, payload=PAYLOADS)
def test_parse_never_raises(topic: str, payload: bytes) -> None:
    assert isinstance(parse(topic, payload, RECEIVED, DEVICES), Reading | AccessEvent | Rejection)


@settings(max_examples=300)
@given(
    topic=st.sampled_from([GATE, FREEZER]),
    payload=OBJECT.map(lambda document: json.dumps(document).encode()),
)
def test_whatever_parse_returns_can_be_stored_as_utf8(topic: str, payload: bytes) -> None:
    # SQLite takes text as UTF-8; a lone surrogate (a JSON "\\ud800") would fail the whole batch.
    result = parse(topic, payload, RECEIVED, DEVICES)
    assert json.dumps(result, default=plain, ensure_ascii=False).encode("utf-8")


def test_an_oversized_payload_is_kept_only_in_part() -> None:
    payload = b"7" * (MAX_PAYLOAD + 10)
    result = parse(FREEZER, payload, RECEIVED, DEVICES)
    assert isinstance(result, Rejection)
    assert result.payload == payload[:KEEP_REJECTED]


def test_a_batch_becomes_one_reading_per_element() -> None:
    payload = json.dumps([{"ts": 1_700_000_000 + i, "value": -18 + i / 10} for i in range(3)])
    assert parse_batch(FREEZER, payload.encode(), RECEIVED, DEVICES) == [
        Reading("freezer-1", "temperature", 1_700_000_000.0 + i, -18 + i / 10, RECEIVED)
        for i in range(3)
    ]


def test_a_bad_batch_element_is_rejected_alone() -> None:
    payload = (
        b'[{"ts": 1700000000, "value": -18}, {"value": -17}, {"ts": 1700000001, "value": 900}]'
    )
    parsed = parse_batch(FREEZER, payload, RECEIVED, DEVICES)
    assert [(type(p).__name__, getattr(p, "reason", "")) for p in parsed] == [
        ("Reading", ""),
        ("Rejection", 'batch element: each element of a batch needs "ts" and "value"'),
        ("Rejection", "batch element: temperature 900 °C is outside -100..200"),
    ]


_times = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=RECEIVED - 3e8, max_value=RECEIVED + 2 * 86400.0),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.just("2023-11-14T22:13:20Z"),
    st.none(),
    st.booleans(),
)
_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-150.0, max_value=250.0),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=3),
    st.none(),
    st.booleans(),
)
_elements = st.one_of(
    st.fixed_dictionaries({"ts": _times, "value": _values}),
    st.fixed_dictionaries({}, optional={"ts": _times, "value": _values, "unit": st.text()}),
    _values,
    st.lists(_values, max_size=2),
)


@settings(max_examples=300)
@given(st.lists(_elements, max_size=20))
def test_a_batch_reads_every_element_as_the_full_checks_would(elements: list[Any]) -> None:
    payload = json.dumps(elements).encode()
    device, spec = DEVICES["freezer-1"], METRICS["temperature"]
    expected = [
        _element(FREEZER, device, "temperature", spec, element, RECEIVED)
        for element in load_json(payload)
    ]
    assert parse_batch(FREEZER, payload, RECEIVED, DEVICES) == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param(b"[", "not JSON or a number", id="broken JSON"),
        pytest.param(b'{"value": 1}', "a batch is a JSON array", id="not an array"),
        pytest.param(
            json.dumps([{"ts": 1_700_000_000, "value": 1}] * 1001).encode(),
            "a batch is a JSON array of at most 1000 readings",
            id="too many",
        ),
    ],
)
def test_a_batch_that_is_not_one_is_rejected_whole(payload: bytes, reason: str) -> None:
    [rejection] = parse_batch(FREEZER, payload, RECEIVED, DEVICES)
    assert isinstance(rejection, Rejection)
    assert rejection.reason.startswith(reason)
