"""The MQTT session in a process of its own (agent.relay, agent.receiver), against a real
private Mosquitto: nothing lost or doubled when either process dies, and nothing left behind."""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from agent.config import parse_site
from agent.relay import Relay
from agent.runtime import Agent
from collector.formats import build_router
from tests.agent.test_annunciator import Listener
from tests.support.agent import AgentProcess, wait_subscribed
from tests.support.mosquitto import Broker
from tests.support.site import publish, publisher, site_config, site_yaml
from tests.support.wait import until

POWER = "fw/clinic/main-meter/power"


def count(db: Path, sql: str = "SELECT COUNT(*) FROM readings") -> int:
    conn = sqlite3.connect(db)
    try:
        value: int = conn.execute(sql).fetchone()[0]
        return value
    finally:
        conn.close()


def children(pid: int) -> set[int]:
    """The processes ``pid`` started, from any of its threads (Linux)."""
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        found.update(int(child) for child in text.split())
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has ended


def test_the_session_runs_in_a_receiver_process_whose_log_is_the_agents(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent.mqtt")
    running = Agent(site_config(tmp_path / "agent.db", broker.url))
    assert isinstance(running.subscriber, Relay)
    running.start()
    until(lambda: running.subscriber.subscribed)
    receivers = children(os.getpid()) & {running.subscriber._process.pid}  # type: ignore[union-attr]
    assert len(receivers) == 1
    client = publisher(broker.port)
    for value in range(20):
        publish(client, POWER, str(value))
    until(lambda: count(running.config.storage.path) == 20)
    assert running.subscriber.received_by_format == {"native": 20}
    running.stop()
    client.disconnect()
    (receiver,) = receivers
    assert not alive(receiver)
    lines = [r.getMessage() for r in caplog.records if r.name == "agent.mqtt"]
    assert any(line.startswith("subscribed on 127.0.0.1:") for line in lines)


def test_a_receiver_that_dies_is_replaced_and_nothing_is_lost_or_doubled(
    agent: Agent, broker: Broker
) -> None:
    relay = agent.subscriber
    assert isinstance(relay, Relay) and relay._process is not None
    first = relay._process.pid
    client = publisher(broker.port)

    def send() -> None:
        for value in range(400):
            publish(client, POWER, {"ts": 1_763_900_000 + value, "value": value})

    sender = threading.Thread(target=send)
    sender.start()
    until(lambda: count(agent.config.storage.path) >= 50, every=0.005)
    os.kill(first, signal.SIGKILL)
    sender.join(60)
    until(lambda: count(agent.config.storage.path) == 400, timeout=30)
    assert relay.restarts == 1
    assert agent.metrics_port is not None
    metrics = httpx.get(f"http://127.0.0.1:{agent.metrics_port}/metrics").text
    assert "fw_mqtt_receiver_restarts_total 1.0" in metrics
    assert relay._process.pid != first
    until(lambda: relay.subscribed)
    client.disconnect()
    # Redelivered messages the first receiver had passed on are recognised, not stored again.
    assert count(agent.config.storage.path, "SELECT COUNT(DISTINCT ts) FROM readings") == 400


def test_a_committed_message_is_acknowledged_though_no_other_message_follows(
    agent: Agent, broker: Broker
) -> None:
    relay = agent.subscriber
    assert isinstance(relay, Relay) and relay._process is not None
    client = publisher(broker.port)
    publish(client, POWER, {"ts": 1_763_900_000, "value": 1})
    until(lambda: count(agent.config.storage.path) == 1)
    # Acknowledgements normally ride along with the next message; with none, they leave within
    # milliseconds. Half a second on, a receiver that dies has nothing left to be sent again.
    time.sleep(0.5)
    os.kill(relay._process.pid, signal.SIGKILL)
    until(lambda: relay.restarts == 1 and relay.subscribed, timeout=30)
    publish(client, POWER, {"ts": 1_763_900_001, "value": 2})
    until(lambda: count(agent.config.storage.path) == 2)
    client.disconnect()
    assert relay.received == 2
    assert agent.writer.stats.duplicates == 0


@pytest.fixture
def agent_process(tmp_path: Path, broker: Broker) -> Iterator[AgentProcess]:
    """``agent run`` in its own process; killed after the test if the test did not stop it."""
    process = AgentProcess(tmp_path, site_yaml(tmp_path / "agent.db", broker.url))
    yield process
    if process.running():
        process.kill()


def test_nothing_is_acknowledged_before_its_commit_and_the_receiver_dies_with_the_agent(
    agent_process: AgentProcess, broker: Broker
) -> None:
    process = agent_process
    process.start()
    process.wait_subscribed()
    assert process.process is not None
    agent_pid = process.process.pid
    (receiver,) = children(agent_pid)
    port = re.search(r"metrics on http://127.0.0.1:(\d+)/", process.log_text())
    assert port is not None
    # Hold the store's write lock: the writer cannot commit, so nothing may be acknowledged.
    blocker = sqlite3.connect(process.db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    client = publisher(broker.port)
    for value in range(100):
        publish(client, POWER, str(value))
    received = 'fw_messages_received_total{format="native"} 100.0'
    until(lambda: received in httpx.get(f"http://127.0.0.1:{port[1]}/metrics").text)
    process.kill()
    until(lambda: not alive(receiver))
    blocker.execute("ROLLBACK")
    blocker.close()
    process.start()
    until(lambda: process.count("SELECT COUNT(*) FROM readings") == 100, timeout=30)
    assert process.stop() == 0
    client.disconnect()


def test_a_sigterm_to_the_process_group_stops_the_agent_and_its_receiver_cleanly(
    tmp_path: Path, broker: Broker
) -> None:
    # As the demo's supervisor and systemd stop a service: every process of the group at once.
    config, log = tmp_path / "site.yaml", tmp_path / "agent.log"
    config.write_text(site_yaml(tmp_path / "agent.db", broker.url))
    with log.open("wb") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "agent", "agent", "run", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_subscribed(log)
        (receiver,) = children(agent.pid)
        os.killpg(agent.pid, signal.SIGTERM)
        assert agent.wait(30) == 0
        until(lambda: not alive(receiver))
        assert "receiver process ended" not in log.read_text()
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()


def test_a_publish_made_while_no_receiver_is_up_reaches_the_broker_once_one_is(
    tmp_path: Path, broker: Broker
) -> None:
    # As paho keeps a publish while the broker is away: an alarm state raised while the
    # receiver starts, or is being replaced, is not lost.
    config = site_config(tmp_path / "agent.db", broker.url)
    router = build_router(config.devices, config.site.id, ZoneInfo(config.site.timezone))
    relay = Relay(broker.url, router, lambda items, ack: None, client_id="relay-held")
    relay.publish("fw/clinic/alarms/a1", b'{"state": "unacknowledged"}', True)
    display = Listener(broker.port, "clinic")
    relay.start()
    try:
        until(lambda: display.states() == ["unacknowledged"])
    finally:
        relay.stop()
        display.close()


def test_a_receiver_that_cannot_be_started_is_tried_again(
    tmp_path: Path,
    broker: Broker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    launch = subprocess.Popen
    tries: list[object] = []

    def short_of_processes(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        tries.append(args)
        if len(tries) == 1:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        return launch(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", short_of_processes)
    running = Agent(site_config(tmp_path / "agent.db", broker.url))
    running.start()
    try:
        until(lambda: running.subscriber.subscribed, timeout=30)
    finally:
        running.stop()
    assert (len(tries), running.subscriber.restarts) == (2, 1)
    assert "the MQTT receiver process could not be started" in caplog.text


def test_a_stop_while_the_receiver_starts_leaves_nothing_running(
    tmp_path: Path, broker: Broker
) -> None:
    running = Agent(site_config(tmp_path / "agent.db", broker.url))
    before = children(os.getpid())
    running.start()
    running.stop()
    until(lambda: not {pid for pid in children(os.getpid()) - before if alive(pid)})


def test_the_single_process_layout_still_takes_every_message(
    tmp_path: Path, broker: Broker
) -> None:
    yaml = site_yaml(tmp_path / "agent.db", broker.url).replace(
        'client_id: "agent-clinic-', 'receiver: thread, client_id: "agent-clinic-'
    )
    config, _ = parse_site(yaml, env={})
    assert config.mqtt.receiver == "thread"
    running = Agent(config)
    assert not isinstance(running.subscriber, Relay)
    running.start()
    until(lambda: running.subscriber.subscribed)
    client = publisher(broker.port)
    for value in range(20):
        publish(client, POWER, str(value))
    until(lambda: count(config.storage.path) == 20)
    running.stop()
    client.disconnect()
