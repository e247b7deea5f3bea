"""What the agent owes the hub, read from a real store (``agent.outbox``)."""

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import outbox, store
from sync import columns, envelope
from sync.protocol import MeterEventRecord

T0 = 1_763_900_000.0


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    opened = store.open_store(tmp_path / "agent.db", "plant")
    yield opened
    opened.close()


def add_meter_events(conn: sqlite3.Connection, n: int) -> None:
    conn.executemany(
        "INSERT INTO meter_events (device, metric, ts, kind, value, previous)"
        " VALUES ('m', 'energy', ?, 'reset', ?, ?)",
        [(T0 + i, float(i), None if i == 0 else 1000.0) for i in range(n)],
    )


def meter_seqs(conn: sqlite3.Connection, limit: int = 100) -> tuple[int, int, list[int]]:
    chunk = outbox.build_batch(conn, "plant", limit=limit, now=T0).meter_events
    assert chunk is not None
    return chunk.after, chunk.through, [e.seq for e in chunk.items]


def test_meter_events_go_out_numbered_by_their_row_ids(conn: sqlite3.Connection) -> None:
    add_meter_events(conn, 2)
    chunk = outbox.build_batch(conn, "plant", limit=10, now=T0).meter_events
    assert chunk is not None
    assert (chunk.after, chunk.through) == (0, 2)
    assert chunk.items == [
        MeterEventRecord(
            seq=1, device="m", metric="energy", ts=T0, kind="reset", value=0.0, previous=None
        ),
        MeterEventRecord(
            seq=2, device="m", metric="energy", ts=T0 + 1, kind="reset", value=1.0, previous=1000
        ),
    ]


def test_meter_events_resume_from_the_hubs_acknowledgement(conn: sqlite3.Connection) -> None:
    add_meter_events(conn, 5)
    first = meter_seqs(conn, limit=2)
    store.set_cursor(conn, "meter_events", 2)
    second = meter_seqs(conn, limit=2)
    store.set_cursor(conn, "meter_events", 5)
    assert (first, second, meter_seqs(conn)) == ((0, 2, [1, 2]), (2, 4, [3, 4]), (5, 5, []))


def test_a_new_store_behind_the_hub_renumbers_its_meter_events(conn: sqlite3.Connection) -> None:
    add_meter_events(conn, 2)
    store.set_cursor(conn, "meter_events", 1000)
    add_meter_events(conn, 1)
    assert meter_seqs(conn) == (1000, 1003, [1001, 1002, 1003])


def test_unsent_meter_events_are_counted(conn: sqlite3.Connection) -> None:
    add_meter_events(conn, 3)
    store.set_cursor(conn, "meter_events", 1)
    assert outbox.pending(conn) == {
        "readings": 0,
        "access_events": 0,
        "alarm_events": 0,
        "meter_events": 2,
        "actions": 0,
        "rollups": 0,
        "excursions": 0,
    }


@pytest.mark.parametrize(
    ("acked", "more"),
    [
        ({"readings": 0, "access_events": 0, "alarm_events": 0, "meter_events": 2}, True),
        # A hub from before meter events ignores them: resending them must not spin.
        ({"readings": 0, "access_events": 0, "alarm_events": 0}, False),
    ],
)
def test_a_full_stream_means_more_only_if_the_hub_took_it(
    conn: sqlite3.Connection, acked: dict[str, int], more: bool
) -> None:
    add_meter_events(conn, 3)
    batch = outbox.build_batch(conn, "plant", limit=2, now=T0)
    assert outbox.full(batch, 2, acked) is more


def add_rollups(conn: sqlite3.Connection, replaces: list[tuple[int, int] | None]) -> None:
    conn.executemany(
        "INSERT INTO rollups (device, metric, hour, count, min, max, sum, first_ts, first,"
        " last_ts, last, replaces_after, replaces_through)"
        " VALUES ('m', 'power', ?, 2, 1, 3, 4, ?, 1, ?, 3, ?, ?)",
        [(T0, T0, T0 + 60, *(r or (None, None))) for r in replaces],
    )


def test_only_rollups_that_stand_in_for_unsent_readings_go_to_the_hub(
    conn: sqlite3.Connection,
) -> None:
    add_rollups(conn, [None, (10, 30), None, (30, 35)])
    chunk = outbox.build_batch(conn, "plant", limit=100, now=T0).rollups
    assert chunk is not None
    assert (chunk.after, chunk.through) == (0, 4)
    assert [(r.seq, r.replaces_after, r.replaces_through, r.count) for r in chunk.items] == [
        (2, 10, 30, 2),
        (4, 30, 35, 2),
    ]
    store.set_cursor(conn, "rollups", 2)
    assert outbox.pending(conn)["rollups"] == 1


def test_a_new_store_behind_the_hub_renumbers_what_its_rollups_replace(
    conn: sqlite3.Connection,
) -> None:
    add_rollups(conn, [(0, 5)])
    store.set_cursor(conn, "readings", 1000)
    chunk = outbox.build_batch(conn, "plant", limit=100, now=T0).rollups
    assert chunk is not None
    assert [(r.replaces_after, r.replaces_through) for r in chunk.items] == [(1000, 1005)]


def test_every_batch_reports_the_store(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO thinned (kind, count) VALUES ('synced', 12), ('expired', 3)")
    report = outbox.build_batch(conn, "plant", limit=100, now=T0, max_size=10**9).store
    assert report is not None
    assert (report.max_size, report.pressure, report.thinned) == (
        10**9,
        False,
        {"expired": 3, "synced": 12},
    )
    assert 0 < report.size < 10**6


def add_readings(conn: sqlite3.Connection, n: int, device: str = "probe") -> None:
    conn.execute("BEGIN")  # one commit: the store syncs every one to disk
    conn.executemany(
        "INSERT INTO readings (device, metric, ts, value, received_at) VALUES (?, 't', ?, ?, ?)",
        [(device, T0 + 60 * i, 4 + i / 10, T0 + 60 * i) for i in range(n)],
    )
    conn.execute("COMMIT")


def add_access(conn: sqlite3.Connection, n: int) -> None:
    conn.executemany(
        "INSERT INTO access_events (device, ts, card, result, received_at)"
        " VALUES ('gate', ?, '0001', 'granted', ?)",
        [(T0 + i, T0 + i) for i in range(n)],
    )


def add_alarm_events(conn: sqlite3.Connection, n: int) -> None:
    snapshot = json.dumps(
        {
            "id": "a1",
            "rule": "warm",
            "device": "probe",
            "severity": "high",
            "message": "probe warm " + "ü" * 200,
            "raised_at": T0,
            "changed_at": T0,
            "active": True,
        }
    )
    conn.executemany(
        "INSERT INTO alarm_events (alarm_id, kind, at, snapshot) VALUES ('a1', 'raised', ?, ?)",
        [(T0 + i, snapshot) for i in range(n)],
    )


def body_size(out: outbox.Outgoing) -> int:
    """Bytes of the body before compression, as ``sync.envelope`` writes it."""
    if out.readings is None:
        return len(out.batch.model_dump_json().encode())
    head = out.batch.model_dump_json(exclude={"readings"}).encode()
    return envelope.ENVELOPE_BYTES + len(head) + len(columns.encode(out.readings))


@pytest.mark.parametrize("as_columns", [False, True])
@pytest.mark.parametrize("max_bytes", [64 * 1024, 128 * 1024])
def test_a_batch_stays_within_its_bytes(
    conn: sqlite3.Connection, as_columns: bool, max_bytes: int
) -> None:
    add_alarm_events(conn, 20)
    add_access(conn, 100)
    add_readings(conn, 5000, device="Kühlraum-" + "x" * 40)
    out = outbox.build(
        conn, "plant", limit=100_000, now=T0, max_bytes=max_bytes, columns=as_columns
    )
    sent = out.readings.rows if out.readings else out.batch.readings.items  # type: ignore[union-attr]
    assert max_bytes * 0.5 < body_size(out) <= max_bytes
    assert 0 < len(sent) < 5000
    assert out.more == {"readings"}


def test_a_record_over_the_budget_still_goes_alone(conn: sqlite3.Connection) -> None:
    add_alarm_events(conn, 3)
    out = outbox.build(conn, "plant", limit=10, now=T0, max_bytes=100)
    assert [e.seq for e in out.batch.alarm_events.items] == [1]  # type: ignore[union-attr]
    assert out.more == {"alarm_events"}


@pytest.mark.parametrize("as_columns", [False, True])
def test_readings_wait_while_access_events_are_behind(
    conn: sqlite3.Connection, as_columns: bool
) -> None:
    add_readings(conn, 5)
    add_access(conn, 3)
    first = outbox.build(conn, "plant", limit=2, now=T0, columns=as_columns)
    store.set_cursor(conn, "access_events", 2)
    second = outbox.build(conn, "plant", limit=2, now=T0, columns=as_columns)
    assert [e.seq for e in first.batch.access_events.items] == [1, 2]  # type: ignore[union-attr]
    assert readings_of(first) == (0, 0, [])
    assert first.more == {"access_events", "readings"}
    assert [e.seq for e in second.batch.access_events.items] == [3]  # type: ignore[union-attr]
    assert readings_of(second) == (0, 2, [1, 2])


def test_alarm_events_take_the_bytes_before_readings(conn: sqlite3.Connection) -> None:
    add_readings(conn, 1000)
    add_alarm_events(conn, 100)
    out = outbox.build(conn, "plant", limit=1000, now=T0, max_bytes=32 * 1024, columns=True)
    assert 0 < len(out.batch.alarm_events.items) < 100  # type: ignore[union-attr]
    assert readings_of(out) == (0, 0, [])


def test_a_stream_an_older_hub_ignores_holds_nothing_back(conn: sqlite3.Connection) -> None:
    add_readings(conn, 2)
    add_meter_events(conn, 5)
    older = {"readings", "access_events", "alarm_events"}
    out = outbox.build(conn, "plant", limit=2, now=T0, hub_streams=older, columns=True)
    assert readings_of(out) == (0, 2, [1, 2])


def readings_of(out: outbox.Outgoing) -> tuple[int, int, list[int]]:
    if out.readings is not None:
        return out.readings.after, out.readings.through, [r[0] for r in out.readings.rows]
    chunk = out.batch.readings
    assert chunk is not None
    return chunk.after, chunk.through, [r.seq for r in chunk.items]
