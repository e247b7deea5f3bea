"""Ingest benchmark: how fast single-reading MQTT messages become committed rows.

    .venv/bin/python -m bench.ingest [--messages N]

Starts a private Mosquitto, queues N QoS 1 messages for each subscriber's persistent session while
it is away, then times how long the subscriber takes to drain them. Three subscribers, same run:

- ceiling: a bare paho client that only counts messages (what the broker and paho can deliver);
- naive:   parses each message and inserts it with sqlite-utils, one commit per message;
- agent:   the real agent (parse, validate, batched commits, rules evaluated, ack after commit).

Targets (issue 2): agent >= 60% of the ceiling and >= 5x the naive rate.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import sqlite_utils
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.config import parse_site
from agent.runtime import Agent
from tests.support.mosquitto import private_broker

SITE = """
site: {{id: bench, timezone: UTC}}
mqtt: {{url: "mqtt://127.0.0.1:{port}", client_id: "{client}"}}
storage: {{path: "{db}"}}
devices:
{devices}
rules:
{rules}
"""
DEVICES = 100


def site_text(port: int, client: str, db: Path) -> str:
    devices = "\n".join(f"  - {{id: t{i}, kind: temperature}}" for i in range(DEVICES))
    rules = "\n".join(
        f"  - {{id: warm{i}, type: threshold, device: t{i}, metric: temperature, above: 8,"
        f" for: 5m}}\n  - {{id: silent{i}, type: stale, device: t{i}, after: 15m}}"
        for i in range(DEVICES)
    )
    return SITE.format(port=port, client=client, db=db, devices=devices, rules=rules)


def client(client_id: str, on_message: Callable[..., None] | None = None) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if on_message:
        c.on_message = on_message
    return c


def connect(c: mqtt.Client, port: int) -> None:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 20_000
    c.connect("127.0.0.1", port, clean_start=False, properties=props)


def prepare_session(port: int, client_id: str) -> None:
    """Create the persistent session and its subscription, then leave."""
    c = client(client_id)
    connect(c, port)
    c.loop_start()
    c.subscribe("fw/bench/+/+", qos=1)[1]
    time.sleep(0.3)
    c.disconnect()
    c.loop_stop()


def publish(port: int, n: int) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    last = None
    base = time.time()
    for i in range(n):
        payload = json.dumps({"ts": base + i * 0.001, "value": 4.0 + (i % 7) * 0.1})
        last = c.publish(f"fw/bench/t{i % DEVICES}/temperature", payload, qos=1)
    assert last is not None
    last.wait_for_publish(120)
    c.disconnect()
    c.loop_stop()


def drain_bare(port: int, n: int) -> float:
    done = threading.Event()
    count = [0]

    def on_message(*_: Any) -> None:
        count[0] += 1
        if count[0] == n:
            done.set()

    c = client("bench-bare", on_message)
    return _drain(c, port, done)


def drain_naive(port: int, n: int, workdir: Path) -> float:
    conn = sqlite3.connect(workdir / "naive.db", check_same_thread=False)
    table = sqlite_utils.Database(conn)["readings"]
    done = threading.Event()
    count = [0]

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        body = json.loads(message.payload)
        device, metric = message.topic.split("/")[2:4]
        table.insert({"device": device, "metric": metric, "ts": body["ts"], "value": body["value"]})
        count[0] += 1
        if count[0] == n:
            done.set()

    c = client("bench-naive", on_message)
    return _drain(c, port, done)


def _drain(c: mqtt.Client, port: int, done: threading.Event) -> float:
    started = time.perf_counter()
    connect(c, port)
    c.loop_start()
    if not done.wait(300):
        c.disconnect()
        c.loop_stop()
        raise TimeoutError("subscriber did not drain the queue")
    elapsed = time.perf_counter() - started
    c.disconnect()
    c.loop_stop()
    return elapsed


def drain_agent(port: int, n: int, workdir: Path) -> float:
    config, _ = parse_site(site_text(port, "bench-agent", workdir / "agent.db"), env={})
    agent = Agent(config)
    started = time.perf_counter()
    agent.start()
    reader = sqlite3.connect(workdir / "agent.db")
    while agent.writer.stats.readings < n:
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    stored = reader.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
    agent.stop()
    assert stored == n, f"agent committed {stored} rows, expected {n}"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument(
        "--naive-messages",
        type=int,
        default=5_000,
        help="the naive subscriber commits per message; fewer keep the run short",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, private_broker(Path(tmp) / "broker") as broker:
        workdir = Path(tmp)
        runs: list[tuple[str, int, Callable[[int], float]]] = [
            ("ceiling: bare paho, count only", args.messages, lambda n: drain_bare(broker.port, n)),
            (
                "naive: sqlite-utils insert per message",
                args.naive_messages,
                lambda n: drain_naive(broker.port, n, workdir),
            ),
            (
                "agent: committed, rules evaluated",
                args.messages,
                lambda n: drain_agent(broker.port, n, workdir),
            ),
        ]
        rates: dict[str, float] = {}
        for (name, n, drain), client_id in zip(
            runs, ("bench-bare", "bench-naive", "bench-agent"), strict=True
        ):
            prepare_session(broker.port, client_id)
            publish(broker.port, n)
            elapsed = drain(n)
            rates[name] = n / elapsed
            print(f"{name:42s} {n:>8d} msgs {elapsed:8.2f} s {rates[name]:>10.0f} msg/s")
        ceiling, naive, agent = rates.values()
        print(f"agent / ceiling: {agent / ceiling:6.1%}   (target >= 60%)")
        print(f"agent / naive:   {agent / naive:6.1f}x   (target >= 5x)")


if __name__ == "__main__":
    main()
