"""The retention job in the real writer on a real store: retention by age, and a store filled past
a small max_size thinned in order, with storage_pressure raised and cleared."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import store
from agent.retention import Policy, Retention, measure, thinned
from agent.retention.job import RECLAIM_PAGES
from agent.writer import SyncAcked, Tick, Writer
from collector.models import AccessEvent, Reading
from rules.engine import Engine
from sync.protocol import ActionRecord
from tests.support.site import site_config

T0 = 1_763_900_000.0
DAY = 86400.0
MB = 1000**2
# Small, yet above what the WAL alone takes (its file counts too, up to ~4 MB).
MAX_SIZE = 8 * MB
PROTECT = 1000
# What the store holds that thinning must never touch.
KEPT = "SELECT (SELECT COUNT(*) FROM alarms), (SELECT COUNT(*) FROM alarm_events),"
KEPT += " (SELECT COUNT(*) FROM access_events), (SELECT COUNT(*) FROM meter_events)"


def start(db: Path, policy: Policy, hub: bool = True) -> Writer:
    config = site_config(db, "mqtt://127.0.0.1:1")
    conn = store.open_store(db, config.site.id)
    engine = Engine.restore(list(config.rules), T0, {}, [])
    retention = Retention(policy, config.site.id, hub=hub)
    writer = Writer(conn, engine, commit_interval=0.01, retention=retention)
    writer.start()
    return writer


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "agent.db"


def bounded(max_size: int | None = MAX_SIZE, keep_raw: float = 30 * DAY) -> Policy:
    return Policy(max_size=max_size, keep_raw=keep_raw, keep_rollups=400 * DAY, protect=PROTECT)


@pytest.fixture
def writer(db: Path) -> Iterator[Writer]:
    running = start(db, bounded())
    yield running
    running.stop()
    running.conn.close()


def tick(writer: Writer, now: float) -> None:
    """One tick and the retention slice after it (the second barrier waits for the slice)."""
    writer.submit(Tick(now))
    assert writer.flush() and writer.flush()


def fill(writer: Writer, count: int, at: float = T0) -> None:
    """``count`` readings of ten power meters, one a second each, received as they were made."""
    for start in range(0, count, 5000):
        writer.submit_many(
            [
                Reading(f"meter-{i % 10}", "power", at + i // 10, float(i % 97), at + i // 10)
                for i in range(start, min(count, start + 5000))
            ]
        )
    assert writer.flush()


def incidents(writer: Writer) -> None:
    """An alarm (the freezer warms) and gate events: things thinning must leave alone."""
    writer.submit(Reading("freezer-1", "temperature", T0, -3.0, T0))
    for n in range(50):
        writer.submit(AccessEvent("gate-north", T0 + n, f"{n:04}", "granted", "in", None, T0 + n))
    writer.conn.execute(
        "INSERT INTO meter_events (device, metric, ts, kind, value, previous)"
        " VALUES ('main-meter', 'energy', ?, 'reset', 1.0, 500.0)",
        (T0,),
    )
    assert writer.flush()


def acked(writer: Writer, readings: int, at: float) -> None:
    writer.submit(SyncAcked(cursors={"readings": readings}, actions=[], reported=[], at=at))
    assert writer.flush()


def rows(writer: Writer, sql: str) -> list[tuple[object, ...]]:
    return writer.conn.execute(sql).fetchall()


def one(writer: Writer, sql: str) -> tuple[object, ...]:
    found = writer.conn.execute(sql).fetchone()
    assert found is not None
    return tuple(found)


def test_readings_the_hub_holds_become_rollups_when_they_are_old(writer: Writer) -> None:
    fill(writer, 20_000)  # 2,000 s of ten meters
    acked(writer, 12_000, T0)
    for _ in range(6):  # slices of 2,000
        tick(writer, T0 + 30 * DAY + 1000)  # 30 days after the first 10,000 were received
    assert one(writer, "SELECT MIN(id), COUNT(*) FROM readings") == (10_001, 10_000)
    assert one(
        writer,
        "SELECT SUM(count), COUNT(DISTINCT device || hour), COUNT(replaces_through) FROM rollups",
    ) == (10_000, 10, 0)  # ten meters, one hour each, none a stand-in
    assert store.cursors(writer.conn)["readings"] == 12_000


def test_unsent_readings_are_kept_however_old_without_pressure(writer: Writer) -> None:
    fill(writer, 5000)
    tick(writer, T0 + 365 * DAY)
    assert one(writer, "SELECT COUNT(*) FROM readings") == (5000,)


def test_rollups_go_once_they_are_old_but_not_a_stand_in_the_hub_has_not_got(
    writer: Writer,
) -> None:
    writer.conn.executemany(
        "INSERT INTO rollups (device, metric, hour, count, min, max, sum, first_ts, first,"
        " last_ts, last, replaces_after, replaces_through) VALUES"
        " ('m', 'power', ?, 1, 0, 0, 0, ?, 0, ?, 0, ?, ?)",
        [(T0, T0, T0, None, None), (T0, T0, T0, 7, 9), (T0 + DAY, T0, T0, None, None)],
    )
    tick(writer, T0 + 400 * DAY + 1)
    assert rows(writer, "SELECT id FROM rollups ORDER BY id") == [(2,), (3,)]
    assert thinned(writer.conn) == {"rollups_expired": 1}


def test_under_pressure_what_the_hub_holds_goes_first_oldest_first(writer: Writer) -> None:
    incidents(writer)
    kept = one(writer, KEPT)
    fill(writer, 50_000)
    before, pages = measure(writer.conn), one(writer, "PRAGMA page_count")[0]
    acked(writer, 35_000, T0)
    for n in range(20):
        tick(writer, T0 + 60 + n)
    after = measure(writer.conn)
    counts = thinned(writer.conn)
    # Oldest first, and none of the 15,000 the hub has not got.
    assert one(writer, "SELECT MIN(id), MAX(id) FROM readings WHERE id > 35000") == (
        35_001,
        50_001,
    )
    assert counts["synced"] == one(writer, "SELECT MIN(id) - 1 FROM readings")[0]
    assert "rolled_up" not in counts
    assert after.size < 0.8 * MAX_SIZE <= 0.9 * MAX_SIZE <= before.size
    # Handed back to the disk (incremental auto-vacuum), not only freed inside the file.
    assert one(writer, "PRAGMA freelist_count")[0] < RECLAIM_PAGES
    assert one(writer, "PRAGMA page_count")[0] < pages
    assert rows(writer, "SELECT rule FROM alarms") == [("freezer-warm",)]
    assert one(writer, KEPT) == kept


def test_unsent_readings_are_rolled_up_only_when_nothing_else_is_left(writer: Writer) -> None:
    incidents(writer)
    kept = one(writer, KEPT)
    fill(writer, 50_000)
    tick(writer, T0 + 60)
    raised = one(writer, "SELECT id, state FROM alarms WHERE rule = 'storage_pressure'")
    for n in range(1, 20):
        tick(writer, T0 + 60 + n)
    stand_ins = rows(
        writer,
        "SELECT replaces_after, replaces_through, SUM(count) FROM rollups"
        " GROUP BY replaces_after ORDER BY replaces_after",
    )
    # The next sync batch's worth (the freezer's reading, then 999 of the fill) stays raw,
    # every later slice is a run of consecutive ids, all of them in its rollups.
    assert one(writer, "SELECT MIN(id) FROM readings") == (1,)
    assert stand_ins[0][0] == PROTECT
    assert [(a, t - a) for a, t, _ in stand_ins] == [(a, n) for a, _, n in stand_ins]
    assert [a for a, _, _ in stand_ins[1:]] == [t for _, t, _ in stand_ins[:-1]]
    assert raised[1] == "unacknowledged"
    assert str(raised[0]).startswith("agent-")
    cleared = one(writer, "SELECT state, active FROM alarms WHERE rule = 'storage_pressure'")
    assert cleared == ("cleared_unacknowledged", 0)
    assert measure(writer.conn).size < 0.8 * MAX_SIZE
    # Only what the pressure needed: it stops once the store is under the low-water mark.
    rolled_up = thinned(writer.conn)["rolled_up"]
    tick(writer, T0 + 80)
    assert thinned(writer.conn)["rolled_up"] == rolled_up < 50_000 - PROTECT
    kinds = [k for (k,) in rows(writer, "SELECT kind FROM alarm_events ORDER BY id")]
    assert kinds[-2:] == ["raised", "cleared"]
    assert one(writer, KEPT)[1:] == (kept[1] + 2, *kept[2:])


def test_the_hubs_acknowledgement_reaches_the_agents_own_alarm(writer: Writer) -> None:
    fill(writer, 50_000)
    tick(writer, T0 + 60)
    (alarm_id,) = one(writer, "SELECT id FROM alarms WHERE rule = 'storage_pressure'")
    ack = ActionRecord(id=7, alarm_id=str(alarm_id), action="ack", by="ann", at=T0 + 61)
    writer.submit(SyncAcked(cursors={}, actions=[ack], reported=[], at=T0 + 61))
    assert writer.flush()
    found = writer.conn.execute("SELECT state, acked_by FROM alarms WHERE id = ?", (alarm_id,))
    assert found.fetchall() == [("acknowledged", "ann")]


def test_without_a_hub_every_reading_counts_as_delivered(db: Path) -> None:
    writer = start(db, bounded(), hub=False)
    try:
        fill(writer, 50_000)
        for n in range(20):
            tick(writer, T0 + 60 + n)
        counts = thinned(writer.conn)
        stand_ins = one(writer, "SELECT COUNT(*) FROM rollups WHERE replaces_through IS NOT NULL")
    finally:
        writer.stop()
        writer.conn.close()
    assert (set(counts), stand_ins) == ({"synced"}, (0,))


def test_the_alarm_survives_a_restart_and_clears_after_it(db: Path) -> None:
    first = start(db, bounded())
    fill(first, 50_000)
    tick(first, T0 + 60)
    first.stop()
    first.conn.close()
    again = start(db, bounded())
    try:
        for n in range(1, 20):
            tick(again, T0 + 60 + n)
        found = rows(again, "SELECT state FROM alarms WHERE rule = 'storage_pressure'")
    finally:
        again.stop()
        again.conn.close()
    assert found == [("cleared_unacknowledged",)]


def test_a_failing_slice_rolls_back_alone_and_ingest_goes_on(
    writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(conn: sqlite3.Connection, now: float) -> list[object]:
        conn.execute("DELETE FROM readings")
        raise RuntimeError("a bug meets odd data")

    fill(writer, 100)
    assert writer.retention is not None
    monkeypatch.setattr(writer.retention, "run", broken)
    tick(writer, T0 + 60)
    fill(writer, 100, at=T0 + 100)
    assert (one(writer, "SELECT COUNT(*) FROM readings"), writer.stats.retention_errors) == (
        (200,),
        1,
    )
