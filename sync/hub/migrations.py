"""Schema migrations, applied in order on open and recorded by name in ``schema_migrations``.

``schema.py`` declares the tables as they are after the last migration. ``m001_initial`` creates
them from it; a later change to a table adds a migration that alters it, and first copies the
table's old definition into ``m001_initial`` so that a new database still replays every step. A
table added later is created by its own migration and listed in ``_ADDED_LATER``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select, text

from sync.hub import schema

Migration = Callable[[Connection], None]

# Any constant: it only has to be the same for every process that migrates this database.
_PG_LOCK_KEY = 0x6677_6875_6200


_ADDED_LATER = frozenset(
    {schema.schema_migrations.name, schema.meter_events.name, schema.excursions.name}
)


def m001_initial(conn: Connection) -> None:
    tables = [t for t in schema.metadata.sorted_tables if t.name not in _ADDED_LATER]
    schema.metadata.create_all(conn, tables=tables)


def m002_meter_events(conn: Connection) -> None:
    schema.meter_events.create(conn)


def m006_excursions(conn: Connection) -> None:
    # Numbered after the migrations other branches added meanwhile (m003-m005): applied by name,
    # in list order.
    schema.excursions.create(conn)


MIGRATIONS: list[Migration] = [m001_initial, m002_meter_events, m006_excursions]


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
