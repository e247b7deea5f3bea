"""The agent's sync job against the real hub under uvicorn, on SQLite and PostgreSQL: meter events
from the writer's counter checks reach the hub, in chunks, once, and resume from its cursor; a
store thinned during an outage delivers every reading once, raw or inside a stand-in rollup."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from agent import outbox, store
from agent.config import SiteConfig, parse_site
from agent.counters import CounterGuard
from agent.retention import Policy, Retention
from agent.runtime import Agent
from agent.syncer import Syncer
from agent.writer import Writer
from collector.models import Reading
from rules.engine import Engine
from sync import envelope
from sync.client import HubRejected, SyncClient
from sync.hub import alarms, auth, query, schema
from sync.hub.db import HubDB
from sync.hub.ingest import apply_batch
from tests.agent.retention.test_job import DAY, MAX_SIZE, fill, incidents, tick
from tests.hubfixtures import RunningHub, bearer
from tests.support.site import site_config
from tests.support.sqlite import connected

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
    with connected(config.storage.path) as conn:
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


BATCH = 2000


@pytest.fixture
def bounded_writer(tmp_path: Path) -> Iterator[Writer]:
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
def bounded_syncer(
    hub: RunningHub, http: httpx.Client, bounded_writer: Writer, tmp_path: Path
) -> Syncer:
    token = auth.create_agent(hub.hubdb, "clinic", now=T0)
    return Syncer(
        store.connect(tmp_path / "agent.db", readonly=True),
        SyncClient(http, token),
        bounded_writer,
        site="clinic",
        devices=[],
        interval=1.0,
        batch_size=BATCH,
        max_size=MAX_SIZE,
    )


def at_hub(hub: RunningHub) -> tuple[int, int, int, int]:
    """Readings stored raw, readings inside rollups, rollups, gate events."""
    with hub.hubdb.read() as conn:
        raw = conn.scalar(select(func.count()).select_from(schema.readings))
        rolled = conn.scalar(select(func.coalesce(func.sum(schema.rollups.c.count), 0)))
        rollups = conn.scalar(select(func.count()).select_from(schema.rollups))
        gate = conn.scalar(select(func.count()).select_from(schema.access_events))
    return raw or 0, rolled or 0, rollups or 0, gate or 0


def test_thinned_readings_reach_the_hub_once_as_rollups(
    hub: RunningHub, http: httpx.Client, bounded_writer: Writer, bounded_syncer: Syncer
) -> None:
    writer, syncer = bounded_writer, bounded_syncer
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
    with connected(config.storage.path) as conn:
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


def hub_readings(hubdb: HubDB) -> list[tuple[int, float]]:
    with hubdb.read() as conn:
        return [
            tuple(r) for r in conn.exec_driver_sql("SELECT seq, value FROM readings ORDER BY seq")
        ]


def rising(n: int) -> list[Reading]:
    return [meter(100.0 + i * 1.25, i) for i in range(n)]


def test_readings_go_in_columns_once_the_hub_says_it_reads_them(
    hub: RunningHub, writer: Writer, config: SiteConfig
) -> None:
    sent: list[str] = []
    hooks = {"request": [lambda request: sent.append(request.headers["content-type"])]}
    token = auth.create_agent(hub.hubdb, "plant", now=T0)
    with httpx.Client(base_url=hub.url, event_hooks=hooks, verify=False) as http:
        syncer = make_syncer(config, writer, SyncClient(http, token))
        feed(writer, rising(5))
        sync_all(syncer)
    assert sent == ["application/json", *[envelope.COLUMNS_TYPE] * 2]
    assert hub_readings(hub.hubdb) == [(i + 1, 100.0 + i * 1.25) for i in range(5)]


def older_hub(hubdb: HubDB, sent: list[str]) -> httpx.MockTransport:
    """The hub from before columns, over the real hub library: it reads every body as JSON and
    its acknowledgement names no other format."""

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["content-type"])
        encoding = request.headers.get("content-encoding", "")
        try:
            batch, _ = envelope.decode(request.content, "application/json", encoding)
        except envelope.BadBody as error:
            return httpx.Response(422, json={"detail": f"invalid sync batch: {error}"})
        ack = apply_batch(hubdb, "plant", batch, T0)
        return httpx.Response(200, content=ack.model_dump_json(exclude={"accepts"}))

    return httpx.MockTransport(handle)


def test_an_older_hub_gets_json(hubdb: HubDB, writer: Writer, config: SiteConfig) -> None:
    sent: list[str] = []
    with httpx.Client(base_url="http://hub", transport=older_hub(hubdb, sent)) as http:
        syncer = make_syncer(config, writer, SyncClient(http, "token"))
        feed(writer, rising(5))
        sync_all(syncer)
    assert sent == ["application/json"] * 3  # a first batch of two, then two and one
    assert [seq for seq, _ in hub_readings(hubdb)] == [1, 2, 3, 4, 5]


def test_a_hub_rolled_back_to_before_columns_gets_json_again(
    hubdb: HubDB, writer: Writer, config: SiteConfig
) -> None:
    sent: list[str] = []
    with httpx.Client(base_url="http://hub", transport=older_hub(hubdb, sent)) as http:
        client = SyncClient(http, "token")
        syncer = make_syncer(config, writer, client)
        feed(writer, rising(3))
        sync_all(syncer)
        client.columns = True  # what the hub said before it was rolled back
        feed(writer, rising(5)[3:])
        with pytest.raises(HubRejected):
            syncer.sync_once()
        sync_all(syncer)
    assert sent == [
        "application/json",
        "application/json",
        envelope.COLUMNS_TYPE,
        "application/json",
    ]
    assert [seq for seq, _ in hub_readings(hubdb)] == [1, 2, 3, 4, 5]


def make_syncer(config: SiteConfig, writer: Writer, client: SyncClient) -> Syncer:
    return Syncer(
        store.connect(config.storage.path, readonly=True),
        client,
        writer,
        site="plant",
        devices=list(config.devices),
        interval=1.0,
        batch_size=2,
    )


def test_the_back_off_cap_is_the_sites(tmp_path: Path) -> None:
    config = site_config(
        tmp_path / "agent.db",
        "mqtt://127.0.0.1:1",
        hub_url="http://127.0.0.1:1",
        token="t",
        hub_options="max_backoff: 20s",
    )
    agent = Agent(config)
    agent.start()  # no broker, no hub: both are retried in the background
    try:
        assert agent.syncer is not None
        assert agent.syncer.backoff.cap == 20.0
        assert max(agent.syncer.backoff.next_delay() for _ in range(50)) <= 20.0
    finally:
        agent.stop()
