"""The router: every device of a site behind one table, native ones included; it never raises."""

from __future__ import annotations

import importlib
from typing import get_args
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import collector.formats
from collector.config import DeviceConfig, FormatName
from collector.formats import (
    FORMATS,
    Availability,
    Parsed,
    TopicConflict,
    build_router,
    topic_conflicts,
)
from collector.formats.router import Route, Router
from collector.models import Reading, Rejection
from tests.collector.formats.strategies import documents, storable

SHANGHAI = ZoneInfo("Asia/Shanghai")
RECEIVED = 1_795_414_200.0
DEVICES = [
    DeviceConfig.model_validate(device)
    for device in (
        # The site-YAML lines of devices.md.
        {
            "id": "kitchen-plug",
            "kind": "power_meter",
            "source": {"format": "tasmota", "topic": "kitchen_plug"},
        },
        {
            "id": "coldroom-door",
            "kind": "door",
            "source": {"format": "zigbee2mqtt", "topic": "coldroom_door"},
        },
        {
            "id": "hvac-3em",
            "kind": "power_meter",
            "source": {"format": "shelly", "topic": "shellypro3em-a8032ab12345"},
        },
        {"id": "freezer-1", "kind": "temperature"},
    )
]
ROUTER = build_router(DEVICES, "demo", SHANGHAI)


def test_subscriptions_cover_every_device_once() -> None:
    assert ROUTER.subscriptions() == [
        "fw/demo/+/+",
        "tele/kitchen_plug/SENSOR",
        "tele/kitchen_plug/LWT",
        "zigbee2mqtt/coldroom_door",
        "zigbee2mqtt/coldroom_door/availability",
        "shellypro3em-a8032ab12345/online",
        "shellypro3em-a8032ab12345/events/rpc",
        "shellypro3em-a8032ab12345/status/switch:0",
        "shellypro3em-a8032ab12345/status/pm1:0",
        "shellypro3em-a8032ab12345/status/em:0",
        "shellypro3em-a8032ab12345/status/emdata:0",
        "shellypro3em-a8032ab12345/status/em1:0",
        "shellypro3em-a8032ab12345/status/em1data:0",
    ]


def reading(device: str, metric: str, value: float, ts: float = RECEIVED) -> Reading:
    return Reading(device, metric, ts, value, RECEIVED)


def rejected(topic: str, payload: bytes, reason: str, device: str | None) -> Rejection:
    return Rejection(topic, payload, reason, RECEIVED, device)


ROUTES = [
    pytest.param(
        "tele/kitchen_plug/SENSOR",
        b'{"Time":"2026-11-23T14:05:00","ENERGY":{"Total":1234.567,"Power":45}}',
        [
            reading("kitchen-plug", "energy", 1234.567, 1_795_413_900.0),
            reading("kitchen-plug", "power", 45.0, 1_795_413_900.0),
        ],
        id="tasmota, Time in the site's zone",
    ),
    pytest.param(
        "zigbee2mqtt/coldroom_door",
        b'{"contact":false,"battery":91,"voltage":2985,"linkquality":120}',
        [reading("coldroom-door", "battery", 91.0), reading("coldroom-door", "contact", 1.0)],
        id="zigbee2mqtt",
    ),
    pytest.param(
        "shellypro3em-a8032ab12345/online",
        b"false",
        [Availability("hvac-3em", False, RECEIVED)],
        id="shelly",
    ),
    pytest.param(
        "fw/demo/freezer-1/temperature",
        b"-18.5",
        [reading("freezer-1", "temperature", -18.5)],
        id="native",
    ),
    pytest.param(
        "fw/demo/kitchen-plug/power",
        b"45",
        [
            rejected(
                "fw/demo/kitchen-plug/power",
                b"45",
                "device 'kitchen-plug' is declared with format tasmota, not native",
                "kitchen-plug",
            )
        ],
        id="native topic of a device in another format",
    ),
    pytest.param(
        "fw/demo/ghost/power",
        b"45",
        [rejected("fw/demo/ghost/power", b"45", "unknown device 'ghost'", "ghost")],
        id="native, unknown device",
    ),
    pytest.param(
        "tele/other_plug/SENSOR",
        b"{}",
        [rejected("tele/other_plug/SENSOR", b"{}", "unknown topic", None)],
        id="unknown topic",
    ),
    pytest.param("fw/demo/alarms/a1", b'{"state": "unacknowledged"}', [], id="our own alarm"),
    pytest.param(
        "fw/other-site/freezer-1/temperature",
        b"1",
        [rejected("fw/other-site/freezer-1/temperature", b"1", "unknown topic", None)],
        id="another site's native topic",
    ),
]


@pytest.mark.parametrize(("topic", "payload", "expected"), ROUTES)
def test_parse_routes_by_topic(topic: str, payload: bytes, expected: list[Parsed]) -> None:
    assert ROUTER.parse(topic, payload, RECEIVED) == expected


class Broken:
    def subscriptions(self, device: DeviceConfig) -> list[str]:
        return ["broken/topic"]

    def shared_topics(self, device: DeviceConfig) -> list[str]:
        return ["broken/topic"]

    def parse(
        self, device: DeviceConfig, topic: str, payload: bytes, received_at: float, tz: ZoneInfo
    ) -> list[Parsed]:
        raise KeyError("\ud800")


def test_a_parser_that_raises_gives_a_rejection() -> None:
    router = Router("demo", SHANGHAI, {"broken/topic": (Route(DEVICES[0], Broken()),)}, {}, {})
    reason = "parser error: KeyError('\\ud800')"
    expected = [rejected("broken/topic", b"x", reason, "kitchen-plug")]
    assert router.parse("broken/topic", b"x", RECEIVED) == expected


def test_a_parser_that_raises_loses_no_other_device_of_a_shared_topic() -> None:
    routes = (Route(DEVICES[0], Broken()), Route(DEVICES[2], Broken()))
    router = Router("demo", SHANGHAI, {"broken/topic": routes}, {}, {})
    reason = "parser error: KeyError('\\ud800')"
    assert router.parse("broken/topic", b"x", RECEIVED) == [
        rejected("broken/topic", b"x", reason, "kitchen-plug"),
        rejected("broken/topic", b"x", reason, "hvac-3em"),
    ]


PRO4PM = "shellypro4pm-c8f09e8a1b2c"
RELAYS = [
    DeviceConfig.model_validate(
        {
            "id": f"pump-{n + 1}",
            "kind": "power_meter",
            "source": {"format": "shelly", "topic": PRO4PM, "channel": n},
        }
    )
    for n in (0, 1)
]
CHANNEL_ROUTER = build_router(RELAYS, "demo", SHANGHAI)
KINDS = ("switch", "pm1", "em", "emdata", "em1", "em1data")


def test_the_channels_of_one_shelly_share_its_online_and_rpc_topics() -> None:
    assert topic_conflicts(RELAYS) == []
    assert CHANNEL_ROUTER.subscriptions() == [
        "fw/demo/+/+",
        f"{PRO4PM}/online",
        f"{PRO4PM}/events/rpc",
        *(f"{PRO4PM}/status/{kind}:0" for kind in KINDS),
        *(f"{PRO4PM}/status/{kind}:1" for kind in KINDS),
    ]


CHANNEL_MESSAGES = [
    pytest.param(
        f"{PRO4PM}/online",
        b"false",
        [Availability("pump-1", False, RECEIVED), Availability("pump-2", False, RECEIVED)],
        id="online: every channel",
    ),
    pytest.param(
        f"{PRO4PM}/status/switch:1",
        b'{"id":1,"output":true,"apower":75.5}',
        [reading("pump-2", "power", 75.5)],
        id="status: its channel's device",
    ),
    pytest.param(
        f"{PRO4PM}/events/rpc",
        b'{"method":"NotifyStatus","params":{"ts":1795414199.5,'
        b'"switch:0":{"apower":12.0},"switch:1":{"apower":75.5}}}',
        [
            reading("pump-1", "power", 12.0, 1_795_414_199.5),
            reading("pump-2", "power", 75.5, 1_795_414_199.5),
        ],
        id="NotifyStatus: each channel its component",
    ),
]


@pytest.mark.parametrize(("topic", "payload", "expected"), CHANNEL_MESSAGES)
def test_a_shared_topic_reaches_every_channel(
    topic: str, payload: bytes, expected: list[Parsed]
) -> None:
    assert CHANNEL_ROUTER.parse(topic, payload, RECEIVED) == expected


def test_two_devices_on_one_channel_are_refused() -> None:
    twin = RELAYS[1].model_copy(update={"id": "pump-2b"})
    assert topic_conflicts([*RELAYS, twin]) == [
        f"devices pump-2, pump-2b all read topic '{PRO4PM}/status/{kind}:1'" for kind in KINDS
    ]


def test_two_devices_on_one_topic_are_refused() -> None:
    twin = DEVICES[0].model_copy(update={"id": "kitchen-plug-2"})
    expected = [
        "devices kitchen-plug, kitchen-plug-2 all read topic 'tele/kitchen_plug/SENSOR'",
        "devices kitchen-plug, kitchen-plug-2 all read topic 'tele/kitchen_plug/LWT'",
    ]
    assert topic_conflicts([*DEVICES, twin]) == expected
    with pytest.raises(TopicConflict) as raised:
        build_router([*DEVICES, twin], "demo", SHANGHAI)
    assert raised.value.conflicts == expected


def test_every_declared_format_has_a_module() -> None:
    assert sorted(FORMATS) == sorted(set(get_args(FormatName)) - {"native"})


@pytest.mark.parametrize("name", collector.formats.__all__)
def test_an_exported_name_is_importable(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from collector.formats import {name}", namespace)
    assert namespace[name] is getattr(importlib.import_module("collector.formats"), name)


KEYS = ["Time", "ENERGY", "Total", "Power", "contact", "temperature", "apower", "value", "ts"]


@settings(max_examples=500)
@given(
    topic=st.sampled_from([*ROUTER.subscriptions()[1:], "fw/demo/freezer-1/temperature"])
    | st.text(max_size=40),
    payload=documents(KEYS),
)
def test_parse_never_raises(topic: str, payload: bytes) -> None:
    assert storable(ROUTER.parse(topic, payload, RECEIVED))
