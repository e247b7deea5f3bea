import sqlite3
from pathlib import Path

import pytest

from agent import store
from tests.support.sqlite import connected


def test_a_store_is_written_ahead(tmp_path: Path) -> None:
    conn = store.open_store(tmp_path / "a.db", "clinic")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_new_store_gives_thinned_pages_back_and_an_older_one_keeps_its_mode(
    tmp_path: Path,
) -> None:
    with connected(tmp_path / "old.db") as old:
        old.execute("CREATE TABLE notes (text TEXT)")  # made by a version before this one
    modes = [
        store.open_store(tmp_path / name, "clinic").execute("PRAGMA auto_vacuum").fetchone()[0]
        for name in ("new.db", "old.db")
    ]
    assert modes == [2, 0]  # INCREMENTAL; NONE until someone runs VACUUM


def test_a_store_belongs_to_one_site(tmp_path: Path) -> None:
    store.open_store(tmp_path / "a.db", "clinic").close()
    with pytest.raises(store.StoreError, match="site 'clinic'"):
        store.open_store(tmp_path / "a.db", "school")


def insert_readings(conn: sqlite3.Connection, n: int) -> None:
    """``n`` more readings of one series, one a second."""
    first = conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
    conn.executemany(
        "INSERT INTO readings (device, metric, ts, value, received_at) VALUES (?,?,?,?,?)",
        [("d", "power", float(first + i), 1.0, float(first + i)) for i in range(n)],
    )


def test_cursor_follows_the_hub(tmp_path: Path) -> None:
    conn = store.open_store(tmp_path / "a.db", "clinic")
    insert_readings(conn, 5)
    store.set_cursor(conn, "readings", 3)
    assert store.cursors(conn) == {"readings": 3}
    assert [r[0] for r in conn.execute("SELECT id FROM readings")] == [1, 2, 3, 4, 5]


def test_a_new_store_is_renumbered_after_what_the_hub_already_holds(tmp_path: Path) -> None:
    conn = store.open_store(tmp_path / "a.db", "clinic")
    insert_readings(conn, 3)
    store.set_cursor(conn, "readings", 1000)
    assert [r[0] for r in conn.execute("SELECT id FROM readings")] == [1001, 1002, 1003]
    insert_readings(conn, 1)
    assert conn.execute("SELECT MAX(id) FROM readings").fetchone()[0] == 1004
    assert store.cursors(conn) == {"readings": 1000}
