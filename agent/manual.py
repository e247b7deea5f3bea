"""Importing hand-read meter readings into the agent's store (``agent import-readings``).

The agent process may be running: its writer owns the store, but an import is one short batch, so
it takes the write lock itself (``BEGIN IMMEDIATE``, waiting on ``busy_timeout``) and checks the
rows inside the same transaction, against exactly what it commits over. The rows land in the
ordinary ``readings`` table and sync to the hub like any other reading. The same transaction
queues their ids in ``import_queue`` for the writer, which owns the rule engine and evaluates
them on its next tick, now or whenever the agent next runs; and records each row marked as a
replaced meter in ``meter_events``, which sync too.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import partial
from itertools import groupby
from zoneinfo import ZoneInfo

from agent.config import SiteConfig
from collector.manual import ImportReport, Point, parse_csv, replacements, validate

__all__ = ["QueuedSeries", "import_csv", "take_queued"]


def import_csv(conn: sqlite3.Connection, site: SiteConfig, text: str, now: float) -> ImportReport:
    """Check the rows of a CSV file and store the valid ones, received at ``now``, in one
    transaction. Raises ``collector.manual.FileError`` when the file as a whole is unusable."""
    rows = parse_csv(text)
    kinds = {d.id: d.kind for d in site.devices}
    conn.execute("BEGIN IMMEDIATE")
    try:
        previous = partial(_previous, conn)
        zone = ZoneInfo(site.site.timezone)
        checked = validate(rows, kinds, zone=zone, now=now, previous=previous)
        replaced = replacements(checked.readings, previous)
        # AUTOINCREMENT and the write lock: every id above the top one before is this import's.
        top = conn.execute("SELECT COALESCE(MAX(id), 0) FROM readings").fetchone()[0]
        # A plain INSERT, not OR IGNORE: the checks refused duplicates, so a conflict is a bug
        # and must roll the import back rather than drop a row unreported.
        conn.executemany(
            "INSERT INTO readings (device, metric, ts, value, received_at) VALUES (?, ?, ?, ?, ?)",
            [(r.device, r.metric, r.ts, r.value, now) for r in checked.readings],
        )
        conn.execute(
            "INSERT INTO import_queue (reading) SELECT id FROM readings WHERE id > ?", (top,)
        )
        conn.executemany(
            "INSERT INTO meter_events (device, metric, ts, kind, value, previous)"
            " VALUES (?, ?, ?, 'replacement', ?, ?)",
            [(e.device, e.metric, e.ts, e.value, e.previous) for e in replaced],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return ImportReport(len(checked.readings), checked.rejected)


@dataclass(frozen=True, slots=True)
class QueuedSeries:
    """Imported readings of one device and metric, in time order, that no rule has seen."""

    device: str
    metric: str
    values: list[float]
    received_at: float


def take_queued(conn: sqlite3.Connection) -> list[QueuedSeries]:
    """Empty the import queue: its readings as one series per import, device and metric.

    For the writer, inside its transaction: the write lock keeps imports out until it commits,
    and if it rolls back the readings are queued again.
    """
    rows = conn.execute(
        "SELECT r.received_at, r.device, r.metric, r.value FROM import_queue q"
        " LEFT JOIN readings r ON r.id = q.reading"
        " ORDER BY r.received_at, r.device, r.metric, r.ts, r.id"
    ).fetchall()
    if not rows:
        return []
    conn.execute("DELETE FROM import_queue")
    return [
        QueuedSeries(device, metric, [row[3] for row in group], at)
        for (at, device, metric), group in groupby(rows, key=lambda row: row[:3])
        if device is not None  # the reading is gone (thinned out): nothing to evaluate
    ]


def _previous(conn: sqlite3.Connection, device: str, metric: str, ts: float) -> Point | None:
    row = conn.execute(
        "SELECT ts, value FROM readings WHERE device = ? AND metric = ? AND ts <= ?"
        " ORDER BY ts DESC LIMIT 1",
        (device, metric, ts),
    ).fetchone()
    return None if row is None else Point(row[0], row[1])
