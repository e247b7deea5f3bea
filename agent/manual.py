"""Importing hand-read meter readings into the agent's store (``agent import-readings``).

The agent process may be running: its writer owns the store, but an import is one short batch, so
it takes the write lock itself (``BEGIN IMMEDIATE``, waiting on ``busy_timeout``) and checks the
rows inside the same transaction, against exactly what it commits over. The rows land in the
ordinary ``readings`` table and sync to the hub like any other reading.
"""

from __future__ import annotations

import sqlite3
from zoneinfo import ZoneInfo

from agent.config import SiteConfig
from collector.manual import ImportReport, Point, parse_csv, validate

__all__ = ["import_csv"]


def import_csv(conn: sqlite3.Connection, site: SiteConfig, text: str, now: float) -> ImportReport:
    """Check the rows of a CSV file and store the valid ones, received at ``now``, in one
    transaction. Raises ``collector.manual.FileError`` when the file as a whole is unusable."""
    rows = parse_csv(text)
    kinds = {d.id: d.kind for d in site.devices}
    conn.execute("BEGIN IMMEDIATE")
    try:
        checked = validate(
            rows,
            kinds,
            zone=ZoneInfo(site.site.timezone),
            now=now,
            previous=lambda device, metric, ts: _previous(conn, device, metric, ts),
        )
        # A plain INSERT, not OR IGNORE: the checks refused duplicates, so a conflict is a bug
        # and must roll the import back rather than drop a row unreported.
        conn.executemany(
            "INSERT INTO readings (device, metric, ts, value, received_at) VALUES (?, ?, ?, ?, ?)",
            [(r.device, r.metric, r.ts, r.value, now) for r in checked.readings],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return ImportReport(len(checked.readings), checked.rejected)


def _previous(conn: sqlite3.Connection, device: str, metric: str, ts: float) -> Point | None:
    row = conn.execute(
        "SELECT ts, value FROM readings WHERE device = ? AND metric = ? AND ts <= ?"
        " ORDER BY ts DESC LIMIT 1",
        (device, metric, ts),
    ).fetchone()
    return None if row is None else Point(row[0], row[1])
