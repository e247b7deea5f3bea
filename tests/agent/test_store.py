import sqlite3
from pathlib import Path

import pytest

from agent import store


def test_migrations_are_recorded_in_the_database(tmp_path: Path) -> None:
    conn = store.open_store(tmp_path / "a.db", "clinic")
    names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")]
    assert names == [
        "m001_initial",
        "m002_one_row_per_message",
        "m003_meter_events",
        "m004_identity_includes_the_value",
        "m005_import_queue",
        "m006_notifications",
        "m007_notify_intents",
        "m008_operator_actions",
        "m009_notify_routing",
        "m010_hub_config",
        "m011_rollups",
        "m012_excursions",
    ]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    first = store.open_store(tmp_path / "a.db", "clinic")
    applied = first.execute("SELECT name, applied_at FROM _sqlite_migrations").fetchall()
    first.close()
    conn = store.open_store(tmp_path / "a.db", "clinic")
    assert conn.execute("SELECT name, applied_at FROM _sqlite_migrations").fetchall() == applied


def test_a_new_store_gives_thinned_pages_back_and_an_older_one_keeps_its_mode(
    tmp_path: Path,
) -> None:
    with sqlite3.connect(tmp_path / "old.db") as old:
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


def _insert(conn: sqlite3.Connection, n: int) -> None:
    first = conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
    conn.executemany(
        "INSERT INTO readings (device, metric, ts, value, received_at) VALUES (?,?,?,?,?)",
        [("d", "power", float(first + i), 1.0, float(first + i)) for i in range(n)],
    )


def test_cursor_follows_the_hub(tmp_path: Path) -> None:
    conn = store.open_store(tmp_path / "a.db", "clinic")
    _insert(conn, 5)
    store.set_cursor(conn, "readings", 3)
    assert store.cursors(conn) == {"readings": 3}
    assert [r[0] for r in conn.execute("SELECT id FROM readings")] == [1, 2, 3, 4, 5]


def test_a_new_store_is_renumbered_after_what_the_hub_already_holds(tmp_path: Path) -> None:
    conn = store.open_store(tmp_path / "a.db", "clinic")
    _insert(conn, 3)
    store.set_cursor(conn, "readings", 1000)
    assert [r[0] for r in conn.execute("SELECT id FROM readings")] == [1001, 1002, 1003]
    _insert(conn, 1)
    assert conn.execute("SELECT MAX(id) FROM readings").fetchone()[0] == 1004
    assert store.cursors(conn) == {"readings": 1000}


def test_upgrading_a_store_with_duplicate_rows_keeps_the_first(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "a.db")
    db = store.sqlite_utils.Database(conn)
    store.migrations.apply(db, stop_before="m002_one_row_per_message")
    _insert(conn, 2)
    conn.execute(
        "INSERT INTO readings (device, metric, ts, value, received_at) VALUES ('d','power',0,9,9)"
    )
    store.migrations.apply(db)
    assert conn.execute("SELECT id, value FROM readings ORDER BY id").fetchall() == [
        (1, 1.0),
        (2, 1.0),
    ]
