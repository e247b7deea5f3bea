"""Shelly Gen2+: status components (Wh -> kWh), RPC notifications, online, and rejections."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.config import DeviceConfig
from collector.formats import Availability, Parsed
from collector.formats.shelly import COMPONENTS, parse, subscriptions
from collector.models import Reading, Rejection
from tests.collector.formats.strategies import documents, storable

UTC = ZoneInfo("UTC")
RECEIVED = 1_795_414_200.0
SHELLY_TS = 1_763_900_000.12
ID = "shellypro3em-a8032ab12345"
METER = DeviceConfig.model_validate(
    {"id": "hvac-3em", "kind": "power_meter", "source": {"format": "shelly", "topic": ID}}
)


def body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def meter(metric: str, value: float, ts: float = RECEIVED) -> Reading:
    return Reading("hvac-3em", metric, ts, value, RECEIVED)


def rejected(topic: str, payload: bytes, reason: str) -> Rejection:
    return Rejection(topic, payload, reason, RECEIVED, "hvac-3em")


def notify(method: str = "NotifyStatus", **params: Any) -> bytes:
    frame = {"src": ID, "dst": f"{ID}/events", "method": method, "params": params}
    return json.dumps(frame).encode()


def test_subscriptions() -> None:
    status = [f"{ID}/status/{component}" for component in COMPONENTS]
    assert subscriptions(METER) == [f"{ID}/online", f"{ID}/events/rpc", *status]


# Samples from devices.md (Shelly's component documentation).
SWITCH = {
    "id": 0,
    "output": True,
    "apower": 182.4,
    "voltage": 229.8,
    "current": 0.81,
    "aenergy": {"total": 5321.7, "by_minute": [3.1, 3.0, 3.0], "minute_ts": 1763900000},
}
GOOD = [
    pytest.param(
        "switch:0",
        body(**SWITCH),
        [meter("power", 182.4), meter("energy", 5.3217)],
        id="switch: W and Wh->kWh",
    ),
    pytest.param(
        "pm1:0",
        body(id=0, apower=12.0, aenergy={"total": 20000}),
        [meter("power", 12.0), meter("energy", 20.0)],
        id="pm1",
    ),
    pytest.param(
        "em:0",
        body(a_act_power=800.1, b_act_power=810.1, c_act_power=800.1, total_act_power=2410.3),
        [meter("power", 2410.3)],
        id="em: total_act_power",
    ),
    pytest.param(
        "emdata:0",
        body(a_total_act_energy=411522.6, total_act=1234567.8, total_act_ret=0),
        [meter("energy", 1234.5678)],
        id="emdata: total_act Wh->kWh",
    ),
    pytest.param(
        "em1:0",
        body(id=0, act_power=501.8, voltage=234.9, current=2.598, pf=0.84, freq=50),
        [meter("power", 501.8)],
        id="em1: act_power",
    ),
    pytest.param(
        "em1data:0",
        body(id=0, total_act_energy=2500, total_act_ret_energy=0),
        [meter("energy", 2.5)],
        id="em1data: Wh->kWh",
    ),
    pytest.param(
        "switch:0",
        body(id=0, output=False, apower=-3.5),
        [meter("power", -3.5)],
        id="negative power is export",
    ),
]


@pytest.mark.parametrize(("component", "payload", "expected"), GOOD)
def test_status_components_become_readings(
    component: str, payload: bytes, expected: list[Parsed]
) -> None:
    assert parse(METER, f"{ID}/status/{component}", payload, RECEIVED, UTC) == expected


BAD = [
    pytest.param("switch:0", b"182.4", "switch:0 status must be a JSON object", id="bare number"),
    pytest.param(
        "switch:0",
        body(id=0, output=True),
        "no apower or aenergy.total in switch:0 for a power_meter device in the message",
        id="no power fields",
    ),
    pytest.param(
        "emdata:0",
        body(total_act=-5),
        "emdata:0.total_act: energy -0.005 kWh is outside 0..1e+12",
        id="negative counter",
    ),
    pytest.param(
        "em:0",
        body(total_act_power="2410"),
        "em:0.total_act_power must be a number, not str",
        id="power string",
    ),
]


@pytest.mark.parametrize(("component", "payload", "reason"), BAD)
def test_bad_status_is_rejected_with_a_reason(component: str, payload: bytes, reason: str) -> None:
    topic = f"{ID}/status/{component}"
    assert parse(METER, topic, payload, RECEIVED, UTC) == [rejected(topic, payload, reason)]


RPC = f"{ID}/events/rpc"
NOTIFICATIONS = [
    pytest.param(
        notify(ts=SHELLY_TS, **{"switch:0": {"id": 0, "apower": 182.4}}),
        [meter("power", 182.4, SHELLY_TS)],
        id="NotifyStatus keeps the device's ts",
    ),
    pytest.param(
        notify(
            ts=SHELLY_TS,
            **{"em:0": {"total_act_power": 2410.3}, "emdata:0": {"total_act": 1000.0}},
        ),
        [meter("power", 2410.3, SHELLY_TS), meter("energy", 1.0, SHELLY_TS)],
        id="several components",
    ),
    pytest.param(
        notify("NotifyFullStatus", ts=SHELLY_TS, **{"switch:0": SWITCH, "sys": {"uptime": 5}}),
        [meter("power", 182.4, SHELLY_TS), meter("energy", 5.3217, SHELLY_TS)],
        id="NotifyFullStatus",
    ),
    pytest.param(
        notify(ts=12.5, **{"switch:0": {"apower": 1.0}}),
        [meter("power", 1.0)],
        id="clock not set: time of receipt",
    ),
    pytest.param(
        notify(ts=SHELLY_TS, **{"switch:0": {"id": 0, "temperature": {"tC": 41.2}}}),
        [],
        id="a partial update without our fields",
    ),
    pytest.param(
        notify(ts=SHELLY_TS, sys={"uptime": 5}, wifi={"rssi": -60}), [], id="other components"
    ),
    pytest.param(
        notify("NotifyEvent", ts=SHELLY_TS, events=[{"component": "input:0", "event": "btn_down"}]),
        [],
        id="NotifyEvent",
    ),
    pytest.param(
        notify(ts="now", **{"switch:0": {"apower": 1.0}}),
        [
            rejected(
                RPC,
                notify(ts="now", **{"switch:0": {"apower": 1.0}}),
                "NotifyStatus params.ts must be a finite number",
            )
        ],
        id="ts not a number",
    ),
    pytest.param(
        notify(ts=SHELLY_TS, **{"switch:0": 5}),
        [rejected(RPC, notify(ts=SHELLY_TS, **{"switch:0": 5}), "switch:0 must be a JSON object")],
        id="component not an object",
    ),
]


@pytest.mark.parametrize(("payload", "expected"), NOTIFICATIONS)
def test_rpc_notifications(payload: bytes, expected: list[Parsed]) -> None:
    assert parse(METER, RPC, payload, RECEIVED, UTC) == expected


ONLINE = [
    pytest.param(b"true", [Availability("hvac-3em", True, RECEIVED)], id="true"),
    pytest.param(b"false", [Availability("hvac-3em", False, RECEIVED)], id="false"),
    pytest.param(
        b"1",
        [rejected(f"{ID}/online", b"1", "online payload must be true or false")],
        id="anything else",
    ),
]


@pytest.mark.parametrize(("payload", "expected"), ONLINE)
def test_online(payload: bytes, expected: list[Parsed]) -> None:
    assert parse(METER, f"{ID}/online", payload, RECEIVED, UTC) == expected


@pytest.mark.parametrize("topic", [f"{ID}/status/switch:1", f"{ID}/status/sys", "other/online"])
def test_topics_not_read_are_rejected(topic: str) -> None:
    expected = [rejected(topic, b"{}", "not a Shelly status topic")]
    assert parse(METER, topic, b"{}", RECEIVED, UTC) == expected


KEYS = ["method", "params", "ts", *COMPONENTS, "apower", "aenergy", "total", "total_act_power"]
KEYS += ["total_act", "act_power", "total_act_energy"]


@settings(max_examples=300)
@given(topic=st.sampled_from(subscriptions(METER)), payload=documents(KEYS))
def test_parse_never_raises(topic: str, payload: bytes) -> None:
    assert storable(parse(METER, topic, payload, RECEIVED, UTC))
