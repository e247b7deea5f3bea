from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from sync.hub import schema
from sync.hub.db import HubDB, database_url, open_hub
from sync.hub.errors import InvalidDatabaseURL
from sync.hub.migrations import MIGRATIONS, applied, migrate


def test_migrations_are_recorded_in_the_database(hubdb: HubDB) -> None:
    with hubdb.read() as conn:
        assert applied(conn) == [m.__name__ for m in MIGRATIONS]


def test_reopening_applies_nothing_twice(hub_db_url: str) -> None:
    open_hub(hub_db_url).close()
    again = open_hub(hub_db_url)
    with again.write() as conn:
        names = (applied(conn), migrate(conn, 0.0))
    again.close()
    assert names == (["m001_initial", "m002_meter_events", "m006_excursions"], [])


def test_a_hub_from_before_meter_events_gains_the_table(hub_db_url: str) -> None:
    hubdb = open_hub(hub_db_url)
    with hubdb.write() as conn:
        schema.meter_events.drop(conn)
        done = schema.schema_migrations
        conn.execute(done.delete().where(done.c.name == "m002_meter_events"))
    with hubdb.write() as conn:
        names = migrate(conn, 0.0)
        tables = inspect(conn).get_table_names()
        rows = list(conn.execute(select(schema.meter_events)))
    hubdb.close()
    assert (names, "meter_events" in tables, rows) == (["m002_meter_events"], True, [])


def test_a_sqlite_hub_creates_its_directory_and_uses_wal(tmp_path: Path) -> None:
    hubdb = open_hub(f"sqlite:///{tmp_path}/a/b/hub.db")
    with hubdb.read() as conn:
        settings = [
            conn.execute(text(f"PRAGMA {p}")).scalar() for p in ("journal_mode", "busy_timeout")
        ]
    hubdb.close()
    assert settings == ["wal", 30000]


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///hub-data/hub.db", "sqlite"),
        ("postgresql://fw@db.example/hub", "postgresql+psycopg"),
        ("postgresql+psycopg://fw@db.example/hub", "postgresql+psycopg"),
        ("postgres://fw@db.example/hub", "postgresql+psycopg"),
    ],
)
def test_database_urls(url: str, driver: str) -> None:
    assert database_url(url).drivername == driver


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://fw@db/hub", "use sqlite"),
        ("sqlite://", "must be a file"),
        ("sqlite:///:memory:", "must be a file"),
        ("not a url", "Could not parse"),
    ],
)
def test_unusable_database_urls(url: str, reason: str) -> None:
    with pytest.raises(InvalidDatabaseURL, match=reason):
        database_url(url)
