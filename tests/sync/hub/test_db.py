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
    assert names == ([m.__name__ for m in MIGRATIONS], [])


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


def test_a_hub_from_before_bounded_stores_gains_their_tables(hub_db_url: str) -> None:
    hubdb = open_hub(hub_db_url)
    with hubdb.write() as conn:
        schema.site_stores.drop(conn)
        schema.rollups.drop(conn)
        done = schema.schema_migrations
        conn.execute(done.delete().where(done.c.name == "m005_bounded_store"))
    with hubdb.write() as conn:
        names = migrate(conn, 0.0)
        tables = set(inspect(conn).get_table_names())
    hubdb.close()
    assert (names, {"rollups", "site_stores"} <= tables) == (["m005_bounded_store"], True)


CLOCK_COLUMNS = ["clock_offset", "clock_round_trip", "clock_measured_at"]


def test_a_hub_from_before_clock_offsets_gains_the_columns_and_keeps_its_sites(
    hub_db_url: str,
) -> None:
    hubdb = open_hub(hub_db_url)
    with hubdb.write() as conn:
        for column in CLOCK_COLUMNS:
            conn.execute(text(f"ALTER TABLE sites DROP COLUMN {column}"))
        done = schema.schema_migrations
        conn.execute(done.delete().where(done.c.name == "m006_clock_offset"))
        conn.execute(text("INSERT INTO sites (id, name, quarantined) VALUES ('old', 'Old', 0)"))
    with hubdb.write() as conn:
        names = migrate(conn, 0.0)
        columns = [c["name"] for c in inspect(conn).get_columns("sites")]
        row = conn.execute(select(schema.sites.c.id, schema.sites.c.clock_offset)).one()
    hubdb.close()
    assert names == ["m006_clock_offset"]
    assert columns[-3:] == CLOCK_COLUMNS
    assert tuple(row) == ("old", None)


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


def test_a_hub_from_before_operator_actions_keeps_its_acknowledgements(hub_db_url: str) -> None:
    from sqlalchemy import create_engine

    from sync.hub.migrations import MIGRATIONS

    url = hub_db_url.replace("sqlite:///", "sqlite+pysqlite:///").replace(
        "postgresql://", "postgresql+psycopg://"
    )
    if hub_db_url.startswith("sqlite"):
        Path(hub_db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    else:  # the session's database already has today's tables: start from none
        current = open_hub(hub_db_url)
        with current.write() as conn:
            schema.metadata.drop_all(conn)
        current.close()
    engine = create_engine(url)
    with engine.begin() as conn:
        schema.schema_migrations.create(conn)
        for old in MIGRATIONS[:2]:
            old(conn)
            conn.execute(schema.schema_migrations.insert().values(name=old.__name__, applied_at=0))
        conn.execute(
            text(
                "INSERT INTO alarms (id, site, rule, device, severity, message, raised_at,"
                " changed_at, active, activations, state) VALUES ('a1', 'clinic', 'freezer-warm',"
                " 'freezer-1', 'high', 'warm', 1, 1, true, 1, 'acknowledged')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO alarm_actions (site, alarm_id, action, by, at, activation)"
                " VALUES ('clinic', 'a1', 'ack', 'ann', 2, 1)"
            )
        )
    engine.dispose()
    hubdb = open_hub(hub_db_url)
    with hubdb.read() as conn:
        found = conn.execute(
            select(
                schema.alarm_actions.c.uid,
                schema.alarm_actions.c.rule,
                schema.alarm_actions.c.origin,
            )
        ).all()
        latched = conn.execute(select(schema.alarms.c.latched)).scalar()
    hubdb.close()
    # The uid an agent made for this action when it applied it (agent.actions.from_hub).
    assert (found, latched) == ([("hub-1", "freezer-warm", "hub")], False)


def test_a_hub_from_before_site_configs_gains_the_tables(hub_db_url: str) -> None:
    hubdb = open_hub(hub_db_url)
    with hubdb.write() as conn:
        schema.site_config_status.drop(conn)
        schema.site_configs.drop(conn)
        done = schema.schema_migrations
        conn.execute(done.delete().where(done.c.name == "m004_site_configs"))
    with hubdb.write() as conn:
        names = migrate(conn, 0.0)
        tables = set(inspect(conn).get_table_names())
    hubdb.close()
    assert (names, {"site_configs", "site_config_status"} <= tables) == (
        ["m004_site_configs"],
        True,
    )
