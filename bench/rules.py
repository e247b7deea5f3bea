"""Rule benchmark: what evaluating rules costs the agent, beside storing alone, in the same run.

    .venv/bin/python -m bench.rules [--devices 1000] [--readings 200000]

A site of N cold-room probes with ten rules each (four thresholds with on/off delays and
re-alarm, two rates, two stale rules, a door left open, a forced door) takes the same readings
through the real writer twice: once with the rules and once with none (the baseline: parse
excluded, store and commit included). It also times the engine alone. Readings arrive as the
agent sees them at its ingest rate: one reading a message, in commit batches.

Issue 4 asks for rule evaluations per second and the extra cost relative to storing alone.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import tempfile
import time
from pathlib import Path

from agent import store
from agent.config import SiteConfig, parse_site
from agent.writer import Entry, Tick, Writer
from collector.models import Reading
from rules.engine import Engine

T0 = 1_763_900_000.0
BATCH = 2_000  # entries a commit: what the writer gathers at a few thousand messages a second


def site_yaml(devices: int, rules: bool) -> str:
    lines = ["site: {id: bench, timezone: Asia/Shanghai}", "metrics: null", "devices:"]
    for i in range(devices):
        lines.append(f"  - {{id: p{i}, kind: temperature}}")
        lines.append(f"  - {{id: door{i}, kind: door}}")
    lines.append("  - {id: gate, kind: access_reader}")
    lines.append("rules:" if rules else "rules: []")
    for i in range(devices if rules else 0):
        probe, door = f"p{i}", f"door{i}"
        t = f"type: threshold, device: {probe}, metric: temperature"
        lines += [
            f"  - {{id: warm{i}, {t}, above: 8, for: 5m, off_for: 2m, realarm_after: 1h}}",
            f"  - {{id: hot{i}, {t}, above: 12, severity: high}}",
            f"  - {{id: cold{i}, {t}, below: 2, for: 10m}}",
            f"  - {{id: frozen{i}, {t}, below: 0, severity: critical}}",
            f"  - {{id: rise{i}, type: rate, device: {probe}, metric: temperature,"
            " rise_per_min: 0.5}",
            f"  - {{id: fall{i}, type: rate, device: {probe}, metric: temperature,"
            " fall_per_min: 1}",
            f"  - {{id: silent{i}, type: stale, device: {probe}, after: 15m}}",
            f"  - {{id: missing{i}, type: stale, device: {probe}, metric: temperature, after: 1h}}",
            f"  - {{id: ajar{i}, type: door_held, device: {door}, after: 2m}}",
            f"  - {{id: forced{i}, type: door_forced, device: {door}, reader: gate}}",
        ]
    return "\n".join(lines) + "\n"


def readings(devices: int, n: int) -> list[Reading]:
    """A probe reading every 30 s per device, mostly 4-6 °C, with the odd excursion, and door
    contacts for one reading in ten, now and then opened (without a swipe: forced)."""
    rng = random.Random(7)
    out = []
    for k in range(n):
        device = k % devices
        at = T0 + (k // devices) * 30.0 + device * 0.001
        if k % 10 == 9:
            out.append(Reading(f"door{device}", "contact", at, float(rng.random() < 0.02), at))
            continue
        # A compressor cycle (±1 °C an hour, well under the rate limits), sensor noise, and now
        # and then an excursion.
        cycle = math.sin(2 * math.pi * at / 3600 + device)
        value = 5.0 + cycle + rng.gauss(0, 0.02) + (8.0 if rng.random() < 0.002 else 0.0)
        out.append(Reading(f"p{device}", "temperature", at, round(value, 2), at))
    return out


def config(devices: int, rules: bool, db: Path) -> SiteConfig:
    text = site_yaml(devices, rules) + f'storage: {{path: "{db}"}}\n'
    parsed, _ = parse_site(text, env={})
    return parsed


def store_all(cfg: SiteConfig, data: list[Reading], rate: int) -> tuple[float, int]:
    """Seconds to store and evaluate every reading through the writer, and the alarm changes
    made. The scheduler ticks once a second of wall time, so at ``rate`` readings a second there
    is one tick for every ``rate`` readings (agent time in the data runs far faster)."""
    conn = store.open_store(cfg.storage.path, cfg.site.id)
    writer = Writer(conn, Engine(list(cfg.rules), T0))
    entries: list[Entry] = []
    for k, reading in enumerate(data):
        entries.append(((reading,), None))
        if k % rate == rate - 1:
            entries.append(((Tick(reading.received_at),), None))
    started = time.perf_counter()
    for i in range(0, len(entries), BATCH):
        writer._commit(entries[i : i + BATCH])
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, writer.stats.alarm_changes


def engine_alone(cfg: SiteConfig, data: list[Reading]) -> tuple[float, int]:
    engine = Engine(list(cfg.rules), T0)
    evaluations = sum(len(engine._series_for(r.device, r.metric)) for r in data)
    started = time.perf_counter()
    for reading in data:
        engine.on_reading(reading)
    return time.perf_counter() - started, evaluations


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--devices", type=int, default=1_000)
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument(
        "--rate", type=int, default=5_000, help="the agent's ingest rate (bench.ingest): readings/s"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # one log line per alarm change would time the terminal
    data = readings(args.devices, args.readings)
    with tempfile.TemporaryDirectory() as tmp:
        bare = config(args.devices, False, Path(tmp) / "bare.db")
        ruled = config(args.devices, True, Path(tmp) / "rules.db")
        base_s, _ = store_all(bare, data, args.rate)
        with_s, changes = store_all(ruled, data, args.rate)
        alone_s, evaluations = engine_alone(ruled, data)
    n = len(data)
    print(
        f"{args.devices} devices x 10 rules ({len(ruled.rules)} rules), {n} readings,"
        f" a tick every {args.rate} readings"
    )
    print(
        f"{'store alone (baseline)':36s} {n / base_s:12,.0f} readings/s {base_s / n * 1e6:8.1f} us"
    )
    print(f"{'store + rules':36s} {n / with_s:12,.0f} readings/s {with_s / n * 1e6:8.1f} us")
    extra = (with_s - base_s) / n * 1e6
    print(f"{'extra cost of the rules':36s} {extra:+.1f} us a reading ({with_s / base_s - 1:+.0%})")
    print(f"{'engine alone':36s} {evaluations / alone_s:12,.0f} rule evaluations/s")
    print(f"alarm changes made: {changes}")


if __name__ == "__main__":
    main()
