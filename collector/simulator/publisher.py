"""Sending a timeline to a broker: ``publish`` paces it against a clock, ``run`` drives paho."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from collector.simulator.behaviour import Message, timeline
from collector.simulator.devices import hospital
from collector.simulator.scenario import build_scenario

__all__ = ["main", "publish", "run"]


def publish(
    stream: Iterable[tuple[float, Message]],
    send: Callable[[Message], object],
    stop: threading.Event,
    clock: Callable[[], float] = time.time,
) -> int:
    """Send each message once the clock reaches its time; return how many were sent."""
    sent = 0
    for at, message in stream:
        if stop.wait(max(0.0, at - clock())):
            break
        send(message)
        sent += 1
    return sent


def run(
    mqtt_url: str,
    stop: threading.Event,
    *,
    site: str = "demo-hospital",
    timezone: str = "Asia/Shanghai",
    seed: int = 1,
    interval: float = 5.0,
    start: float | None = None,
) -> int:
    """Publish the demo hospital to a broker until ``stop`` is set."""
    parts = urlsplit(mqtt_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fw-simulator-{site}")
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    # connect_async: the broker may still be starting; paho keeps QoS 1 messages until it is up.
    client.connect_async(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    try:
        devices = hospital()
        begin = time.time() if start is None else start
        scenario = build_scenario(devices, site, timezone, begin, seed, interval=interval)
        stream = timeline(devices, scenario, seed)
        return publish(stream, lambda m: client.publish(m.topic, m.payload, qos=1), stop)
    finally:
        client.disconnect()
        client.loop_stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m collector.simulator", description="Publish the simulated demo hospital."
    )
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args(argv)
    stop = threading.Event()
    try:
        run(args.mqtt_url, stop, seed=args.seed, interval=args.interval)
    except KeyboardInterrupt:
        stop.set()
    return 0
