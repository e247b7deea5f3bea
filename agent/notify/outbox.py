"""The notification outbox in the agent's store (migration ``m006_notifications``).

A trigger on ``alarm_events`` copies every alarm change into ``notify_queue`` in the writer's own
transaction, so a change that is committed is queued, whatever happens to the process next. The
notifier empties the queue into ``notifications`` — a row per recipient — and deletes what it
took in the same transaction: each change is planned once. Escalation's intents
(``notify_intents``, migration ``m007``) are stored in that transaction with the notifications
that carry them out, so each is planned once, across restarts too. A row then records its delivery:
attempts, the next attempt, when it was delivered or given up, and the last error (scrubbed of
secrets). The URL itself is never stored: ``target`` is its fingerprint, ``shown`` its redacted
form.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from agent.notify.message import Message
from agent.notify.sender import NotifyType, Outcome, Target
from rules.alarm import Alarm
from rules.escalation import Intent

__all__ = [
    "Counts",
    "Hold",
    "Pending",
    "Plan",
    "Planned",
    "Problem",
    "QueuedChange",
    "counts",
    "due",
    "insert",
    "next_due",
    "plan",
    "planned_intents",
    "problems",
    "prune",
    "record",
    "transaction",
]


@dataclass(frozen=True, slots=True)
class QueuedChange:
    alarm: Alarm
    kind: str
    at: float
    by: str | None


@dataclass(frozen=True, slots=True)
class Planned:
    recipient: str
    target: Target
    message: Message


@dataclass(frozen=True, slots=True)
class Hold:
    """An intent to wait in its group (``agent.notify.groups``) instead of being sent now:
    ``group`` is the values of the group's labels, ``first`` whether the post's own URLs go
    with it."""

    group: tuple[str, ...]
    first: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """What to store about an alarm ``change`` (a change kind or an escalation's reason): its
    notifications, the ``intent`` they carry out, or why none could be prepared; or that the
    intent waits for its group's message (``hold``)."""

    alarm_id: str
    change: str
    planned: Sequence[Planned] = ()
    intent: Intent | None = None
    error: str | None = None
    hold: Hold | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    target: str  # the URL's fingerprint
    shown: str
    title: str
    body: str
    kind: NotifyType
    created_at: float
    attempts: int


@dataclass(frozen=True, slots=True)
class Problem:
    """A notification not (yet) delivered, as the status command lists it."""

    id: int
    alarm_id: str
    rule: str
    change: str
    recipient: str
    shown: str
    attempts: int
    created_at: float
    next_attempt_at: float
    failed_at: float | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Counts:
    pending: int = 0
    failing: int = 0  # pending after at least one failed attempt
    failed: int = 0
    delivered: int = 0
    waiting: int = 0  # steps held for their group's message (agent.notify.groups)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def plan(
    conn: sqlite3.Connection,
    planner: Callable[[Sequence[QueuedChange]], list[Plan]],
    now: float,
    limit: int = 100,
) -> int:
    """Hand up to ``limit`` queued changes to ``planner`` (called on every pass, with none too:
    escalation falls due with time), store what it plans and take the changes off the queue in
    one transaction; return how many were taken.

    A plan with an ``intent`` already stored is skipped whole: each intent is planned once.
    """
    rows = conn.execute(
        "SELECT id, kind, at, by, snapshot FROM notify_queue ORDER BY id LIMIT ?", (limit,)
    ).fetchall()
    changes = [QueuedChange(Alarm(**json.loads(s)), kind, at, by) for _, kind, at, by, s in rows]
    plans = planner(changes)
    if not rows and not plans:
        return 0  # the usual case: no write lock taken, the writer never waits for this
    with transaction(conn):
        for item in plans:
            _insert_plan(conn, item, now)
        if rows:
            conn.execute("DELETE FROM notify_queue WHERE id <= ?", (rows[-1][0],))
    return len(rows)


def _insert_plan(conn: sqlite3.Connection, item: Plan, now: float) -> None:
    intent = None if item.intent is None else _insert_intent(conn, item.intent, now)
    if item.intent is not None and intent is None:
        return
    if item.error is not None:
        _insert_unplanned(conn, item.alarm_id, item.change, now, item.error)
        return
    if item.hold is not None and item.intent is not None:
        conn.execute(
            "INSERT INTO notify_held (intent, post, who, grp, first, held_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                intent,
                item.intent.post,
                item.intent.who,
                json.dumps(item.hold.group),
                item.hold.first,
                now,
            ),
        )
        return
    for planned in item.planned:
        insert(conn, item.alarm_id, item.change, planned, now, intent)


def _insert_intent(conn: sqlite3.Connection, intent: Intent, now: float) -> int | None:
    cursor = conn.execute(
        "INSERT OR IGNORE INTO notify_intents (post, alarm_id, activation, reason, run, step,"
        " who, at, alarms, planned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            intent.post,
            intent.alarm,
            intent.activation,
            intent.reason,
            intent.run,
            intent.step,
            intent.who,
            intent.at,
            json.dumps(intent.alarms),
            now,
        ),
    )
    return cursor.lastrowid if cursor.rowcount else None


def planned_intents(conn: sqlite3.Connection, alarm_ids: Iterable[str]) -> list[Intent]:
    """The intents planned about these alarms, as ``rules.escalation.due`` takes them."""
    ids = list(dict.fromkeys(alarm_ids))
    marks = ", ".join("?" * len(ids))
    rows = conn.execute(
        "SELECT who, reason, at, alarm_id, activation, post, run, step, alarms"
        f" FROM notify_intents WHERE alarm_id IN ({marks}) ORDER BY id",
        ids,
    ).fetchall()
    return [
        Intent(who, reason, at, alarm, activation, post, run, step, tuple(json.loads(alarms)))
        for who, reason, at, alarm, activation, post, run, step, alarms in rows
    ]


def insert(
    conn: sqlite3.Connection,
    alarm_id: str,
    change: str,
    item: Planned,
    now: float,
    intent: int | None = None,
) -> None:
    conn.execute(
        "INSERT INTO notifications (alarm_id, change, recipient, target, shown, kind, title,"
        " body, created_at, next_attempt_at, intent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            alarm_id,
            change,
            item.recipient,
            item.target.fingerprint,
            item.target.shown,
            item.message.kind,
            item.message.title,
            item.message.body,
            now,
            now,
            intent,
        ),
    )


def _insert_unplanned(
    conn: sqlite3.Connection, alarm_id: str, change: str, now: float, error: str
) -> None:
    conn.execute(
        "INSERT INTO notifications (alarm_id, change, recipient, target, shown, kind, title,"
        " body, created_at, next_attempt_at, failed_at, last_error)"
        " VALUES (?, ?, '?', '', '', 'info', '', '', ?, ?, ?, ?)",
        (alarm_id, change, now, now, now, f"could not be prepared: {error}"[:500]),
    )


# Pending, and the first pending of its target: a person's messages arrive in the order of the
# changes (a "cleared" never before its "raised"), and one that waits holds back the later ones.
_HEAD = (
    "n.delivered_at IS NULL AND n.failed_at IS NULL AND NOT EXISTS (SELECT 1 FROM notifications e"
    " WHERE e.target = n.target AND e.id < n.id AND e.delivered_at IS NULL AND e.failed_at IS NULL)"
)


def due(conn: sqlite3.Connection, now: float, limit: int = 50) -> list[Pending]:
    rows = conn.execute(
        "SELECT n.id, n.target, n.shown, n.title, n.body, n.kind, n.created_at, n.attempts"
        f" FROM notifications n WHERE {_HEAD} AND n.next_attempt_at <= ?"
        " ORDER BY n.next_attempt_at, n.id LIMIT ?",
        (now, limit),
    ).fetchall()
    return [Pending(*row) for row in rows]


def next_due(conn: sqlite3.Connection) -> float | None:
    value: float | None = conn.execute(
        f"SELECT MIN(n.next_attempt_at) FROM notifications n WHERE {_HEAD}"
    ).fetchone()[0]
    return value


def record(
    conn: sqlite3.Connection,
    results: Sequence[tuple[Pending, Outcome, float | None]],
    now: float,
) -> None:
    """Each attempt's outcome: delivered, to be retried at the time given, or given up (None)."""
    with transaction(conn):
        for pending, outcome, retry_at in results:
            if outcome.ok:
                conn.execute(
                    "UPDATE notifications SET attempts = attempts + 1, delivered_at = ?"
                    " WHERE id = ?",
                    (now, pending.id),
                )
            elif retry_at is not None:
                conn.execute(
                    "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?,"
                    " last_error = ? WHERE id = ?",
                    (retry_at, outcome.error, pending.id),
                )
            else:
                conn.execute(
                    "UPDATE notifications SET attempts = attempts + 1, failed_at = ?,"
                    " last_error = ? WHERE id = ?",
                    (now, outcome.error, pending.id),
                )


def prune(conn: sqlite3.Connection, before: float) -> int:
    """Forget notifications delivered or given up before ``before``, and the intents of closed
    alarms planned before then (an open one's are its ``sent``: kept while it is open)."""
    with transaction(conn):
        cursor = conn.execute(
            "DELETE FROM notifications WHERE COALESCE(delivered_at, failed_at) < ?", (before,)
        )
        conn.execute(
            "DELETE FROM notify_intents WHERE planned_at < ? AND alarm_id NOT IN"
            " (SELECT id FROM alarms WHERE state != 'normal')",
            (before,),
        )
        # Steps whose intents went with them, and groups with nothing to remember.
        conn.execute("DELETE FROM notify_held WHERE intent NOT IN (SELECT id FROM notify_intents)")
        conn.execute("DELETE FROM notify_groups WHERE told = '[]' AND last_sent_at < ?", (before,))
    return cursor.rowcount


def _has_outbox(conn: sqlite3.Connection) -> bool:
    # A store the agent has not opened since it was upgraded (the status command opens it
    # read-only and migrates nothing).
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notifications'"
    ).fetchone()
    return found is not None


def counts(conn: sqlite3.Connection) -> Counts:
    if not _has_outbox(conn):
        return Counts()
    pending, failing, failed, delivered = conn.execute(
        "SELECT COALESCE(SUM(delivered_at IS NULL AND failed_at IS NULL), 0),"
        " COALESCE(SUM(delivered_at IS NULL AND failed_at IS NULL AND attempts > 0), 0),"
        " COALESCE(SUM(failed_at IS NOT NULL), 0), COALESCE(SUM(delivered_at IS NOT NULL), 0)"
        " FROM notifications"
    ).fetchone()
    held = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notify_held'"
    ).fetchone()
    waiting = conn.execute("SELECT COUNT(*) FROM notify_held").fetchone()[0] if held else 0
    return Counts(pending, failing, failed, delivered, waiting)


def problems(conn: sqlite3.Connection, limit: int = 20) -> list[Problem]:
    """Pending notifications, oldest first, then the ones given up, latest first."""
    if not _has_outbox(conn):
        return []
    columns = (
        "n.id, n.alarm_id, COALESCE(a.rule, '?'), n.change, n.recipient, n.shown, n.attempts,"
        " n.created_at, n.next_attempt_at, n.failed_at, n.last_error"
        " FROM notifications n LEFT JOIN alarms a ON a.id = n.alarm_id"
    )
    pending = conn.execute(
        f"SELECT {columns} WHERE n.delivered_at IS NULL AND n.failed_at IS NULL"
        " ORDER BY n.created_at, n.id LIMIT ?",
        (limit,),
    ).fetchall()
    failed = conn.execute(
        f"SELECT {columns} WHERE n.failed_at IS NOT NULL ORDER BY n.failed_at DESC, n.id DESC"
        " LIMIT ?",
        (limit,),
    ).fetchall()
    return [Problem(*row) for row in pending + failed]
