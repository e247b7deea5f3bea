"""A store thinned during an outage, then synced to the real hub (uvicorn, SQLite and PostgreSQL):
every reading arrives once, raw or inside one stand-in rollup, and the hub shows what was thinned.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from agent import outbox, store
from agent.retention import Policy, Retention
from agent.syncer import Syncer
from agent.writer import Writer
from rules.engine import Engine
from sync.client import SyncClient
from sync.hub import alarms, auth, schema
from tests.agent.retention.test_job import DAY, MAX_SIZE, T0, fill, incidents, tick
from tests.hubfixtures import RunningHub, bearer
from tests.support.site import site_config

BATCH = 2000


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    config = site_config(tmp_path / "agent.db", "mqtt://127.0.0.1:1")
    conn = store.open_store(config.storage.path, "clinic")
    policy = Policy(max_size=MAX_SIZE, keep_raw=30 * DAY, keep_rollups=400 * DAY, protect=BATCH)
    running = Writer(
        conn,
        Engine.restore(list(config.rules), T0, {}, []),
        commit_interval=0.01,
        retention=Retention(policy, "clinic", hub=True),
    )
    running.start()
    yield running
    running.stop()
    conn.close()


@pytest.fixture
def http(hub: RunningHub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.url, timeout=30, verify=False) as client:
        yield client


@pytest.fixture
def syncer(hub: RunningHub, http: httpx.Client, writer: Writer, tmp_path: Path) -> Syncer:
    token = auth.create_agent(hub.hubdb, "clinic", now=T0)
    return Syncer(
        store.connect(tmp_path / "agent.db", readonly=True),
        SyncClient(http, token),
        writer,
        site="clinic",
        devices=[],
        interval=1.0,
        batch_size=BATCH,
        max_size=MAX_SIZE,
    )


def sync_all(syncer: Syncer) -> None:
    while syncer.sync_once():
        pass


def at_hub(hub: RunningHub) -> tuple[int, int, int, int]:
    """Readings stored raw, readings inside rollups, rollups, gate events."""
    with hub.hubdb.read() as conn:
        raw = conn.scalar(select(func.count()).select_from(schema.readings))
        rolled = conn.scalar(select(func.coalesce(func.sum(schema.rollups.c.count), 0)))
        rollups = conn.scalar(select(func.count()).select_from(schema.rollups))
        gate = conn.scalar(select(func.count()).select_from(schema.access_events))
    return raw or 0, rolled or 0, rollups or 0, gate or 0


def test_thinned_readings_reach_the_hub_once_as_rollups(
    hub: RunningHub, http: httpx.Client, writer: Writer, syncer: Syncer
) -> None:
    incidents(writer)  # an alarm and 50 gate events, during the outage too
    fill(writer, 50_000)
    for n in range(20):  # the hub is away: nothing is acknowledged
        tick(writer, T0 + 60 + n)
    stand_ins = writer.conn.execute(
        "SELECT COUNT(*), SUM(count) FROM rollups WHERE replaces_through IS NOT NULL"
    ).fetchone()
    first = outbox.build_batch(syncer.conn, "clinic", limit=BATCH, now=T0 + 70, max_size=MAX_SIZE)
    sync_all(syncer)
    # A batch the hub already has (a lost answer, a restart) changes nothing there.
    syncer.client.push(first)
    raw, rolled, rollups, gate = at_hub(hub)
    with hub.hubdb.read() as conn:
        ranges = conn.execute(
            select(schema.rollups.c.replaces_after, schema.rollups.c.replaces_through).distinct()
        ).all()
        seqs = set(conn.scalars(select(schema.readings.c.seq)))
        held = [
            alarms.from_row(r).alarm.rule for r in conn.execute(select(schema.alarms)).mappings()
        ]
    assert stand_ins[0] > 0
    assert (raw + rolled, rollups, rolled, gate) == (50_001, stand_ins[0], stand_ins[1], 50)
    assert not any(after < seq <= through for after, through in ranges for seq in seqs)
    assert sorted(held) == ["freezer-warm", "storage_pressure"]
    _, api = auth.create_user(hub.hubdb, "ann", "maintenance", now=T0)
    site = http.get("/api/v1/sites", headers=bearer(api)).json()["items"][0]
    assert (site["store"]["max_size"], site["store"]["thinned"]["rolled_up"]) == (
        MAX_SIZE,
        stand_ins[1],
    )
