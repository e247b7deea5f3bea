"""Retention benchmark: what a slice of thinning costs the writer, per step.

    .venv/bin/python -m bench.retention [--max-size 40MB] [--devices 50]

Fills a store through the real writer until it passes 95% of ``max_size``, then ticks until the
pressure has gone, twice: once with the hub holding the older half of the readings (the agent
thins them: ``thin_synced``), once with the hub away (it rolls unsent ones up: ``roll_up_unsent``).
Each slice runs in the writer between ingest batches, so its time is how long ingest waits, once
a tick (issue 5: ingest latency stays low while the store is bounded).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from agent import store
from agent.retention import Policy, Retention, measure, thinned
from agent.writer import SyncAcked, Tick, Writer
from collector.models import Reading
from collector.size import format_size, parse_size
from rules.engine import Engine

T0 = 1_763_900_000.0
DAY = 86400.0


def run(path: Path, max_size: int, devices: int, hub_away: bool) -> str:
    conn = store.open_store(path, "bench")
    policy = Policy(max_size=max_size, keep_raw=30 * DAY, keep_rollups=400 * DAY, protect=5000)
    retention = Retention(policy, "bench", hub=True)
    writer = Writer(conn, Engine.restore([], T0, {}, []), retention=retention)
    writer.start()
    count = 0
    while measure(conn).size < 0.95 * max_size:
        batch = [
            Reading(f"m{i % devices}", "power", T0 + (count + i) / devices, float(i % 97), T0)
            for i in range(5000)
        ]
        writer.submit_many(batch)
        count += len(batch)
        assert writer.flush()
    if not hub_away:
        writer.submit(SyncAcked({"readings": count // 2}, [], [], T0))
    before, slices = measure(conn).size, []
    while True:
        spent = writer.stats.retention_seconds
        writer.submit(Tick(T0 + 60))
        assert writer.flush() and writer.flush()  # the second waits for the slice
        if retention.last_step is None:
            break
        slices.append(1000 * (writer.stats.retention_seconds - spent))
    rows = sum(thinned(conn).values())
    writer.stop()
    conn.close()
    p95 = statistics.quantiles(slices, n=20)[-1] if len(slices) > 1 else slices[0]
    return (
        f"{'hub away' if hub_away else 'hub holds half'}: {count} readings,"
        f" {format_size(before)} -> {format_size(measure(store.connect(path)).size)},"
        f" {rows} rows in {len(slices)} slices; slice p50 {statistics.median(slices):.0f} ms,"
        f" p95 {p95:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-size", default="40MB")
    parser.add_argument("--devices", type=int, default=50)
    args = parser.parse_args()
    for hub_away in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            print(run(Path(tmp) / "agent.db", parse_size(args.max_size), args.devices, hub_away))


if __name__ == "__main__":
    main()
