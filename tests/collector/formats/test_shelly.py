"""Shelly Gen2+: status components (Wh -> kWh), channels, RPC notifications, online, rejections."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.config import DeviceConfig
from collector.formats import Availability, Parsed
from collector.formats.shelly import COMPONENTS, parse, shared_topics, subscriptions
from collector.models import Reading, Rejection
from tests.collector.formats.strategies import documents, storable

UTC = ZoneInfo("UTC")
RECEIVED = 1_795_414_200.0
SHELLY_TS = 1_763_900_000.12
ID = "shellypro3em-a8032ab12345"
METER = DeviceConfig.model_validate(
    {"id": "hvac-3em", "kind": "power_meter", "source": {"format": "shelly", "topic": ID}}
)
PRO4PM = "shellypro4pm-c8f09e8a1b2c"
PRO_EM = "shellyproem50-08f9e0e5a6b7"
# The fourth relay of a Pro 4PM and the second clamp of a Pro EM-50: one device per channel.
PUMP = DeviceConfig.model_validate(
    {
        "id": "pump-4",
        "kind": "power_meter",
        "source": {"format": "shelly", "topic": PRO4PM, "channel": 3},
    }
)
CHILLER = DeviceConfig.model_validate(
    {
        "id": "chiller",
        "kind": "power_meter",
        "source": {"format": "shelly", "topic": PRO_EM, "channel": 1},
    }
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


SUBSCRIPTIONS = [
    pytest.param(METER, ID, 0, id="channel 0 by default"),
    pytest.param(PUMP, PRO4PM, 3, id="channel 3"),
    pytest.param(CHILLER, PRO_EM, 1, id="channel 1"),
]


@pytest.mark.parametrize(("device", "own", "channel"), SUBSCRIPTIONS)
def test_subscriptions_are_the_channels_components(
    device: DeviceConfig, own: str, channel: int
) -> None:
    status = [f"{own}/status/{kind}:{channel}" for kind in COMPONENTS]
    assert subscriptions(device) == [f"{own}/online", f"{own}/events/rpc", *status]
    assert shared_topics(device) == [f"{own}/online", f"{own}/events/rpc"]


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


def reading(device: DeviceConfig, metric: str, value: float, ts: float = RECEIVED) -> Reading:
    return Reading(device.id, metric, ts, value, RECEIVED)


def rejected_by(device: DeviceConfig, topic: str, payload: bytes, channel: int) -> Rejection:
    reason = f"not a Shelly status topic of channel {channel}"
    return Rejection(topic, payload, reason, RECEIVED, device.id)


# Status objects with the fields Shelly's component documentation lists for Switch, EM, EMData, EM1
# and EM1Data; the em1:1 object is what a Pro EM-50's second clamp publishes.
PRO4PM_SWITCH_3 = {
    "id": 3,
    "source": "init",
    "output": True,
    "apower": 1480.2,
    "voltage": 231.4,
    "freq": 50.0,
    "current": 6.52,
    "pf": 0.98,
    "aenergy": {
        "total": 861234.5,
        "by_minute": [24670.0, 24668.1, 24671.3],
        "minute_ts": 1795414140,
    },
    "ret_aenergy": {"total": 0.0, "by_minute": [0.0, 0.0, 0.0], "minute_ts": 1795414140},
    "temperature": {"tC": 48.3, "tF": 118.9},
}
PRO3EM_EM = {
    "id": 0,
    "a_current": 4.029,
    "a_voltage": 236.1,
    "a_act_power": 951.2,
    "a_aprt_power": 951.9,
    "a_pf": 1,
    "a_freq": 50,
    "b_current": 4.027,
    "b_voltage": 236.201,
    "b_act_power": -951.1,
    "b_aprt_power": 951.9,
    "b_pf": 1,
    "b_freq": 50,
    "c_current": 3.03,
    "c_voltage": 236.402,
    "c_act_power": 715.4,
    "c_aprt_power": 716.2,
    "c_pf": 1,
    "c_freq": 50,
    "n_current": 11.029,
    "total_current": 11.083,
    "total_act_power": 715.501,
    "total_aprt_power": 2385.116,
    "user_calibrated_phase": [],
}
PRO3EM_EMDATA = {
    "id": 0,
    "a_total_act_energy": 411522.6,
    "a_total_act_ret_energy": 0,
    "b_total_act_energy": 408216.1,
    "b_total_act_ret_energy": 52.3,
    "c_total_act_energy": 414829.1,
    "c_total_act_ret_energy": 0,
    "total_act": 1234567.8,
    "total_act_ret": 52.3,
}
PRO_EM_EM1_1 = {
    "id": 1,
    "current": 2.598,
    "voltage": 234.9,
    "act_power": 501.8,
    "aprt_power": 612.4,
    "pf": 0.84,
    "freq": 50,
    "calibration": "factory",
}
CHANNELS = [
    pytest.param(
        PUMP,
        f"{PRO4PM}/status/switch:3",
        body(**PRO4PM_SWITCH_3),
        [reading(PUMP, "power", 1480.2), reading(PUMP, "energy", 861.2345)],
        id="Pro 4PM switch:3",
    ),
    pytest.param(
        METER,
        f"{ID}/status/em:0",
        body(**PRO3EM_EM),
        [meter("power", 715.501)],
        id="Pro 3EM em:0: total_act_power, phases ignored",
    ),
    pytest.param(
        METER,
        f"{ID}/status/emdata:0",
        body(**PRO3EM_EMDATA),
        [meter("energy", 1234.5678)],
        id="Pro 3EM emdata:0: total_act (import) Wh->kWh, returned ignored",
    ),
    pytest.param(
        CHILLER,
        f"{PRO_EM}/status/em1:1",
        body(**PRO_EM_EM1_1),
        [reading(CHILLER, "power", 501.8)],
        id="Pro EM-50 em1:1",
    ),
    pytest.param(
        CHILLER,
        f"{PRO_EM}/status/em1data:1",
        body(id=1, total_act_energy=2776.5, total_act_ret_energy=0),
        [reading(CHILLER, "energy", 2.7765)],
        id="Pro EM-50 em1data:1",
    ),
    pytest.param(
        PUMP,
        f"{PRO4PM}/status/switch:0",
        body(**SWITCH),
        [rejected_by(PUMP, f"{PRO4PM}/status/switch:0", body(**SWITCH), 3)],
        id="another channel's status",
    ),
    pytest.param(
        CHILLER,
        f"{PRO_EM}/events/rpc",
        notify(ts=SHELLY_TS, **{"em1:0": {"act_power": 0.0}, "em1:1": {"act_power": 501.8}}),
        [reading(CHILLER, "power", 501.8, SHELLY_TS)],
        id="NotifyStatus: the channel's component only",
    ),
    pytest.param(
        PUMP,
        f"{PRO4PM}/events/rpc",
        notify(
            "NotifyFullStatus",
            ts=SHELLY_TS,
            **{f"switch:{n}": {"id": n, "apower": 10.0 * n} for n in range(4)},
        ),
        [reading(PUMP, "power", 30.0, SHELLY_TS)],
        id="NotifyFullStatus of four relays: the fourth",
    ),
]


@pytest.mark.parametrize(("device", "topic", "payload", "expected"), CHANNELS)
def test_a_device_reads_its_own_channel(
    device: DeviceConfig, topic: str, payload: bytes, expected: list[Parsed]
) -> None:
    assert parse(device, topic, payload, RECEIVED, UTC) == expected


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
    expected = [rejected(topic, b"{}", "not a Shelly status topic of channel 0")]
    assert parse(METER, topic, b"{}", RECEIVED, UTC) == expected


KEYS = ["method", "params", "ts", "apower", "aenergy", "total", "total_act_power", "total_act"]
KEYS += ["act_power", "total_act_energy", *(f"{kind}:{n}" for kind in COMPONENTS for n in (0, 3))]


LEVELS = ["online", "events/rpc", *(f"status/{kind}:{n}" for kind in COMPONENTS for n in (0, 3))]


@settings(max_examples=300)
@given(
    device=st.sampled_from([METER, PUMP]), level=st.sampled_from(LEVELS), payload=documents(KEYS)
)
def test_parse_never_raises(device: DeviceConfig, level: str, payload: bytes) -> None:
    topic = f"{device.source.topic}/{level}"
    assert storable(parse(device, topic, payload, RECEIVED, UTC))
