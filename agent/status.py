"""What an operator asks of a running (or stopped) agent: what it holds, owes and rejected."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from agent import outbox, store
from agent.notify import outbox as notify_outbox
from rules.alarm import Alarm
from sync.protocol import ClockReport


@dataclass(frozen=True)
class Status:
    readings: int
    access_events: int
    unsent: dict[str, int]
    quarantined: list[tuple[str, str, int]]
    open_alarms: list[Alarm]
    last_reading_at: float | None
    notifications: notify_outbox.Counts
    # Pending ones (oldest first), then the ones given up (latest first); URLs redacted.
    notification_problems: list[notify_outbox.Problem]
    # Against the hub's, at the last acknowledged sync.
    clock: ClockReport | None = None


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
        notifications=notify_outbox.counts(conn),
        notification_problems=notify_outbox.problems(conn),
        clock=store.clock(conn),
    )


def notification_lines(status: Status) -> list[str]:
    """The notifications summary and one line per pending or given-up notification."""
    n = status.notifications
    lines = [
        f"notifications: {n.pending} pending ({n.failing} failing), {n.failed} failed, "
        f"{n.delivered} delivered"
    ]
    for p in status.notification_problems:
        if p.failed_at is None:
            state = f"pending, {p.attempts} attempts, next {_iso(p.next_attempt_at)}"
        else:
            state = f"failed {_iso(p.failed_at)} after {p.attempts} attempts"
        error = f": {p.last_error}" if p.last_error else ""
        lines.append(
            f"  #{p.id} {p.change} {p.rule} ({p.alarm_id}) to {p.recipient} {p.shown}"
            f" ({state}){error}"
        )
    return lines


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
