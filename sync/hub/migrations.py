"""Schema migrations, applied in order on open and recorded by name in ``schema_migrations``.

``schema.py`` declares the tables as they are after the last migration. ``m001_initial`` creates
them from it; a later change to a table adds a migration that alters it, and first copies the
table's old definition into ``m001_initial`` so that a new database still replays every step. A
table added later is created by its own migration and listed in ``_ADDED_LATER``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    text,
)

from sync.hub import schema

Migration = Callable[[Connection], None]

# Any constant: it only has to be the same for every process that migrates this database.
_PG_LOCK_KEY = 0x6677_6875_6200


_ADDED_LATER = frozenset(
    {
        schema.schema_migrations.name,
        schema.meter_events.name,
        schema.site_configs.name,
        schema.site_config_status.name,
        schema.rollups.name,
        schema.site_stores.name,
        schema.excursions.name,
    }
)


# Tables as m001_initial made them, before a later migration altered them.
_V1 = MetaData()
_SITES_V1 = Table(
    "sites",
    _V1,
    Column("id", String(100), primary_key=True),
    Column("name", Text, nullable=False),
    Column("timezone", String(100)),
    Column("last_sync_at", Double),
    Column("agent_version", String(100)),
    Column("quarantined", Integer, nullable=False, default=0),
)
_TABLES_V1 = [
    Table(
        "alarms",
        _V1,
        Column("id", String(100), primary_key=True),
        Column("site", String(100), nullable=False),
        Column("rule", String(200), nullable=False),
        Column("device", String(200), nullable=False),
        Column("metric", String(50)),
        Column("severity", String(50), nullable=False),
        Column("post", String(200)),
        Column("message", Text, nullable=False),
        Column("raised_at", Double, nullable=False),
        Column("changed_at", Double, nullable=False),
        Column("active", Boolean, nullable=False),
        Column("activations", Integer, nullable=False, server_default="1"),
        Column("value", Double),
        Column("acked_at", Double),
        Column("acked_by", String(200)),
        Column("cleared_at", Double),
        Column("state", String(30), nullable=False),
        Index("alarms_site_state", "site", "state"),
        Index("alarms_raised_at", "raised_at"),
    ),
    Table(
        "alarm_actions",
        _V1,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("site", String(100), nullable=False),
        Column("alarm_id", String(100), nullable=False),
        Column("action", String(20), nullable=False),
        Column("by", String(200), nullable=False),
        Column("at", Double, nullable=False),
        Column("note", Text),
        Column("activation", Integer),
        Column("applied_at", Double),
        Index("alarm_actions_site_applied", "site", "applied_at"),
    ),
]
_ALTERED_LATER = {t.name: t for t in (_SITES_V1, *_TABLES_V1)}


def m001_initial(conn: Connection) -> None:
    # The old definitions first: the others refer to them (sites.id).
    _V1.create_all(conn)
    skip = _ADDED_LATER | _ALTERED_LATER.keys()
    tables = [t for t in schema.metadata.sorted_tables if t.name not in skip]
    schema.metadata.create_all(conn, tables=tables)


def m002_meter_events(conn: Connection) -> None:
    schema.meter_events.create(conn)


def m003_operator_actions(conn: Connection) -> None:
    # Latched alarms with their dispositions, and the action log of both ends (rules.actions).
    for name in ("latched", "closed_at", "closed_by", "disposition"):
        _add_column(conn, schema.alarms, name)
    for name in ("uid", "rule", "until", "origin"):
        _add_column(conn, schema.alarm_actions, name)
    # The uid an agent gives an action from a hub that sent none (agent.actions.from_hub).
    conn.execute(text("UPDATE alarm_actions SET uid = 'hub-' || CAST(id AS VARCHAR(20))"))
    conn.execute(
        text(
            "UPDATE alarm_actions SET rule = (SELECT alarms.rule FROM alarms"
            " WHERE alarms.id = alarm_actions.alarm_id)"
        )
    )
    for index in schema.alarm_actions.indexes:
        if index.name in ("alarm_actions_uid", "alarm_actions_rule"):
            index.create(conn)


def _add_column(conn: Connection, table: Table, name: str) -> None:
    column = table.c[name]
    kind = column.type.compile(dialect=conn.dialect)
    default = column.server_default
    tail = "" if column.nullable else " NOT NULL"
    if default is not None:
        value = default.arg  # type: ignore[attr-defined]
        if isinstance(column.type, Boolean):
            value = "false" if value == "0" else "true"
        tail += f" DEFAULT {value}" if isinstance(column.type, Boolean) else f" DEFAULT '{value}'"
    conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}{tail}"))


def m004_site_configs(conn: Connection) -> None:
    schema.site_configs.create(conn)
    schema.site_config_status.create(conn)


def m005_bounded_store(conn: Connection) -> None:
    schema.rollups.create(conn)
    schema.site_stores.create(conn)


def m006_clock_offset(conn: Connection) -> None:
    for column in ("clock_offset", "clock_round_trip", "clock_measured_at"):
        conn.execute(text(f"ALTER TABLE sites ADD COLUMN {column} DOUBLE PRECISION"))


def m007_excursions(conn: Connection) -> None:
    schema.excursions.create(conn)


MIGRATIONS: list[Migration] = [
    m001_initial,
    m002_meter_events,
    m003_operator_actions,
    m004_site_configs,
    m005_bounded_store,
    m006_clock_offset,
    m007_excursions,
]


def migrate(conn: Connection, now: float) -> list[str]:
    """Apply what is missing, inside the caller's write transaction; return the names applied."""
    if conn.dialect.name == "postgresql":
        # Two processes opening a new database at once must not both create the tables.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    schema.schema_migrations.create(conn, checkfirst=True)
    done = set(conn.scalars(select(schema.schema_migrations.c.name)))
    applied = []
    for migration in MIGRATIONS:
        if migration.__name__ in done:
            continue
        migration(conn)
        conn.execute(
            schema.schema_migrations.insert().values(name=migration.__name__, applied_at=now)
        )
        applied.append(migration.__name__)
    return applied


def applied(conn: Connection) -> list[str]:
    query = select(schema.schema_migrations.c.name).order_by(schema.schema_migrations.c.name)
    return list(conn.scalars(query))
