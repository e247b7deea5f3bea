"""The retention job: one bounded slice of thinning per writer tick, in a transaction of its own.

The writer runs it after committing a batch that held a tick (``agent.writer``), so it owns the
readings tables as the house rule wants, and ingest waits at most one slice (``SLICE_ROWS``).
Alarms, alarm events, access events, meter events, quarantine and the notification tables are
never touched here: only ``readings`` (thinned into ``rollups``) and ``rollups`` (expired).

Every slice is a run of consecutive readings by id, deleted by id range, so the rollups it makes
stand for exactly the readings with ids in ``(replaces_after, replaces_through]``. Unsent readings
are rolled up only past the first ``Policy.protect`` after the hub's cursor: the syncer sends
exactly those (``LIMIT batch_size`` from the cursor) and builds its next batch only after the
last one's acknowledgement is applied, so a batch in flight — or one the hub stored but whose
answer was lost — never holds a reading that is rolled up meanwhile, and the hub gets each
reading either raw or inside one stand-in rollup, never both.

Size is the database's live pages (page count less the free list) plus the WAL file. Freed pages
are reused before the file grows; a store created by this version has ``auto_vacuum=INCREMENTAL``
and gives them back to the disk a megabyte at a time. An older store keeps ``auto_vacuum=NONE``
(switching needs a full ``VACUUM``, which rewrites the file and needs as much free disk again: not
something to start on a full disk), so its file stops growing but does not shrink.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent import store
from agent.retention import alarm
from agent.retention.policy import (
    Backlog,
    Policy,
    Step,
    alarm_active,
    next_step,
    under_pressure,
)
from agent.retention.rollup import Rollup, roll_up
from rules.alarm import Alarm, AlarmChange

__all__ = [
    "RECLAIM_PAGES",
    "THINNED_KINDS",
    "Retention",
    "Usage",
    "measure",
    "reclaim",
    "thinned",
]

# What a slice did, counted per kind in the store (``thinned``) and reported to the hub.
THINNED_KINDS = ("expired", "synced", "rolled_up", "rollups_expired")
_KIND: dict[Step, str] = {
    "expire_raw": "expired",
    "thin_synced": "synced",
    "roll_up_unsent": "rolled_up",
    "expire_rollups": "rollups_expired",
}
_EVERYTHING = 2**62
# 1 MiB of 4 KiB pages: freed pages are reused anyway; handing them back is worth a commit only
# by the megabyte.
RECLAIM_PAGES = 256


@dataclass(frozen=True, slots=True)
class Usage:
    size: int
    file: int
    wal: int


def measure(conn: sqlite3.Connection) -> Usage:
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    file, wal = _bytes(path), _bytes(path + "-wal") if path else 0
    return Usage(size=(pages - free) * page_size + wal, file=file, wal=wal)


def thinned(conn: sqlite3.Connection) -> dict[str, int]:
    """How many rows each kind of thinning removed since the store began."""
    return dict(conn.execute("SELECT kind, count FROM thinned ORDER BY kind").fetchall())


def reclaim(conn: sqlite3.Connection) -> None:
    """Give free pages back to the disk (incremental auto-vacuum stores only), outside any
    transaction, once there are ``RECLAIM_PAGES`` of them: each pass is a commit of its own.
    ``executescript``: a plain ``execute`` runs the pragma one page at a time."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
        return
    if conn.execute("PRAGMA freelist_count").fetchone()[0] >= RECLAIM_PAGES:
        conn.executescript("PRAGMA incremental_vacuum")


@dataclass
class Retention:
    """The job's state between ticks; ``hub`` False: nothing is ever sent, so every reading
    counts as delivered and only age and size thin them. ``post``: whom the alarm notifies."""

    policy: Policy
    site: str
    hub: bool
    post: str | None = None
    new_id: Callable[[], str] = field(default=lambda: alarm.PREFIX + uuid.uuid4().hex)
    pressure: bool = False
    held: Alarm | None = None
    last_step: Step | None = None

    def load(self, conn: sqlite3.Connection) -> None:
        """Take up the open ``storage_pressure`` alarm (after a start or a rolled-back tick)."""
        held = [a for a in store.open_alarms(conn) if a.rule == alarm.RULE]
        self.held = held[0] if held else None
        self.pressure = self.held is not None and self.held.active

    def run(self, conn: sqlite3.Connection, now: float) -> list[AlarmChange]:
        """Thin one slice if due; return the alarm's change, if any. Inside the caller's
        transaction; ``reclaim`` after it commits when ``last_step`` is set."""
        size = measure(conn).size
        self.pressure = under_pressure(self.policy, size, self.pressure)
        window = _Window.of(conn, self.hub)
        step = next_step(self.pressure, self._backlog(conn, now, window))
        if step is not None:
            _STEPS[step](conn, self.policy, now, window)
        self.last_step = step
        was = self.held is not None and self.held.active
        change = alarm.transition(
            self.held,
            alarm_active(was, self.pressure, step),
            site=self.site,
            size=size,
            max_size=self.policy.max_size or 0,
            now=now,
            new_id=self.new_id(),
            post=self.post,
        )
        if change is not None:
            self.keep(change.alarm)
        return [change] if change else []

    def acknowledge(
        self, alarm_id: str, by: str, at: float, activation: int | None
    ) -> AlarmChange | None:
        """The hub's acknowledgement of our alarm; None when it is not ours or changes nothing."""
        if self.held is None or not alarm.owns(self.held, alarm_id):
            return None
        change = alarm.acknowledged(self.held, by, at, activation)
        if change is not None:
            self.keep(change.alarm)
        return change

    def owns(self, alarm_id: str) -> bool:
        return alarm.owns(self.held, alarm_id)

    def keep(self, held: Alarm) -> None:
        self.held = held if held.is_open else None

    def _backlog(self, conn: sqlite3.Connection, now: float, window: _Window) -> Backlog:
        policy = self.policy
        oldest = conn.execute(
            "SELECT received_at FROM readings WHERE id <= ? ORDER BY id LIMIT 1", (window.synced,)
        ).fetchone()
        expired_rollups = conn.execute(
            "SELECT 1 FROM rollups WHERE hour < ?"
            " AND (replaces_through IS NULL OR id <= ?) LIMIT 1",
            (now - policy.keep_rollups, window.rollups),
        ).fetchone()
        return Backlog(
            expired_rollups=expired_rollups is not None,
            expired_raw=oldest is not None and oldest[0] < now - policy.keep_raw,
            synced=oldest is not None,
            # Counted only when needed: it skips the protected readings one by one.
            unsent=self.pressure and _unsent_start(conn, policy, window) is not None,
        )


@dataclass(frozen=True, slots=True)
class _Window:
    """Reading ids the hub holds (``<= synced``), the first one no slice may reach (a reading
    ``agent import-readings`` queued for the rules), and stand-in rollups the hub holds."""

    cursor: int
    synced: int
    floor: int
    rollups: int

    @classmethod
    def of(cls, conn: sqlite3.Connection, hub: bool) -> _Window:
        cursors = store.cursors(conn) if hub else {}
        cursor = cursors.get("readings", 0) if hub else _EVERYTHING
        queued = conn.execute("SELECT MIN(reading) FROM import_queue").fetchone()[0]
        floor = _EVERYTHING if queued is None else queued
        rollups = cursors.get("rollups", 0) if hub else _EVERYTHING
        return cls(cursor, min(cursor, floor - 1), floor, rollups)


def _expire_raw(conn: sqlite3.Connection, policy: Policy, now: float, window: _Window) -> None:
    rows = _slice(conn, "id <= ?", window.synced, policy.slice_rows)
    cutoff = now - policy.keep_raw
    old = []
    for row in rows:
        if row[5] >= cutoff:  # ids follow receipt: the first young one ends the run
            break
        old.append(row)
    _thin(conn, old, "expired", stand_in=False)


def _thin_synced(conn: sqlite3.Connection, policy: Policy, now: float, window: _Window) -> None:
    _thin(conn, _slice(conn, "id <= ?", window.synced, policy.slice_rows), "synced", False)


def _roll_up_unsent(conn: sqlite3.Connection, policy: Policy, now: float, window: _Window) -> None:
    start = _unsent_start(conn, policy, window)
    if start is None:
        return
    rows = conn.execute(
        "SELECT id, device, metric, ts, value, received_at FROM readings"
        " WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
        (start, window.floor, policy.slice_rows),
    ).fetchall()
    _thin(conn, rows, "rolled_up", stand_in=True)


def _expire_rollups(conn: sqlite3.Connection, policy: Policy, now: float, window: _Window) -> None:
    gone = conn.execute(
        "DELETE FROM rollups WHERE id IN (SELECT id FROM rollups WHERE hour < ?"
        " AND (replaces_through IS NULL OR id <= ?) ORDER BY hour LIMIT ?)",
        (now - policy.keep_rollups, window.rollups, policy.slice_rows),
    ).rowcount
    _count(conn, "rollups_expired", gone)


_STEPS: dict[Step, Callable[[sqlite3.Connection, Policy, float, _Window], None]] = {
    "expire_raw": _expire_raw,
    "thin_synced": _thin_synced,
    "roll_up_unsent": _roll_up_unsent,
    "expire_rollups": _expire_rollups,
}


def _unsent_start(conn: sqlite3.Connection, policy: Policy, window: _Window) -> int | None:
    """The first unsent reading past the protected ones (the next sync batch), if it may go."""
    row = conn.execute(
        "SELECT id FROM readings WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?",
        (window.cursor, policy.protect),
    ).fetchone()
    return row[0] if row is not None and row[0] < window.floor else None


def _slice(conn: sqlite3.Connection, where: str, bound: int, limit: int) -> list[Any]:
    return conn.execute(
        "SELECT id, device, metric, ts, value, received_at FROM readings"
        f" WHERE {where} ORDER BY id LIMIT ?",
        (bound, limit),
    ).fetchall()


def _thin(conn: sqlite3.Connection, rows: list[Any], kind: str, stand_in: bool) -> None:
    """Roll ``rows`` (consecutive by id) up into hourly rollups, then delete them by range."""
    if not rows:
        return
    first, last = rows[0][0], rows[-1][0]
    replaces = (first - 1, last) if stand_in else (None, None)
    _insert(conn, roll_up(r[1:5] for r in rows), replaces)
    conn.execute("DELETE FROM readings WHERE id >= ? AND id <= ?", (first, last))
    _count(conn, kind, len(rows))


def _insert(
    conn: sqlite3.Connection, rollups: list[Rollup], replaces: tuple[int | None, int | None]
) -> None:
    conn.executemany(
        "INSERT INTO rollups (device, metric, hour, count, min, max, sum, first_ts, first,"
        " last_ts, last, replaces_after, replaces_through)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.device,
                r.metric,
                r.hour,
                r.count,
                r.min,
                r.max,
                r.sum,
                r.first_ts,
                r.first,
                r.last_ts,
                r.last,
                *replaces,
            )
            for r in rollups
        ],
    )


def _count(conn: sqlite3.Connection, kind: str, n: int) -> None:
    if n:
        conn.execute(
            "INSERT INTO thinned (kind, count) VALUES (?, ?)"
            " ON CONFLICT (kind) DO UPDATE SET count = count + excluded.count",
            (kind, n),
        )


def _bytes(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
