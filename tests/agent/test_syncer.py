"""The agent's sync job against the real hub under uvicorn, on SQLite and PostgreSQL: meter events
from the writer's counter checks reach the hub, in chunks, once, and resume from its cursor."""

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent import outbox, store
from agent.config import SiteConfig, parse_site
from agent.counters import CounterGuard
from agent.syncer import Syncer
from agent.writer import Writer
from collector.models import Reading
from rules.engine import Engine
from sync.client import SyncClient
from sync.hub import auth, query
from tests.hubfixtures import RunningHub, bearer

T0 = 1_763_900_000.0
SITE = """
site: {{id: plant}}
storage: {{path: "{db}"}}
devices:
  - {{id: m, kind: power_meter, counter: {{max_rate_per_hour: 500, rollover_at: 100000}}}}
  - {{id: w, kind: water_meter}}
"""


@pytest.fixture
def config(tmp_path: Path) -> SiteConfig:
    parsed, _ = parse_site(SITE.format(db=tmp_path / "agent.db"), env={})
    return parsed


@pytest.fixture
def writer(config: SiteConfig) -> Iterator[Writer]:
    conn = store.open_store(config.storage.path, "plant")
    guard = CounterGuard(conn, config.device_map())
    running = Writer(conn, Engine.restore([], T0, {}, []), commit_interval=0.01, guard=guard)
    running.start()
    yield running
    running.stop()
    conn.close()


@pytest.fixture
def syncer(hub: RunningHub, config: SiteConfig, writer: Writer) -> Iterator[Syncer]:
    token = auth.create_agent(hub.hubdb, "plant", now=T0)
    with httpx.Client(base_url=hub.url, timeout=30, verify=False) as http:
        yield Syncer(
            store.connect(config.storage.path, readonly=True),
            SyncClient(http, token),
            writer,
            site="plant",
            devices=list(config.devices),
            interval=1.0,
            batch_size=2,
        )


def meter(value: float, minutes: float, device: str = "m") -> Reading:
    metric = "energy" if device == "m" else "water"
    return Reading(device, metric, T0 + minutes * 60, value, T0 + minutes * 60)


def feed(writer: Writer, readings: list[Reading]) -> None:
    for reading in readings:
        writer.submit(reading)
    assert writer.flush()


def sync_all(syncer: Syncer) -> int:
    batches = 1
    while syncer.sync_once():
        batches += 1
    return batches


def hub_events(hub: RunningHub) -> list[tuple[int, str, str, float, float | None]]:
    _, api = auth.create_user(hub.hubdb, "wu", "energy")
    with httpx.Client(base_url=hub.url, verify=False) as http:
        response = http.get("/api/v1/meter-events", headers=bearer(api))
    return [
        (e["seq"], e["device"], e["kind"], e["value"], e["previous"])
        for e in response.json()["items"]
    ]


def cursors(config: SiteConfig) -> dict[str, int]:
    with sqlite3.connect(config.storage.path) as conn:
        return store.cursors(conn)


def test_meter_events_reach_the_hub_in_chunks(
    hub: RunningHub, writer: Writer, syncer: Syncer, config: SiteConfig
) -> None:
    feed(
        writer,
        [
            meter(99_990, 0),
            meter(5, 60),  # rollover
            meter(10, 240),  # gap
            meter(2, 250),  # reset
            meter(3, 0, "w"),
            meter(2.9995, 5, "w"),  # jitter
        ],
    )
    # Two records a stream a batch: six readings fill three, and the fourth finds nothing more.
    assert sync_all(syncer) == 4
    assert hub_events(hub) == [
        (4, "w", "jitter", 2.9995, 3.0),
        (1, "m", "rollover", 5.0, 99_990.0),
        (2, "m", "gap", 10.0, 5.0),
        (3, "m", "reset", 2.0, 10.0),
    ]
    assert cursors(config)["meter_events"] == 4


def test_the_next_sync_resumes_after_what_the_hub_acknowledged(
    hub: RunningHub, writer: Writer, syncer: Syncer
) -> None:
    feed(writer, [meter(100, 0), meter(5, 10)])
    sync_all(syncer)
    feed(writer, [meter(1, 20)])
    batch = outbox.build_batch(syncer.conn, "plant", limit=10, now=T0)
    assert batch.meter_events is not None
    assert [(batch.meter_events.after, e.seq) for e in batch.meter_events.items] == [(1, 2)]
    sync_all(syncer)
    assert [seq for seq, *_ in hub_events(hub)] == [1, 2]


def test_a_batch_whose_answer_was_lost_is_stored_once(
    hub: RunningHub, writer: Writer, syncer: Syncer
) -> None:
    feed(writer, [meter(100, 0), meter(5, 10), meter(1, 20)])
    batch = outbox.build_batch(syncer.conn, "plant", limit=10, now=T0)
    acks = [syncer.client.push(batch).acked["meter_events"] for _ in range(2)]
    assert (acks, [seq for seq, *_ in hub_events(hub)]) == ([2, 2], [1, 2])


def test_a_clock_two_minutes_slow_is_measured_kept_reported_and_alarmed_at_the_hub(
    hub: RunningHub, writer: Writer, syncer: Syncer, config: SiteConfig
) -> None:
    slow = Syncer(
        syncer.conn,
        syncer.client,
        writer,
        site="plant",
        devices=[],
        interval=1.0,
        batch_size=10,
        clock=lambda: time.time() - 120,
    )
    assert slow.sync_once() is False
    measured = slow.status.clock
    assert measured is not None
    # Off by 120 s, give or take half the round trip (and the hub's clock read, to a ms).
    assert abs(measured.offset - 120) <= measured.round_trip / 2 + 0.01
    with sqlite3.connect(config.storage.path) as conn:
        assert store.clock(conn) == measured
    assert outbox.build_batch(syncer.conn, "plant", limit=10, now=T0).clock == measured
    slow.sync_once()
    [site] = query.sites(hub.hubdb)
    assert site.clock_offset == measured.offset
    [raised] = query.alarms(hub.hubdb)
    assert (raised.alarm.rule, raised.alarm.message) == (
        "clock_offset",
        "the clock of site plant's agent is 120 s behind the hub's",
    )
