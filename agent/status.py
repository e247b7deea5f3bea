"""What an operator asks of a running (or stopped) agent: what it holds, owes and rejected."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from agent import downlink, outbox, retention, store
from agent.notify import outbox as notify_outbox
from collector.size import format_size
from rules.alarm import Alarm
from sync.protocol import ClockReport, ConfigRejected, StoreReport


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
    # Size against the bound and rows thinned per kind (agent.retention), as the hub is told.
    store: StoreReport
    rollups: int
    # The hub version of the devices, posts and rules running (0: the file's; agent.downlink).
    config_version: int = 0
    config_rejected: ConfigRejected | None = None
    # Against the hub's, at the last acknowledged sync.
    clock: ClockReport | None = None


def read_status(conn: sqlite3.Connection, max_size: int | None = None) -> Status:
    quarantined = conn.execute(
        "SELECT COALESCE(device, '?'), reason, COUNT(*) FROM quarantine"
        " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
    ).fetchall()
    config_version, config_rejected = downlink.report(conn)
    return Status(
        readings=conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0],
        access_events=conn.execute("SELECT COUNT(*) FROM access_events").fetchone()[0],
        unsent=outbox.pending(conn),
        quarantined=[(d, r, n) for d, r, n in quarantined],
        open_alarms=store.open_alarms(conn),
        last_reading_at=conn.execute("SELECT MAX(received_at) FROM readings").fetchone()[0],
        notifications=notify_outbox.counts(conn),
        notification_problems=notify_outbox.problems(conn),
        config_version=config_version,
        config_rejected=config_rejected,
        store=outbox.store_report(conn, max_size),
        rollups=conn.execute("SELECT COUNT(*) FROM rollups").fetchone()[0],
        clock=store.clock(conn),
    )


def store_line(status: Status) -> str:
    """``store: 412MB of 500MB (82%), 1200 rollups; thinned: expired 10, synced 5000``."""
    report = status.store
    bound = ""
    if report.max_size:
        share = 100 * report.size / report.max_size
        bound = f" of {format_size(report.max_size)} ({share:.0f}%)"
    pressure = ", STORAGE PRESSURE" if report.pressure else ""
    counts = ", ".join(f"{k} {report.thinned.get(k, 0)}" for k in retention.THINNED_KINDS)
    return (
        f"store: {format_size(report.size)}{bound}{pressure}, {status.rollups} rollups;"
        f" thinned: {counts}"
    )


def config_lines(status: Status) -> list[str]:
    """Which devices, posts and rules run, and the hub version refused last, with why."""
    running = f"hub version {status.config_version}" if status.config_version else "the file's"
    lines = [f"configuration: {running} devices, posts and rules"]
    if status.config_rejected is not None:
        rejected = status.config_rejected
        lines.append(f"refused hub version {rejected.version}:")
        lines += [f"  {line}" for line in rejected.reason.splitlines()]
    return lines


def notification_lines(status: Status) -> list[str]:
    """The notifications summary and one line per pending or given-up notification."""
    n = status.notifications
    lines = [
        f"notifications: {n.pending} pending ({n.failing} failing), {n.failed} failed, "
        f"{n.delivered} delivered, {n.waiting} waiting for their group"
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
