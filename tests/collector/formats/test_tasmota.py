"""Tasmota: SENSOR (ENERGY and probes, local Time), LWT, and what is rejected and why."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.config import DeviceConfig
from collector.formats import Availability, Parsed
from collector.formats.tasmota import parse, subscriptions
from collector.models import Reading, Rejection
from tests.collector.formats.strategies import documents, storable

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
RECEIVED = 1_795_414_200.0  # 2026-11-23T06:10:00Z
AT_1405 = 1_795_413_900.0  # 2026-11-23T14:05:00 in Shanghai (UTC+8) = 06:05Z
PLUG = DeviceConfig.model_validate(
    {"id": "kitchen-plug", "kind": "power_meter", "source": {"format": "tasmota", "topic": "kp"}}
)
PROBE = DeviceConfig.model_validate(
    {"id": "freezer-1", "kind": "temperature", "source": {"format": "tasmota", "topic": "fz"}}
)
# devices.md's ENERGY sample, verbatim.
ENERGY = {
    "TotalStartTime": "2025-01-01T00:00:00",
    "Total": 1234.567,
    "Yesterday": 3.21,
    "Today": 1.05,
    "Period": 2,
    "Power": 45,
    "ApparentPower": 52,
    "ReactivePower": 26,
    "Factor": 0.87,
    "Voltage": 229,
    "Current": 0.227,
}
TIME = "2026-11-23T14:05:00"


def sensor(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def plug(metric: str, value: float, ts: float = AT_1405) -> Reading:
    return Reading("kitchen-plug", metric, ts, value, RECEIVED)


def freezer(metric: str, value: float, ts: float = AT_1405) -> Reading:
    return Reading("freezer-1", metric, ts, value, RECEIVED)


def rejected(device: DeviceConfig, topic: str, payload: bytes, reason: str) -> Rejection:
    return Rejection(topic, payload, reason, RECEIVED, device.id)


def test_subscriptions_are_the_devices_own_topics() -> None:
    assert subscriptions(PLUG) == ["tele/kp/SENSOR", "tele/kp/LWT"]


GOOD = [
    pytest.param(
        PLUG,
        sensor(Time=TIME, ENERGY=ENERGY),
        [plug("energy", 1234.567), plug("power", 45.0)],
        id="ENERGY from devices.md",
    ),
    pytest.param(
        PLUG,
        sensor(Time=TIME, ENERGY={"Total": 7.5, "Power": [45, 12.5]}),
        [plug("energy", 7.5), plug("power", 57.5)],
        id="two channels are summed",
    ),
    pytest.param(
        PLUG,
        sensor(ENERGY={"Total": 1.0, "Power": 0}),
        [plug("energy", 1.0, RECEIVED), plug("power", 0.0, RECEIVED)],
        id="no Time: time of receipt",
    ),
    pytest.param(
        PLUG,
        sensor(Time="1970-01-01T00:05:12", ENERGY={"Total": 1.0}),
        [plug("energy", 1.0, RECEIVED)],
        id="clock not set yet: time of receipt",
    ),
    pytest.param(
        PLUG,
        sensor(Time="2026-11-23T14:05:00+08:00", ENERGY={"Power": 45}),
        [plug("power", 45.0)],
        id="SetOption52 offset used as sent",
    ),
    pytest.param(
        PLUG,
        sensor(Time=TIME, ENERGY={"Power": 45}, AM2301={"Temperature": 21.0}),
        [plug("power", 45.0)],
        id="a plug's probe is no reading of a power meter",
    ),
    pytest.param(
        PROBE,
        sensor(Time=TIME, DS18B20={"Id": "01144A2B3C4D", "Temperature": -18.4}, TempUnit="C"),
        [freezer("temperature", -18.4)],
        id="DS18B20",
    ),
    pytest.param(
        PROBE,
        sensor(Time=TIME, AM2301={"Temperature": 4.6, "Humidity": 61.0, "DewPoint": -2.1}),
        [freezer("temperature", 4.6), freezer("humidity", 61.0)],
        id="AM2301 temperature and humidity",
    ),
    pytest.param(
        PROBE,
        sensor(Time=TIME, SHT3X={"Temperature": 3.5, "Humidity": 70.2, "DewPoint": -1.4}),
        [freezer("temperature", 3.5), freezer("humidity", 70.2)],
        id="SHT3X",
    ),
    pytest.param(
        PROBE,
        sensor(Time=TIME, BME280={"Temperature": 22.5, "Humidity": 40.0, "Pressure": 1013.2}),
        [freezer("temperature", 22.5), freezer("humidity", 40.0)],
        id="BME280",
    ),
    pytest.param(
        PROBE,
        sensor(Time=TIME, ESP32={"Temperature": 51.0}, **{"DS18B20-1": {"Temperature": -18.0}}),
        [freezer("temperature", -18.0)],
        id="numbered DS18B20, chip temperature ignored",
    ),
    pytest.param(
        PROBE,
        sensor(
            Time=TIME, **{"DS18B20-1": {"Temperature": -18.0}, "DS18B20-2": {"Temperature": 4.0}}
        ),
        [freezer("temperature", -18.0)],
        id="several probes: the first",
    ),
    pytest.param(
        PROBE,
        sensor(Time=TIME, DS18B20={"Temperature": 41.0}, TempUnit="F"),
        [freezer("temperature", 5.0)],
        id="41 F is 5 C",
    ),
    pytest.param(
        PROBE,
        sensor(Time=TIME, DS18B20={"Temperature": -0.4}, TempUnit="F"),
        [freezer("temperature", -18.0)],
        id="-0.4 F is -18 C",
    ),
]


@pytest.mark.parametrize(("device", "payload", "expected"), GOOD)
def test_sensor_messages_become_readings(
    device: DeviceConfig, payload: bytes, expected: list[Parsed]
) -> None:
    topic = f"tele/{device.source.topic}/SENSOR"
    assert parse(device, topic, payload, RECEIVED, SHANGHAI) == expected


NEW_YORK = ZoneInfo("America/New_York")
# Where a local Time is ambiguous (the hour repeated when summer time ends) or does not exist (the
# hour skipped when it starts), its readings with the offset before and after the change are both
# candidates, and the one closest to the time of receipt is taken; a tie goes to the earlier one.
# Berlin 2026: 02:00 CET -> 03:00 CEST on 29 March, 03:00 CEST -> 02:00 CET on 25 October (01:00Z).
# New York 2026: 02:00 EST -> 03:00 EDT on 8 March, 02:00 EDT -> 01:00 EST on 1 November (06:00Z).
FIRST_PASS = 1_792_888_200.0  # 2026-10-25T02:30+02:00 = 00:30Z
SECOND_PASS = 1_792_891_800.0  # 2026-10-25T02:30+01:00 = 01:30Z
LATE_CHANGE = 1_774_747_800.0  # 2026-03-29T02:30+01:00 = 01:30Z: the device still on winter time
EARLY_CHANGE = 1_774_744_200.0  # 2026-03-29T02:30+02:00 = 00:30Z: the device changed early
DST = [
    pytest.param(BERLIN, "2026-07-01T12:00:00", 1_782_900_003.0, 1_782_900_000.0, id="summer"),
    pytest.param(
        BERLIN, "2026-10-25T03:30:00", 1_792_895_403.0, 1_792_895_400.0, id="after the change"
    ),
    pytest.param(
        BERLIN, "2026-10-25T02:30:00", FIRST_PASS + 3, FIRST_PASS, id="repeated hour, first pass"
    ),
    pytest.param(
        BERLIN, "2026-10-25T02:30:00", SECOND_PASS + 3, SECOND_PASS, id="repeated hour, second"
    ),
    pytest.param(
        BERLIN, "2026-10-25T02:30:00", FIRST_PASS + 1800, FIRST_PASS, id="halfway: the earlier"
    ),
    pytest.param(
        BERLIN, "2026-10-25T02:30:00", SECOND_PASS + 7200, SECOND_PASS, id="late: the nearer"
    ),
    pytest.param(
        BERLIN,
        "2026-10-25T02:30:00+01:00",
        FIRST_PASS + 3,
        SECOND_PASS,
        id="an offset (SetOption52) is used as sent",
    ),
    pytest.param(
        BERLIN, "2026-03-29T02:30:00", LATE_CHANGE + 3, LATE_CHANGE, id="skipped hour, late clock"
    ),
    pytest.param(
        BERLIN, "2026-03-29T02:30:00", EARLY_CHANGE + 3, EARLY_CHANGE, id="skipped, early clock"
    ),
    pytest.param(
        NEW_YORK, "2026-11-01T01:30:00", 1_793_511_003.0, 1_793_511_000.0, id="NY repeated, EDT"
    ),
    pytest.param(
        NEW_YORK, "2026-11-01T01:30:00", 1_793_514_603.0, 1_793_514_600.0, id="NY repeated, EST"
    ),
    pytest.param(
        NEW_YORK, "2026-03-08T02:30:00", 1_772_955_003.0, 1_772_955_000.0, id="NY skipped, late"
    ),
    pytest.param(
        NEW_YORK, "2026-03-08T02:30:00", 1_772_951_403.0, 1_772_951_400.0, id="NY skipped, early"
    ),
]


@pytest.mark.parametrize(("tz", "local", "received", "ts"), DST)
def test_local_time_at_a_dst_change_is_the_one_nearest_receipt(
    tz: ZoneInfo, local: str, received: float, ts: float
) -> None:
    payload = sensor(Time=local, ENERGY={"Power": 45})
    expected = [Reading("kitchen-plug", "power", ts, 45.0, received)]
    assert parse(PLUG, "tele/kp/SENSOR", payload, received, tz) == expected


BAD = [
    pytest.param(PLUG, b"", "not JSON: Expecting value: line 1 column 1 (char 0)", id="empty"),
    pytest.param(PLUG, b"\xff", "payload is not UTF-8", id="not UTF-8"),
    pytest.param(PLUG, b"45", "SENSOR payload must be a JSON object", id="bare number"),
    pytest.param(
        PLUG, sensor(Time=5, ENERGY=ENERGY), "Time must be a string, not int", id="Time number"
    ),
    pytest.param(
        PLUG,
        sensor(Time="yesterday", ENERGY=ENERGY),
        "Time 'yesterday' is not ISO 8601",
        id="Time not ISO",
    ),
    pytest.param(
        PLUG,
        sensor(Time=TIME, ENERGY={"Total": "1.5"}),
        "ENERGY.Total must be a number, not str",
        id="Total string",
    ),
    pytest.param(
        PLUG,
        sensor(Time=TIME, ENERGY={"Total": -1}),
        "ENERGY.Total: energy -1 kWh is outside 0..1e+12",
        id="negative Total",
    ),
    pytest.param(
        PLUG,
        sensor(Time=TIME, ENERGY={"Power": [1, None]}),
        "ENERGY.Power must be a number, not list",
        id="channel list with null",
    ),
    pytest.param(
        PLUG,
        b'{"ENERGY":{"Power":NaN}}',
        "ENERGY.Power is not finite",
        id="NaN",
    ),
    pytest.param(
        PLUG,
        sensor(Time=TIME, DS18B20={"Temperature": 4.0}),
        "no ENERGY or temperature probe for a power_meter device in the message",
        id="plug without ENERGY",
    ),
    pytest.param(
        PROBE,
        sensor(Time=TIME, DS18B20={"Temperature": 250.0}),
        "Temperature: temperature 250 °C is outside -100..200",
        id="probe out of range",
    ),
    pytest.param(
        PROBE,
        sensor(Time=TIME, DS18B20={"Temperature": 4.0}, TempUnit="K"),
        "TempUnit must be C or F",
        id="unknown TempUnit",
    ),
    pytest.param(
        PROBE,
        sensor(Time=TIME, DS18B20={"Temperature": 500.0}, TempUnit="F"),
        "Temperature: temperature 260 °C is outside -100..200",
        id="range checked after conversion",
    ),
]


@pytest.mark.parametrize(("device", "payload", "reason"), BAD)
def test_bad_sensor_messages_are_rejected_with_a_reason(
    device: DeviceConfig, payload: bytes, reason: str
) -> None:
    topic = f"tele/{device.source.topic}/SENSOR"
    expected = [rejected(device, topic, payload, reason)]
    assert parse(device, topic, payload, RECEIVED, SHANGHAI) == expected


def test_one_bad_value_does_not_lose_the_others() -> None:
    payload = sensor(Time=TIME, ENERGY={"Total": 12.5, "Power": True})
    assert parse(PLUG, "tele/kp/SENSOR", payload, RECEIVED, SHANGHAI) == [
        plug("energy", 12.5),
        rejected(PLUG, "tele/kp/SENSOR", payload, "ENERGY.Power must be a number, not bool"),
    ]


OTHER_TOPICS = [
    pytest.param("tele/kp/LWT", b"Online", [Availability("kitchen-plug", True, RECEIVED)]),
    pytest.param("tele/kp/LWT", b"Offline", [Availability("kitchen-plug", False, RECEIVED)]),
    pytest.param(
        "tele/kp/LWT",
        b"maybe",
        [rejected(PLUG, "tele/kp/LWT", b"maybe", "LWT payload must be Online or Offline")],
    ),
    pytest.param("tele/kp/STATE", b'{"Uptime":"0T01:00:00","Wifi":{"RSSI":60}}', []),
    pytest.param(
        "stat/kp/STATUS8",
        b"{}",
        [rejected(PLUG, "stat/kp/STATUS8", b"{}", "not a Tasmota telemetry topic")],
    ),
]


@pytest.mark.parametrize(("topic", "payload", "expected"), OTHER_TOPICS)
def test_lwt_state_and_other_topics(topic: str, payload: bytes, expected: list[Parsed]) -> None:
    assert parse(PLUG, topic, payload, RECEIVED, SHANGHAI) == expected


KEYS = ["Time", "ENERGY", "Total", "Power", "DS18B20", "AM2301", "Temperature", "Humidity"]
KEYS += ["TempUnit"]


@settings(max_examples=300)
@given(
    device=st.sampled_from([PLUG, PROBE]),
    level=st.sampled_from(["SENSOR", "LWT", "STATE"]),
    payload=documents(KEYS),
)
def test_parse_never_raises(device: DeviceConfig, level: str, payload: bytes) -> None:
    topic = f"tele/{device.source.topic}/{level}"
    assert storable(parse(device, topic, payload, RECEIVED, SHANGHAI))
