"""The agent's SQLite database: connections and the queries the agent reads; its schema is
``agent.migrations``.

Only the writer thread writes (see ``agent.writer``); everything else opens its own read
connection, which WAL keeps consistent while the writer commits.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlite_utils

from agent.migrations import migrations
from rules.alarm import Alarm
from rules.engine import RuleState
from rules.excursion import ExcursionRecord
from rules.kinds import load_state
from sync.protocol import ClockReport

WAL_SIZE_LIMIT = 4 * 1024 * 1024


class StoreError(RuntimeError):
    """The database cannot be used (wrong site, unreadable file)."""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if not readonly:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    if not readonly:
        # Before anything creates the file's first table (and before WAL, which writes the
        # header): a new store hands thinned pages back to the disk (agent.retention.job). An
        # existing store keeps its mode; switching would take a full VACUUM.
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    # The WAL file counts against the store's max_size: truncate it after a checkpoint instead of
    # keeping the largest it ever grew to.
    conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    # FULL: a commit is on disk before the broker is told the message is handled, so neither a
    # killed process nor a power cut loses what was acknowledged. Batching keeps fsyncs few.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    if readonly:
        conn.execute("PRAGMA query_only=1")
    return conn


def open_store(path: Path, site: str) -> sqlite3.Connection:
    """Open (creating and migrating) the agent database for ``site``."""
    conn = connect(path)
    migrations.apply(sqlite_utils.Database(conn))
    row = conn.execute("SELECT value FROM meta WHERE key = 'site'").fetchone()
    if row is None:
        conn.execute("INSERT INTO meta (key, value) VALUES ('site', ?)", (site,))
    elif row[0] != site:
        conn.close()
        raise StoreError(f"{path} holds data of site {row[0]!r}, not {site!r}")
    return conn


def alarm_row(alarm: Alarm) -> dict[str, Any]:
    row = asdict(alarm)
    row["active"] = int(alarm.active)
    row["latched"] = int(alarm.latched)
    row["state"] = alarm.state
    return row


def alarm_from_row(row: sqlite3.Row | dict[str, Any]) -> Alarm:
    data = dict(row)
    data.pop("state", None)
    data["active"] = bool(data["active"])
    data["latched"] = bool(data.get("latched", False))
    return Alarm(**data)


def open_alarms(conn: sqlite3.Connection) -> list[Alarm]:
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT * FROM alarms WHERE state != 'normal'").fetchall()
    finally:
        conn.row_factory = None
    return [alarm_from_row(r) for r in rows]


def alarms_where(conn: sqlite3.Connection, where: str, args: Sequence[Any] = ()) -> list[Alarm]:
    """The alarms an SQL condition on the ``alarms`` table selects."""
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(f"SELECT * FROM alarms WHERE {where}", tuple(args)).fetchall()
    finally:
        conn.row_factory = None
    return [alarm_from_row(r) for r in rows]


def rule_states(conn: sqlite3.Connection) -> dict[str, RuleState]:
    return {rule: load_state(text) for rule, text in conn.execute("SELECT * FROM rule_states")}


def excursion_row(record: ExcursionRecord) -> tuple[object, ...]:
    """The record in the column order of ``INSERT_EXCURSION``."""
    doors = [{"door": e.door, "at": e.at, "open": e.open} for e in record.doors]
    return (
        record.rule,
        record.device,
        record.metric,
        record.start,
        record.end,
        record.lowest,
        record.highest,
        record.ended_by,
        json.dumps(doors),
        record.doors_dropped,
    )


INSERT_EXCURSION = (
    "INSERT INTO excursions (rule, device, metric, started_at, ended_at, lowest, highest,"
    " ended_by, doors, doors_dropped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def cursors(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT stream, acked FROM sync_cursors").fetchall())


# In the key-value ``meta`` table: one measurement, replaced at every acknowledged sync.
CLOCK_KEY = "clock"


def clock(conn: sqlite3.Connection) -> ClockReport | None:
    """The clock offset measured at the last acknowledged sync (``sync.clock``), if any."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (CLOCK_KEY,)).fetchone()
    return ClockReport.model_validate_json(row[0]) if row else None


def set_clock(conn: sqlite3.Connection, report: ClockReport) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (CLOCK_KEY, report.model_dump_json()),
    )


def dump_alarm(alarm: Alarm) -> str:
    return json.dumps(asdict(alarm))


SYNCED_TABLES = (
    "readings",
    "access_events",
    "alarm_events",
    "meter_events",
    "actions",
    "rollups",
    "excursions",
)


def set_cursor(conn: sqlite3.Connection, stream: str, acked: int) -> None:
    """Record the hub's acknowledgement; renumber this store's rows if the hub is ahead of it.

    The hub can only be ahead when this database is newer than the hub's records of the site (a
    replaced disk, a wiped store): without renumbering, our new rows would carry sequence numbers
    the hub already holds and be dropped there as duplicates.
    """
    if stream not in SYNCED_TABLES:
        return
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (stream,)).fetchone()
    top = row[0] if row else 0
    if acked > top:
        conn.execute(f"UPDATE {stream} SET id = id + ?", (acked,))
        if stream == "readings":  # the import queue and stand-in rollups name readings by id
            conn.execute("UPDATE import_queue SET reading = reading + ?", (acked,))
            conn.execute(
                "UPDATE rollups SET replaces_after = replaces_after + ?,"
                " replaces_through = replaces_through + ? WHERE replaces_through IS NOT NULL",
                (acked, acked),
            )
        conn.execute("DELETE FROM sqlite_sequence WHERE name = ?", (stream,))
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (stream, top + acked))
    conn.execute(
        "INSERT INTO sync_cursors (stream, acked) VALUES (?, ?)"
        " ON CONFLICT (stream) DO UPDATE SET acked = excluded.acked",
        (stream, acked),
    )
