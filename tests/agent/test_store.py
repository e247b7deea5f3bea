from pathlib import Path

import pytest

from agent import store


def test_migrations_are_recorded_in_the_database(tmp_path: Path) -> None:
    conn = store.open_store(tmp_path / "a.db", "clinic")
    names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")]
    assert names == ["m001_initial"]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    store.open_store(tmp_path / "a.db", "clinic").close()
    conn = store.open_store(tmp_path / "a.db", "clinic")
    assert conn.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0] == 1


def test_a_store_belongs_to_one_site(tmp_path: Path) -> None:
    store.open_store(tmp_path / "a.db", "clinic").close()
    with pytest.raises(store.StoreError, match="site 'clinic'"):
        store.open_store(tmp_path / "a.db", "school")


def _insert(conn: object, n: int) -> None:
    for i in range(n):
        conn.execute(  # type: ignore[attr-defined]
            "INSERT INTO readings (device, metric, ts, value, received_at) VALUES (?,?,?,?,?)",
            ("d", "power", float(i), 1.0, float(i)),
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
