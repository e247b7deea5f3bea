"""The agent's copy of the operator action log (``rules.actions``).

Actions reach it three ways: a person on site takes one with an ``agent`` CLI command (another
process, so it only records the action: ``take``); the hub sends one down with its answer to a
sync (``receive``); or a rule's ``suppress`` schedule opens. The writer, which owns the alarms,
applies what is recorded but not yet applied (``apply_pending``) on its next tick, in its own
transaction. Every action is sent to the hub as the ``actions`` stream, numbered by ``id``; its
``uid`` is the same at both ends, so the hub stores it once whichever way it came.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import timedelta
from typing import Any

from rules.actions import (
    ALARM_KINDS,
    CATEGORY_OF,
    MAX_SHELVE,
    Action,
    ActionKind,
    InvalidAction,
    Standing,
    by_design,
    check,
    new_id,
    standing,
)
from rules.alarm import Alarm, AlarmChange, NotClosable
from rules.engine import Engine, UnknownAlarm
from rules.spec import Rule
from sync.protocol import ActionRecord

__all__ = [
    "Target",
    "apply_pending",
    "designed",
    "from_hub",
    "history",
    "new_action",
    "receive",
    "resolve",
    "standings",
    "take",
]

# In the order of Action's fields, so a row is ``Action(*row)``.
_COLUMNS = "uid, kind, rule, by, at, alarm_id, note, until, activation"
# rules.actions' categories, in SQL: an action and its undoing compete for the same standing.
_CATEGORY_SQL = (
    "CASE kind "
    + " ".join(f"WHEN '{kind}' THEN '{category}'" for kind, category in CATEGORY_OF.items())
    + " END"
)


@dataclass(frozen=True, slots=True)
class Target:
    """What a person named on the command line: an alarm (and so its rule), or a rule alone."""

    rule: str
    alarm_id: str | None = None
    activation: int | None = None


def resolve(conn: sqlite3.Connection, name: str, rules: Iterable[str]) -> Target:
    """An alarm id (or a unique prefix of one, as `agent alarms` shows them) or a rule id."""
    rows = conn.execute(
        "SELECT id, rule, activations FROM alarms WHERE id = ? OR id LIKE ? ESCAPE '\\'",
        (name, _escape(name) + "%"),
    ).fetchall()
    exact = [r for r in rows if r[0] == name]
    if len(exact) == 1 or len(rows) == 1:
        alarm_id, rule, activation = (exact or rows)[0]
        return Target(rule, alarm_id, activation)
    if len(rows) > 1:
        raise InvalidAction(f"{name!r} names {len(rows)} alarms; give more of the id")
    if name in set(rules):
        return Target(name)
    raise InvalidAction(f"no alarm or rule {name!r} at this site")


def take(conn: sqlite3.Connection, action: Action, max_shelve: timedelta = MAX_SHELVE) -> Action:
    """Record an action taken on site, for the writer to apply and the hub to learn."""
    check(action, max_shelve)
    with conn:
        conn.execute(
            f"INSERT INTO actions ({_COLUMNS}, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'agent')",
            _row(action),
        )
    return action


def receive(conn: sqlite3.Connection, action: Action, origin: str, at: float) -> bool:
    """Record an action that came from elsewhere, applied at ``at``; False if already known."""
    cursor = conn.execute(
        f"INSERT OR IGNORE INTO actions ({_COLUMNS}, origin, applied_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*_row(action), origin, at),
    )
    return cursor.rowcount == 1


Apply = Callable[[Action], tuple[list[AlarmChange], str | None]]


def apply_pending(conn: sqlite3.Connection, apply: Apply, now: float) -> list[AlarmChange]:
    """Apply the actions taken on site since the last tick, inside the writer's transaction
    (``apply``: the writer's, which knows every alarm it owns)."""
    rows = conn.execute(
        f"SELECT id, {_COLUMNS} FROM actions WHERE applied_at IS NULL ORDER BY id"
    ).fetchall()
    changes = []
    for row in rows:
        action = _action(row[1:])
        changed, error = apply(action)
        changes += changed
        conn.execute(
            "UPDATE actions SET applied_at = ?, error = ? WHERE id = ?", (now, error, row[0])
        )
    return changes


def apply(engine: Engine, action: Action) -> tuple[list[AlarmChange], str | None]:
    """What an action changes in the alarms (ack and close do); the reason it changed nothing
    that it should have."""
    if action.kind not in ("ack", "close") or action.alarm_id is None:
        return [], None
    try:
        if action.kind == "ack":
            acked = engine.acknowledge(action.alarm_id, action.by, action.at, action.activation)
            return [acked] if acked else [], None
        disposition = action.note or ""
        return engine.close(
            action.alarm_id, action.by, action.at, disposition, action.activation
        ), None
    except UnknownAlarm:
        return [], "the alarm is no longer open here"
    except NotClosable as error:
        return [], str(error)


def designed(conn: sqlite3.Connection, rules: Iterable[Rule], now: float) -> list[Action]:
    """Record the suppressions the rules' ``suppress`` schedules call for now."""
    taken = []
    known = _Logged(conn)
    for rule in rules:
        if rule.suppress is None:
            continue
        action = by_design(rule.id, rule.suppress, known, now)
        if action is not None and receive(conn, action, "agent", now):
            taken.append(action)
    return taken


class _Logged:
    """The uids in the log, asked one at a time through its unique index: this runs every tick,
    and a rule's log only grows."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __contains__(self, uid: object) -> bool:
        found = self.conn.execute("SELECT 1 FROM actions WHERE uid = ?", (uid,)).fetchone()
        return found is not None


def standings(
    conn: sqlite3.Connection, alarms: Mapping[str, Alarm], now: float
) -> dict[str, Standing]:
    """Each rule's standing now, for the rules that have any point action in the log.

    A standing is decided by the latest action of each category (shelve, suppress, service) taken
    by ``now``: only those are read, not a log that grows by every scheduled suppression."""
    by_rule: dict[str, list[Action]] = {}
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM ("
        f" SELECT {_COLUMNS}, ROW_NUMBER() OVER ("
        f"  PARTITION BY rule, {_CATEGORY_SQL} ORDER BY at DESC, uid DESC) AS latest"
        f" FROM actions WHERE kind NOT IN ({', '.join('?' * len(ALARM_KINDS))}) AND at <= ?"
        ") WHERE latest = 1",
        [*sorted(ALARM_KINDS), now],
    )
    for row in rows:
        action = _action(row)
        by_rule.setdefault(action.rule, []).append(action)
    return {rule: standing(log, now, alarms.get(rule)) for rule, log in by_rule.items()}


def history(
    conn: sqlite3.Connection, *, rule: str | None = None, limit: int = 50
) -> list[tuple[Action, str, str | None]]:
    """The latest actions (newest first), each with its origin and the reason it did nothing."""
    where, args = ("WHERE rule = ?", [rule]) if rule else ("", [])
    rows = conn.execute(
        f"SELECT {_COLUMNS}, origin, error FROM actions {where} ORDER BY at DESC, id DESC LIMIT ?",
        [*args, limit],
    )
    return [(_action(r[:9]), r[9], r[10]) for r in rows]


def new_action(
    kind: ActionKind,
    target: Target,
    by: str,
    at: float,
    note: str | None = None,
    until: float | None = None,
) -> Action:
    """An action a person takes on site now."""
    return Action(
        id=new_id(),
        kind=kind,
        rule=target.rule,
        by=by,
        at=at,
        alarm_id=target.alarm_id,
        note=note,
        until=until,
        activation=target.activation if kind in ("ack", "close") else None,
    )


def from_hub(record: ActionRecord, alarms: Mapping[str, Alarm]) -> Action:
    """The action a hub sent down. An older hub names neither the action's uid nor its rule:
    the uid is made from its delivery number, the rule found from the open alarm."""
    rule = record.rule or next(
        (r for r, alarm in alarms.items() if alarm.id == record.alarm_id), ""
    )
    return Action(
        id=record.uid or f"hub-{record.id}",
        kind=record.action,  # type: ignore[arg-type]  # rules.actions.check refuses others
        rule=rule,
        by=record.by,
        at=record.at,
        alarm_id=record.alarm_id,
        note=record.note,
        until=record.until,
        activation=record.activation,
    )


def _row(action: Action) -> tuple[object, ...]:
    return astuple(action)


def _action(row: Sequence[Any]) -> Action:
    return Action(*row)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
