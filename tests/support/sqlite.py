"""A store read or written by a test beside the code under test, its connection closed after.

``with sqlite3.connect(path) as conn`` only commits or rolls back; the connection is a reference
cycle and stays open until the collector runs. A run that left them open passed 1,024 file
descriptors, and paho's ``select()`` failed on the next socket."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

# sqlite3.connect's own default.
TIMEOUT = 5.0


@contextmanager
def connected(path: str | Path, timeout: float = TIMEOUT) -> Iterator[sqlite3.Connection]:
    """Commits if the block ends normally, rolls back if it raises, and closes either way."""
    with closing(sqlite3.connect(path, timeout=timeout)) as conn, conn:
        yield conn


def rows(path: str | Path, sql: str, timeout: float = TIMEOUT) -> list[tuple[Any, ...]]:
    with connected(path, timeout) as conn:
        return conn.execute(sql).fetchall()


def scalar(path: str | Path, sql: str, timeout: float = TIMEOUT) -> Any:
    """The first column of the first row."""
    with connected(path, timeout) as conn:
        return conn.execute(sql).fetchone()[0]
