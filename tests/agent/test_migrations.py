from pathlib import Path

import sqlite_utils

from agent import store
from agent.migrations import migrations
from tests.agent.test_store import insert_readings


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


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    first = store.open_store(tmp_path / "a.db", "clinic")
    applied = first.execute("SELECT name, applied_at FROM _sqlite_migrations").fetchall()
    first.close()
    conn = store.open_store(tmp_path / "a.db", "clinic")
    assert conn.execute("SELECT name, applied_at FROM _sqlite_migrations").fetchall() == applied


def test_upgrading_a_store_with_duplicate_rows_keeps_the_first(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "a.db")
    db = sqlite_utils.Database(conn)
    migrations.apply(db, stop_before="m002_one_row_per_message")
    insert_readings(conn, 2)
    conn.execute(
        "INSERT INTO readings (device, metric, ts, value, received_at) VALUES ('d','power',0,9,9)"
    )
    migrations.apply(db)
    assert conn.execute("SELECT id, value FROM readings ORDER BY id").fetchall() == [
        (1, 1.0),
        (2, 1.0),
    ]
