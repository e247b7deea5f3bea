"""Sync benchmark: buffered readings caught up over loopback, beside plain JSON, in the same run.

    .venv/bin/python -m bench.sync [--readings 1000000] [--db sqlite,postgresql]

An agent store holds N buffered readings of 200 series, as an outage leaves them: 100 cold-room
probes without a clock of their own (ts is the agent's arrival time, to the microsecond), 50
energy meters with millisecond clocks (kWh to 2 decimals), 50 plugs stamping whole seconds (W),
one reading a minute each. The real syncer (``agent.syncer``: outbox, columns, gzip, the agent's
default batch bounds) sends them to the real hub app under uvicorn on a loopback port until the
hub has acknowledged all; then, to a fresh hub, the same readings go as plain JSON batches of
1,000 (the baseline). Both count the bytes of the request bodies.

Target (issue 5): >= 50,000 readings/s and <= 12 bytes a reading on the wire. Agent and hub share
this process, so "per CPU s" (readings per second of this process's CPU time, both ends together)
says what the code costs when the machine is busy with other work and wall time does not.
"""

from __future__ import annotations

import argparse
import logging
import random
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

from agent import store
from agent.config import Hub, SiteConfig, parse_site
from agent.syncer import Syncer
from agent.writer import Writer
from rules.engine import Engine
from sync.client import SYNC_PATH, SyncClient
from sync.columns import Readings
from sync.hub import auth
from sync.hub.db import open_hub
from sync.protocol import SyncAck, SyncBatch
from tests.hubfixtures import serve_hub

T0 = 1_763_900_000.0
SITE = "bench"
SERIES = 200
BASELINE_BATCH = 1_000
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


def site_yaml(db: Path) -> str:
    devices = [f"  - {{id: probe-{i:03d}, kind: temperature}}" for i in range(100)]
    devices += [f"  - {{id: meter-{i:03d}, kind: power_meter}}" for i in range(50)]
    devices += [f"  - {{id: plug-{i:03d}, kind: power_meter}}" for i in range(50)]
    return f'site: {{id: {SITE}}}\nstorage: {{path: "{db}"}}\nmetrics: null\ndevices:\n' + (
        "\n".join(devices)
    )


def readings(n: int) -> Iterator[tuple[str, str, float, float, float]]:
    rng = random.Random(5)
    temps = [4.0] * 100
    for i in range(n):
        series, minute = i % SERIES, i // SERIES
        now = T0 + minute * 60 + series * 0.29 + rng.random() * 0.05
        if series < 100:
            temps[series] = min(8.0, max(1.0, temps[series] + rng.choice((-0.1, 0.0, 0.1))))
            yield f"probe-{series:03d}", "temperature", now, round(temps[series], 1), now
        elif series < 150:
            kwh = 1000 + series + minute * 0.25 + rng.randrange(3) / 100
            yield f"meter-{series - 100:03d}", "energy", round(now - 0.2, 3), round(kwh, 2), now
        else:
            watts = float(rng.randrange(40, 60))
            yield f"plug-{series - 150:03d}", "power", float(int(now)), watts, now


def fill(db: Path, n: int) -> None:
    conn = store.open_store(db, SITE)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO readings (device, metric, ts, value, received_at) VALUES (?, ?, ?, ?, ?)",
        readings(n),
    )
    conn.execute("COMMIT")
    conn.close()


@contextmanager
def hub_database(kind: str, workdir: Path, name: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir}/{name}/hub.db"
        return
    database = f"fw_bench_{name}_{secrets.token_hex(4)}"
    with psycopg.connect(f"{PG_SERVER}/test", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    try:
        yield f"{PG_SERVER}/{database}"
    finally:
        with psycopg.connect(f"{PG_SERVER}/test", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def hub_count(url: str) -> int:
    hubdb = open_hub(url)
    with hubdb.engine.connect() as conn:
        count: int = conn.exec_driver_sql("SELECT COUNT(*) FROM readings").scalar_one()
    hubdb.close()
    return count


def catch_up(config: SiteConfig, hub_url: str, db_url: str) -> tuple[float, float, int, int]:
    """The real syncer until nothing is waiting: seconds, CPU seconds, body bytes, batches."""
    token = auth.create_agent(open_hub(db_url), SITE, now=T0)
    conn = store.open_store(config.storage.path, SITE)
    store.set_cursor(conn, "readings", 0)  # a fresh hub: everything is owed again
    writer = Writer(conn, Engine.restore([], T0, {}, []), commit_interval=0.01)
    writer.start()
    hub = Hub(url=hub_url, token=token)  # the agent's default batch bounds
    with httpx.Client(base_url=hub_url, timeout=120) as http:
        client = SyncClient(http, token)
        syncer = Syncer(
            store.connect(config.storage.path, readonly=True),
            client,
            writer,
            site=SITE,
            devices=list(config.devices),
            interval=1.0,
            batch_size=hub.batch_size,
            batch_bytes=hub.batch_bytes,
        )
        started, cpu = time.perf_counter(), time.process_time()
        while syncer.sync_once():
            pass
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    writer.stop()
    conn.close()
    return elapsed, cpu, client.sent_bytes, syncer.status.batches


def baseline(db: Path, hub_url: str, db_url: str) -> tuple[float, float, int]:
    """The same readings as plain JSON, 1,000 a POST: seconds, CPU seconds, body bytes."""
    token = auth.create_agent(open_hub(db_url), SITE, now=T0)
    reader = store.connect(db, readonly=True)
    sent = 0
    after = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=hub_url, timeout=120) as http:
        started, cpu = time.perf_counter(), time.process_time()
        while True:
            rows = reader.execute(
                "SELECT id, device, metric, ts, value, received_at FROM readings"
                " WHERE id > ? ORDER BY id LIMIT ?",
                (after, BASELINE_BATCH),
            ).fetchall()
            if not rows:
                break
            chunk = Readings(after, rows[-1][0], rows).chunk()
            body = SyncBatch(site=SITE, sent_at=T0, readings=chunk).model_dump_json().encode()
            response = http.post(SYNC_PATH, content=body, headers=headers)
            response.raise_for_status()
            sent += len(body)
            after = SyncAck.model_validate_json(response.content).acked["readings"]
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    reader.close()
    return elapsed, cpu, sent


def run(kind: str, config: SiteConfig, workdir: Path, n: int) -> None:
    db = config.storage.path
    with hub_database(kind, workdir, "columns") as url, serve_hub(url) as hub:
        elapsed, cpu, sent, batches = catch_up(config, hub.url, url)
        assert hub_count(url) == n, "the hub does not hold every reading once"
    report(f"{kind}, agent (columns, gzip)", n, elapsed, cpu, sent, batches)
    with hub_database(kind, workdir, "json") as url, serve_hub(url) as hub:
        elapsed, cpu, sent = baseline(db, hub.url, url)
        assert hub_count(url) == n, "the baseline hub does not hold every reading once"
    report(f"{kind}, plain JSON, 1,000 a POST", n, elapsed, cpu, sent, -(-n // BASELINE_BATCH))


def report(name: str, n: int, elapsed: float, cpu: float, sent: int, posts: int) -> None:
    print(
        f"{name:34s} {n / elapsed:11,.0f} {n / cpu:11,.0f} {sent / n:10.2f} {elapsed:8.1f}"
        f" {posts:6d}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument(
        "--db",
        default="sqlite",
        help="hub databases, comma-separated: sqlite, postgresql (127.0.0.1:5432, trust)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        config, _ = parse_site(site_yaml(workdir / "agent.db"), env={})
        started = time.perf_counter()
        fill(config.storage.path, args.readings)
        print(f"{args.readings:,} readings buffered in {time.perf_counter() - started:.1f} s")
        print(
            f"{'hub, sender':34s} {'readings/s':>11s} {'per CPU s':>11s} {'B/reading':>10s}"
            f" {'seconds':>8s} {'POSTs':>6s}"
        )
        for kind in args.db.split(","):
            run(kind.strip(), config, workdir, args.readings)
    print("target: >= 50,000 readings/s and <= 12 bytes a reading on the wire")


if __name__ == "__main__":
    main()
