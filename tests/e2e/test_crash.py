"""Not one message lost: 20,000 QoS 1 messages, the agent killed with SIGKILL three times while
they arrive and restarted each time; exactly 20,000 readings at the end."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.agent import wait_subscribed
from tests.support.mosquitto import Broker
from tests.support.site import publish, publisher, site_yaml
from tests.support.sqlite import connected, scalar
from tests.support.wait import until

MESSAGES = 20_000
KILL_AT = (3_000, 8_000, 13_000)
T0 = 1_763_900_000.0


def stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        count: int = scalar(db, "SELECT COUNT(*) FROM readings", timeout=30)
        return count
    except sqlite3.OperationalError:  # the first migration has not run yet
        return 0


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "agent", "agent", "run", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def reached(db: Path, mark: int) -> Callable[[], bool]:
    return lambda: stored(db) >= mark


def publish_all(port: int) -> None:
    client = publisher(port)
    for i in range(MESSAGES):
        # Device timestamps identify a message that is delivered again after a kill.
        payload = json.dumps({"ts": T0 + i / 1000, "value": float(i)})
        client.publish("fw/clinic/main-meter/power", payload, qos=1)
    publish(client, "fw/clinic/main-meter/energy", {"ts": T0, "value": 1.0})
    client.disconnect()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_three_times_loses_and_duplicates_nothing(tmp_path: Path, broker: Broker) -> None:
    db = tmp_path / "agent.db"
    config = tmp_path / "site.yaml"
    config.write_text(site_yaml(db, broker.url))
    log = tmp_path / "agent.log"
    agent = start(config, log)
    wait_subscribed(log)
    sender = threading.Thread(target=publish_all, args=(broker.port,))
    sender.start()
    for mark in KILL_AT:
        until(reached(db, mark), timeout=120)
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(10)
        agent = start(config, log)
    sender.join(300)
    try:
        until(lambda: stored(db) == MESSAGES + 1, timeout=180)
        with connected(db) as conn:
            values = [v for (v,) in conn.execute("SELECT value FROM readings WHERE metric='power'")]
        assert sorted(values) == [float(i) for i in range(MESSAGES)]
    finally:
        agent.send_signal(signal.SIGINT)
        agent.wait(30)
