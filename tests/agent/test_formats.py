"""Every device format through a real Mosquitto into the agent's store, and availability into
its stale rule."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import parse_site
from agent.runtime import Agent
from tests.support.mosquitto import Broker
from tests.support.site import publish, publisher
from tests.support.sqlite import rows
from tests.support.wait import until

SITE = """
site: {{id: campus, timezone: Asia/Shanghai}}
mqtt: {{url: "{url}", client_id: "formats-{name}"}}
storage: {{path: "{db}", commit_interval: 20ms}}
metrics: null
devices:
  - {{id: kitchen-plug, kind: power_meter, source: {{format: tasmota, topic: kitchen_plug}}}}
  - {{id: coldroom-door, kind: door, source: {{format: zigbee2mqtt, topic: coldroom_door}}}}
  - {{id: pharmacy-fridge, kind: temperature,
     source: {{format: zigbee2mqtt, topic: pharmacy_fridge, base: z2m}}}}
  - {{id: hvac-3em, kind: power_meter,
     source: {{format: shelly, topic: shellypro3em-a8032ab12345}}}}
  - {{id: gate-north, kind: access_reader}}
rules:
  - {{id: plug-silent, type: stale, device: kitchen-plug, after: 1h, severity: low}}
"""

MESSAGES = [
    (
        "tele/kitchen_plug/SENSOR",
        '{"Time":"2026-11-23T14:05:00","ENERGY":{"TotalStartTime":"2025-01-01T00:00:00",'
        '"Total":1234.567,"Yesterday":3.21,"Today":1.05,"Period":2,"Power":45,'
        '"ApparentPower":52,"ReactivePower":26,"Factor":0.87,"Voltage":229,"Current":0.227}}',
    ),
    (
        "zigbee2mqtt/coldroom_door",
        '{"contact":false,"battery":91,"voltage":2985,"linkquality":120}',
    ),
    ("z2m/pharmacy_fridge", '{"temperature":4.21,"humidity":55.3,"battery":100,"linkquality":87}'),
    ("shellypro3em-a8032ab12345/status/em:0", '{"id":0,"total_act_power":2410.3}'),
    ("shellypro3em-a8032ab12345/status/emdata:0", '{"id":0,"total_act":1234567.8}'),
    ("fw/campus/gate-north/access", '{"card":"C1","result":"denied","reason":"unknown card"}'),
]

# 14:05 in Shanghai is 06:05 UTC.
TASMOTA_TS = 1_795_413_900.0
EXPECTED = {
    ("kitchen-plug", "energy", 1234.567),
    ("kitchen-plug", "power", 45.0),
    ("coldroom-door", "contact", 1.0),
    ("coldroom-door", "battery", 91.0),
    ("pharmacy-fridge", "temperature", 4.21),
    ("pharmacy-fridge", "humidity", 55.3),
    ("pharmacy-fridge", "battery", 100.0),
    ("hvac-3em", "power", 2410.3),
    ("hvac-3em", "energy", 1234.5678),
}


@pytest.fixture
def agent(tmp_path: Path, broker: Broker) -> Iterator[Agent]:
    text = SITE.format(url=broker.url, db=tmp_path / "agent.db", name=tmp_path.name)
    config, _ = parse_site(text, env={})
    running = Agent(config)
    running.start()
    until(lambda: running.subscriber.subscribed)
    yield running
    running.stop()


def test_every_format_is_stored_in_our_units(agent: Agent, broker: Broker) -> None:
    db = agent.config.storage.path
    client = publisher(broker.port)
    for topic, payload in MESSAGES:
        publish(client, topic, payload)
    until(lambda: len(rows(db, "SELECT 1 FROM readings")) == len(EXPECTED))
    stored = rows(db, "SELECT device, metric, value FROM readings")
    assert {(d, m, round(float(v), 4)) for d, m, v in stored} == EXPECTED  # type: ignore[arg-type]
    assert rows(db, "SELECT ts FROM readings WHERE device = 'kitchen-plug'") == [
        (TASMOTA_TS,),
        (TASMOTA_TS,),
    ]
    assert rows(db, "SELECT card, result FROM access_events") == [("C1", "denied")]
    assert agent.subscriber.received_by_format == {
        "tasmota": 1,
        "zigbee2mqtt": 2,
        "shelly": 2,
        "native": 1,
    }


def test_a_device_that_says_it_is_offline_raises_its_stale_alarm_at_once(
    agent: Agent, broker: Broker
) -> None:
    db = agent.config.storage.path
    client = publisher(broker.port)
    publish(client, "tele/kitchen_plug/LWT", "Offline")
    until(lambda: rows(db, "SELECT rule, state FROM alarms"))
    assert rows(db, "SELECT rule, state FROM alarms") == [("plug-silent", "unacknowledged")]
    publish(client, "tele/kitchen_plug/LWT", "Online")
    publish(client, MESSAGES[0][0], MESSAGES[0][1])
    until(lambda: rows(db, "SELECT state FROM alarms") == [("cleared_unacknowledged",)])


def test_an_unknown_topic_in_a_subscribed_tree_is_quarantined(agent: Agent, broker: Broker) -> None:
    db = agent.config.storage.path
    client = publisher(broker.port)
    publish(client, "fw/campus/stranger/power", "1")
    until(lambda: rows(db, "SELECT device, reason FROM quarantine"))
    assert rows(db, "SELECT device, reason FROM quarantine") == [
        ("stranger", "unknown device 'stranger'")
    ]
