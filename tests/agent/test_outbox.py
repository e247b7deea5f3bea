"""What the agent owes the hub, read from a real store (``agent.outbox``)."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import outbox, store
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
