"""The hub database: one SQLAlchemy engine over a SQLite file or PostgreSQL, migrated on open.

SQLite runs in WAL mode so pages read while a sync writes; writers start with ``BEGIN IMMEDIATE``
so that two writers queue on ``busy_timeout`` instead of failing when a read lock cannot be
upgraded (SQLite's deadlock rule for deferred transactions).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, Table, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError

from sync.hub.errors import InvalidDatabaseURL
from sync.hub.migrations import migrate

BUSY_TIMEOUT_MS = 30_000
CACHE_KIB = 32 * 1024
_WRITE = "facilitywatch_write"

Insert = sqlite.Insert | postgresql.Insert


@dataclass(frozen=True)
class HubDB:
    engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction that commits on exit and rolls back on an exception."""
        with self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def insert(self, table: Table) -> Insert:
        """An INSERT that knows ``ON CONFLICT`` for this database's dialect."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def close(self) -> None:
        self.engine.dispose()


def open_hub(url: str, clock: Callable[[], float] = time.time) -> HubDB:
    """Connect to ``sqlite:///path`` or ``postgresql://...`` and apply missing migrations."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    else:
        engine = create_engine(parsed, pool_pre_ping=True)
    hubdb = HubDB(engine)
    try:
        with hubdb.write() as conn:
            migrate(conn, clock())
    except BaseException:
        hubdb.close()
        raise
    return hubdb


def database_url(url: str) -> URL:
    """Parse and check a hub database URL; ``postgresql://`` means the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise InvalidDatabaseURL(url, str(error)) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" or parsed.drivername == "postgres":
        return parsed.set(drivername="postgresql+psycopg")
    if backend != "sqlite":
        raise InvalidDatabaseURL(url, "use sqlite:///path/hub.db or postgresql://user@host/db")
    if parsed.database in (None, "", ":memory:"):
        # Each pooled connection would get its own empty in-memory database.
        raise InvalidDatabaseURL(url, "the SQLite database must be a file")
    return parsed


def _sqlite_engine(url: URL) -> Engine:
    assert url.database is not None
    Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url.set(drivername="sqlite+pysqlite"))
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # The driver's own implicit BEGIN (Python < 3.12) neither covers SELECTs nor DDL; we emit
    # BEGIN ourselves in _sqlite_begin (SQLAlchemy's documented recipe for pysqlite).
    dbapi_conn.isolation_level = None
    dbapi_conn.execute("PRAGMA journal_mode=WAL")
    dbapi_conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    dbapi_conn.execute("PRAGMA synchronous=NORMAL")
    dbapi_conn.execute("PRAGMA foreign_keys=ON")
    # 32 MiB of page cache, not 2: a catch-up inserts into four B-trees a reading (bench/sync.py:
    # a million readings stored ~20% faster). Taken as pages are used, a connection of the pool.
    dbapi_conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")


def _sqlite_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
