"""Readings go in many to a statement, yet each is judged alone and keeps its place."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import store
from agent.writer.rows import ROWS, insert_readings
from collector.models import Reading

T0 = 1_763_900_000.0


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = store.open_store(tmp_path / "agent.db", "clinic")
    yield connection
    connection.close()


def readings(n: int, start: int = 0) -> list[Reading]:
    return [
        Reading(f"d{i % 7}", "temperature", T0 + i, 4.0 + i / 100, T0)
        for i in range(start, start + n)
    ]


def stored(conn: sqlite3.Connection) -> list[tuple[str, str, float, float, float]]:
    rows = conn.execute(
        "SELECT device, metric, ts, value, received_at FROM readings ORDER BY id"
    ).fetchall()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("n", [0, 1, ROWS - 1, ROWS, ROWS + 1, 2 * ROWS + 37])
def test_every_reading_is_stored_once_in_the_order_given(conn: sqlite3.Connection, n: int) -> None:
    given = readings(n)
    with conn:
        assert insert_readings(conn, given) == n
    assert stored(conn) == [tuple(r) for r in given]


def test_a_redelivered_reading_is_skipped_alone_wherever_it_falls(conn: sqlite3.Connection) -> None:
    first = readings(ROWS + 10)
    with conn:
        insert_readings(conn, first)
    # Old readings at both ends of a full statement and in the single-row tail, new ones between.
    again = [
        first[0],
        *readings(ROWS - 2, start=1000),
        first[ROWS + 5],
        *readings(3, start=5000),
        first[1],
    ]
    with conn:
        assert insert_readings(conn, again) == ROWS - 2 + 3
    new = [r for r in again if r not in first]
    assert stored(conn) == [tuple(r) for r in first + new]


def test_a_duplicate_inside_one_statement_counts_once(conn: sqlite3.Connection) -> None:
    batch = readings(ROWS)
    batch[50] = batch[10]
    with conn:
        assert insert_readings(conn, batch) == ROWS - 1
    assert len(stored(conn)) == ROWS - 1


def test_ids_never_go_back_after_the_newest_rows_are_deleted(conn: sqlite3.Connection) -> None:
    with conn:
        insert_readings(conn, readings(ROWS))
    top = conn.execute("SELECT MAX(id) FROM readings").fetchone()[0]
    with conn:
        conn.execute("DELETE FROM readings")
        insert_readings(conn, readings(ROWS, start=ROWS))
    assert conn.execute("SELECT MIN(id) FROM readings").fetchone()[0] == top + 1
