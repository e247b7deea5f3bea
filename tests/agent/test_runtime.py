"""The agent process parts wired together, against a real private Mosquitto."""

import contextlib
import gc
import os
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from agent.broker import EmbeddedBroker
from agent.runtime import Agent
from sync.hub import auth
from tests.hubfixtures import RunningHub
from tests.support.mosquitto import Broker, private_broker
from tests.support.site import publish, publisher, site_config
from tests.support.sqlite import connected, scalar
from tests.support.wait import until

T0 = 1_763_900_000.0


def count(db: Path, sql: str) -> int:
    value: int = scalar(db, sql)
    return value


def test_published_readings_are_stored(agent: Agent, broker: Broker) -> None:
    db = agent.config.storage.path
    client = publisher(broker.port)
    publish(client, "fw/clinic/main-meter/energy", {"ts": T0, "value": 1200.5})
    publish(client, "fw/clinic/main-meter/power", "4200")
    publish(client, "fw/clinic/gate-north/access", {"card": "C9", "result": "granted"})
    until(lambda: count(db, "SELECT COUNT(*) FROM readings") == 2)
    until(lambda: count(db, "SELECT COUNT(*) FROM access_events") == 1)


BAD = [
    ("fw/clinic/main-meter/energy", b"not json"),
    ("fw/clinic/main-meter/energy", b'{"value": "12"}'),
    ("fw/clinic/main-meter/energy", b"NaN"),
    ("fw/clinic/freezer-1/temperature", b"-400"),
    ("fw/clinic/ghost/power", b"1"),
    ("fw/clinic/main-meter/voltage", b"230"),
    ("fw/clinic/gate-north/access", b'{"card": "C1", "result": "maybe"}'),
    ("fw/clinic/main-meter/power", b"\xff\xfe"),
]


def test_bad_payloads_are_quarantined_and_nothing_else_is_lost(
    agent: Agent, broker: Broker
) -> None:
    db = agent.config.storage.path
    client = publisher(broker.port)
    for topic, payload in BAD:
        publish(client, topic, payload)
        publish(client, "fw/clinic/main-meter/power", b"100")
    until(lambda: count(db, "SELECT COUNT(*) FROM quarantine") == len(BAD))
    until(lambda: count(db, "SELECT COUNT(*) FROM readings") == len(BAD))
    assert sum(agent.writer.stats.quarantined.values()) == len(BAD)


FUTURE = "ts is in the future: more than 1 day ahead of the agent's clock"


def test_readings_far_in_the_future_are_quarantined_counted_and_nothing_else_is_lost(
    agent: Agent, broker: Broker
) -> None:
    db = agent.config.storage.path
    client = publisher(broker.port)
    soon = time.time() + 3600
    later = time.time() + 2 * 86_400
    publish(client, "fw/clinic/freezer-1/temperature", {"ts": later, "value": -18.0})
    publish(client, "fw/clinic/freezer-1/temperature", {"ts": "2100-01-01T00:00:00Z", "value": -18})
    rows = [{"ts": soon, "value": 1.0}, {"ts": later, "value": 2.0}, {"ts": T0, "value": 3.0}]
    publish(client, "fw/clinic/main-meter/power", rows)
    until(lambda: count(db, "SELECT COUNT(*) FROM quarantine") == 3)
    until(lambda: count(db, "SELECT COUNT(*) FROM readings") == 2)
    with connected(db) as conn:
        reasons = conn.execute(
            "SELECT device, reason, COUNT(*) FROM quarantine GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()
    assert reasons == [
        ("freezer-1", FUTURE, 2),
        ("main-meter", f"batch element: {FUTURE}", 1),
    ]
    assert agent.writer.stats.quarantined == {"freezer-1": 2, "main-meter": 1}


def test_messages_sent_while_the_agent_is_away_arrive_after_restart(
    tmp_path: Path, broker: Broker
) -> None:
    config = site_config(tmp_path / "agent.db", broker.url)
    first = Agent(config)
    first.start()
    until(lambda: first.subscriber.subscribed)
    first.stop()
    client = publisher(broker.port)
    for i in range(50):
        publish(client, "fw/clinic/main-meter/power", str(i))
    second = Agent(config)
    second.start()
    until(lambda: count(config.storage.path, "SELECT COUNT(*) FROM readings") == 50)
    second.stop()


def test_an_alarm_is_raised_from_a_published_reading(agent: Agent, broker: Broker) -> None:
    db = agent.config.storage.path
    client = publisher(broker.port)
    publish(client, "fw/clinic/freezer-1/temperature", {"value": -11.0})
    until(lambda: count(db, "SELECT COUNT(*) FROM alarms WHERE state = 'unacknowledged'") == 1)


def test_a_broker_without_mqtt_v5_is_spoken_to_in_3_1_1(tmp_path: Path) -> None:
    with EmbeddedBroker(tmp_path / "amqtt", engine="amqtt") as amqtt:
        running = Agent(site_config(tmp_path / "agent.db", amqtt.url))
        running.start()
        until(lambda: running.subscriber.subscribed, timeout=30)
        assert running.subscriber.version == mqtt.MQTTv311
        client = publisher(int(amqtt.url.rsplit(":", 1)[1]))
        publish(client, "fw/clinic/main-meter/power", b"42")
        until(lambda: count(running.config.storage.path, "SELECT COUNT(*) FROM readings") == 1)
        client.disconnect()
        running.stop()


def test_the_agent_rides_out_a_broker_outage(tmp_path: Path) -> None:
    with private_broker(tmp_path / "first") as first:
        running = Agent(site_config(tmp_path / "agent.db", first.url))
        running.start()
        until(lambda: running.subscriber.subscribed)
    until(lambda: not running.subscriber.connected)
    with private_broker(tmp_path / "second", port=first.port):
        until(lambda: running.subscriber.subscribed, timeout=90)
        client = publisher(first.port)
        publish(client, "fw/clinic/main-meter/power", b"7")
        until(lambda: count(running.config.storage.path, "SELECT COUNT(*) FROM readings") == 1)
        client.disconnect()
        running.stop()


def test_a_batched_message_becomes_a_hundred_readings(agent: Agent, broker: Broker) -> None:
    db = agent.config.storage.path
    client = publisher(broker.port)
    batch = [{"ts": T0 + i, "value": -18.0} for i in range(100)]
    publish(client, "fw/clinic/freezer-1/temperature", batch)
    until(lambda: count(db, "SELECT COUNT(*) FROM readings") == 100)


def open_files() -> set[str]:
    """What this process's file descriptors point at (files, sockets, pipes)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the listing's own descriptor
            found.add(f"{fd} {os.readlink(f'/proc/self/fd/{fd}')}")
    return found


@pytest.mark.parametrize("hub_db_url", ["sqlite"], indirect=True)
def test_a_stopped_agent_leaves_nothing_open(
    tmp_path: Path, broker: Broker, hub: RunningHub
) -> None:
    # An embedding process (the tests, the demo) starts and stops agents many times.
    token = auth.create_agent(hub.hubdb, "clinic", now=time.time())
    config = site_config(tmp_path / "agent.db", broker.url, hub_url=hub.url, token=token)
    gc.collect()
    before = open_files()
    running = Agent(config)
    running.start()
    until(lambda: running.subscriber.subscribed)
    assert running.syncer is not None and running.metrics_port is not None
    until(lambda: running.syncer.status.last_ok is not None)
    running.stop()
    gc.collect()
    assert open_files() - before == set()
