"""What an operator asks of a running (or stopped) agent: what it holds, owes and rejected."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from agent import outbox, store
from rules.alarm import Alarm


@dataclass(frozen=True)
class Status:
    readings: int
    access_events: int
    unsent: dict[str, int]
    quarantined: list[tuple[str, str, int]]
    open_alarms: list[Alarm]
    last_reading_at: float | None


def read_status(conn: sqlite3.Connection) -> Status:
    quarantined = conn.execute(
        "SELECT COALESCE(device, '?'), reason, COUNT(*) FROM quarantine"
        " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
    ).fetchall()
    return Status(
        readings=conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0],
        access_events=conn.execute("SELECT COUNT(*) FROM access_events").fetchone()[0],
        unsent=outbox.pending(conn),
        quarantined=[(d, r, n) for d, r, n in quarantined],
        open_alarms=store.open_alarms(conn),
        last_reading_at=conn.execute("SELECT MAX(received_at) FROM readings").fetchone()[0],
    )
