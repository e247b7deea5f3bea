"""Ingest benchmark: how fast MQTT messages become committed rows, per device format.

    .venv/bin/python -m bench.ingest [--messages N] [--rounds R] [--naive-messages N]

Starts a private Mosquitto, queues N QoS 1 messages for each subscriber's persistent session while
it is away, then times how long the subscriber takes to drain them, from its connection to the
last message (the agent: committed). For every format, in the same run: a bare paho client that
only counts the same messages (the ceiling) and the real agent (parse, validate, rules evaluated,
batched commits, QoS 1 acknowledged only after the commit), with its MQTT session in a receiver
process of its own (``mqtt.receiver: process``, the default). Once, for the native format: the
agent all in one process (``receiver: thread``), and a naive subscriber that inserts each message
with sqlite-utils. The agent's start-up (to its connection; a receiver process is launched) is
shown apart: it is paid once, not per message.

Each format runs R rounds, bare and agent alternated, and shows medians with the range of the
agent's share: on a shared machine one drain of a second or two can be off by a third either way.
The CPU spent a message (this process's threads and the receiver process; the broker runs apart)
is steadier than the rates, and shows what the agent adds to paho's own work.

Targets (issues 2 and 3): single-reading messages >= 60% (issue 2) and >= 85% (issue 3) of the
ceiling and >= 5x the naive rate; batched (100 readings a message) >= 200,000 readings/s.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import median
from typing import Any

import paho.mqtt.client as mqtt
import sqlite_utils
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.config import parse_site
from agent.memory import tune_gc
from agent.runtime import Agent
from tests.support.mosquitto import private_broker

DEVICES = 100
T0 = 1_763_900_000.0


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str
    source: str  # the YAML of a device's source, with {i} for its number
    topic: Callable[[int], str]
    payload: Callable[[int], bytes]
    readings: int  # per message
    filter: str
    receiver: str = "process"  # mqtt.receiver


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


NATIVE = Scenario(
    "native, one reading",
    "temperature",
    "{{}}",
    lambda i: f"fw/bench/d{i % DEVICES}/temperature",
    lambda i: _json({"ts": T0 + i / 1000, "value": 4.0 + (i % 7) / 10}),
    1,
    "fw/bench/+/+",
)

SCENARIOS = [
    NATIVE,
    replace(NATIVE, name="native, one reading, one process", receiver="thread"),
    Scenario(
        "tasmota SENSOR (ENERGY)",
        "power_meter",
        "{{format: tasmota, topic: plug{i}}}",
        lambda i: f"tele/plug{i % DEVICES}/SENSOR",
        lambda i: _json(
            {
                "Time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + i)),
                "ENERGY": {"Total": 1000 + i / 1000, "Power": 45 + i % 10, "Voltage": 229},
            }
        ),
        2,
        "tele/+/SENSOR",
    ),
    Scenario(
        "zigbee2mqtt (temp, humidity, battery)",
        "temperature",
        "{{format: zigbee2mqtt, topic: probe{i}}}",
        lambda i: f"zigbee2mqtt/probe{i % DEVICES}",
        lambda i: _json(
            {"temperature": 4 + (i % 9) / 10, "humidity": 55.3, "battery": 90, "linkquality": 87}
        ),
        3,
        "zigbee2mqtt/+",
    ),
    Scenario(
        "shelly status switch:0",
        "power_meter",
        "{{format: shelly, topic: shellyplus-{i}}}",
        lambda i: f"shellyplus-{i % DEVICES}/status/switch:0",
        lambda i: _json({"id": 0, "apower": 182.4, "aenergy": {"total": 5321.7 + i}}),
        2,
        "+/status/switch:0",
    ),
    Scenario(
        "native batch, 100 readings",
        "temperature",
        "{{}}",
        lambda i: f"fw/bench/d{i % DEVICES}/temperature",
        lambda i: _json([{"ts": T0 + i + k / 1000, "value": 4.5} for k in range(100)]),
        100,
        "fw/bench/+/+",
    ),
]


def site_text(scenario: Scenario, port: int, client_id: str, db: Path) -> str:
    devices = "\n".join(
        f"  - {{id: d{i}, kind: {scenario.kind}, source: {scenario.source.format(i=i)}}}"
        for i in range(DEVICES)
    )
    metric = "temperature" if scenario.kind == "temperature" else "power"
    limit = 8 if metric == "temperature" else 50_000
    rules = "\n".join(
        f"  - {{id: high{i}, type: threshold, device: d{i}, metric: {metric}, above: {limit},"
        f" for: 5m}}\n  - {{id: silent{i}, type: stale, device: d{i}, after: 15m}}"
        for i in range(DEVICES)
    )
    return (
        f"site: {{id: bench, timezone: UTC}}\n"
        f'mqtt: {{url: "mqtt://127.0.0.1:{port}", client_id: "{client_id}",'
        f" receiver: {scenario.receiver}}}\n"
        f'storage: {{path: "{db}"}}\nmetrics: null\n'
        f"devices:\n{devices}\nrules:\n{rules}\n"
    )


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


def prepare_session(port: int, client_id: str, topic_filter: str) -> None:
    """Create the persistent session and its subscription, then leave."""
    c = client(client_id)
    connect(c, port)
    c.loop_start()
    c.subscribe(topic_filter, qos=1)
    time.sleep(0.3)
    c.disconnect()
    c.loop_stop()


def publish(port: int, scenario: Scenario, n: int) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    # No in-flight window: paho walks every queued message on each PUBACK while one is set, which
    # made publishing quadratic and, for large N, still running when the timed drain began.
    c.max_inflight_messages_set(0)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    last = None
    for i in range(n):
        last = c.publish(scenario.topic(i), scenario.payload(i), qos=1)
    assert last is not None
    last.wait_for_publish(300)
    if not last.is_published():
        raise TimeoutError("the broker did not take every message before the drain")
    c.disconnect()
    c.loop_stop()


@dataclass(frozen=True)
class Drain:
    seconds: float  # from the connection to the last message
    startup: float  # from the start to the connection


def drain_bare(port: int, client_id: str, n: int) -> Drain:
    done = threading.Event()
    count = [0]

    def on_message(*_: Any) -> None:
        count[0] += 1
        if count[0] == n:
            done.set()

    return _drain(client(client_id, on_message), port, done)


def drain_naive(port: int, client_id: str, n: int, workdir: Path) -> Drain:
    conn = sqlite3.connect(workdir / "naive.db", check_same_thread=False)
    table = sqlite_utils.Database(conn).table("readings")
    done = threading.Event()
    count = [0]

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        body = json.loads(message.payload)
        device, metric = message.topic.split("/")[2:4]
        table.insert({"device": device, "metric": metric, "ts": body["ts"], "value": body["value"]})
        count[0] += 1
        if count[0] == n:
            done.set()

    drained = _drain(client(client_id, on_message), port, done)
    conn.close()
    return drained


def _drain(c: mqtt.Client, port: int, done: threading.Event) -> Drain:
    connected: list[float] = []
    c.on_connect = lambda *_: connected.append(time.perf_counter())
    started = time.perf_counter()
    connect(c, port)
    c.loop_start()
    finished = done.wait(300)
    ended = time.perf_counter()
    c.disconnect()
    c.loop_stop()
    if not finished:
        raise TimeoutError("subscriber did not drain the queue")
    return Drain(ended - connected[0], connected[0] - started)


def drain_agent(scenario: Scenario, port: int, client_id: str, n: int, db: Path) -> Drain:
    config, _ = parse_site(site_text(scenario, port, client_id, db), env={})
    agent = Agent(config)
    expected = n * scenario.readings
    started = time.perf_counter()
    agent.start()
    # The broker sends the queue as soon as it has accepted the connection.
    while not agent.subscriber.connected:
        time.sleep(0.0005)
    connected = time.perf_counter()
    while agent.writer.stats.readings + agent.writer.stats.duplicates < expected:
        time.sleep(0.005)
    ended = time.perf_counter()
    agent.stop()
    reader = sqlite3.connect(db)
    stored = reader.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
    reader.close()
    quarantined = sum(agent.writer.stats.quarantined.values())
    assert quarantined == 0, f"{scenario.name}: {quarantined} payloads quarantined"
    assert stored + agent.writer.stats.duplicates == expected, f"{scenario.name}: {stored} rows"
    return Drain(ended - connected, connected - started)


def cpu_seconds() -> float:
    """This process's CPU and its ended children's (the agent's receiver, once stopped)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@dataclass(frozen=True)
class Round:
    """One drain by the bare client and one by the agent, of the same messages."""

    bare: float  # messages/s
    agent: float
    bare_cpu: float  # CPU seconds a message (every thread, and the receiver; not the broker)
    agent_cpu: float
    startup: float  # the agent's seconds from its start to its connection


def run(port: int, workdir: Path, scenario: Scenario, n: int, k: int) -> Round:
    measured: dict[str, tuple[Drain, float]] = {}
    for role in ("bare", "agent"):
        client_id = f"bench-{role}-{k}"
        prepare_session(port, client_id, scenario.filter)
        publish(port, scenario, n)
        cpu = cpu_seconds()
        if role == "bare":
            drained = drain_bare(port, client_id, n)
        else:
            drained = drain_agent(scenario, port, client_id, n, workdir / f"agent-{k}.db")
        measured[role] = (drained, (cpu_seconds() - cpu) / n)
    (bare, bare_cpu), (agent, agent_cpu) = measured["bare"], measured["agent"]
    return Round(n / bare.seconds, n / agent.seconds, bare_cpu, agent_cpu, agent.startup)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batched-messages", type=int, default=3_000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="bare and agent drains, alternated; the medians are shown (shared machines are noisy)",
    )
    parser.add_argument(
        "--naive-messages",
        type=int,
        default=2_000,
        help="the naive subscriber commits per message; fewer keep the run short",
    )
    args = parser.parse_args()
    # As `agent run` does, for the whole run: the bare client is measured under the same settings.
    tune_gc()
    with tempfile.TemporaryDirectory() as tmp, private_broker(Path(tmp) / "broker") as broker:
        workdir = Path(tmp)
        native = SCENARIOS[0]
        prepare_session(broker.port, "bench-naive", native.filter)
        publish(broker.port, native, args.naive_messages)
        naive = (
            args.naive_messages
            / drain_naive(broker.port, "bench-naive", args.naive_messages, workdir).seconds
        )
        print(
            f"{'format':38s} {'ceiling msg/s':>13s} {'agent msg/s':>11s} {'readings/s':>10s}"
            f" {'of ceiling':>10s} {'(range)':>11s} {'CPU us/msg bare':>15s} {'agent':>6s}"
            f" {'agent start s':>13s}"
        )
        for k, scenario in enumerate(SCENARIOS):
            n = args.batched_messages if scenario.readings >= 100 else args.messages
            rounds = [
                run(broker.port, workdir, scenario, n, k * args.rounds + r)
                for r in range(args.rounds)
            ]
            shares = [r.agent / r.bare for r in rounds]
            agent = median([r.agent for r in rounds])
            print(
                f"{scenario.name:38s} {median([r.bare for r in rounds]):13.0f} {agent:11.0f}"
                f" {agent * scenario.readings:10.0f} {median(shares):10.1%}"
                f" {min(shares):5.0%}-{max(shares):4.0%}"
                f" {median([r.bare_cpu for r in rounds]) * 1e6:15.1f}"
                f" {median([r.agent_cpu for r in rounds]) * 1e6:6.1f}"
                f" {median([r.startup for r in rounds]):13.3f}"
            )
            if k == 0:
                single = agent
        print(f"{'naive: sqlite-utils insert per message':40s} {'':14s} {naive:12.0f}")
        print(f"agent / naive (native, one reading): {single / naive:.1f}x   (target >= 5x)")
        print("targets: one reading a message >= 85% of the ceiling; batched >= 200,000 readings/s")


if __name__ == "__main__":
    main()
