"""Groups in the store (migration ``m009_notify_routing``): the steps waiting for their group's
message (``notify_held``, written by ``outbox.plan``) and each group's last message
(``notify_groups``). ``release`` inserts a group's message, takes its steps off the wait and
records the message in one transaction: a step is sent once, across restarts too."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.notify.outbox import Planned, insert, transaction
from rules.escalation import Intent

__all__ = ["Group", "HeldStep", "read", "release"]


@dataclass(frozen=True, slots=True)
class HeldStep:
    id: int  # the intent's row
    intent: Intent
    first: bool
    held_at: float


@dataclass(slots=True)
class Group:
    post: str
    who: str
    key: tuple[str, ...]
    held: list[HeldStep] = field(default_factory=list)
    last_sent_at: float | None = None
    told: tuple[str, ...] = ()  # the alarms still active when its last message told of them


def read(conn: sqlite3.Connection) -> list[Group]:
    """Every group with steps waiting or alarms told of."""
    groups: dict[tuple[str, str, str], Group] = {}
    for post, who, grp, last, told in conn.execute(
        "SELECT post, who, grp, last_sent_at, told FROM notify_groups WHERE told != '[]'"
        " OR EXISTS (SELECT 1 FROM notify_held h WHERE h.post = notify_groups.post"
        " AND h.who = notify_groups.who AND h.grp = notify_groups.grp)"
    ):
        key, alarms = tuple(json.loads(grp)), tuple(json.loads(told))
        groups[post, who, grp] = Group(post, who, key, [], last, alarms)
    rows = conn.execute(
        "SELECT h.post, h.who, h.grp, h.first, h.held_at, i.id, i.reason, i.at, i.alarm_id,"
        " i.activation, i.run, i.step, i.alarms FROM notify_held h"
        " JOIN notify_intents i ON i.id = h.intent ORDER BY h.intent"
    ).fetchall()
    for post, who, grp, first, held_at, row, reason, at, alarm, act, run, step, alarms in rows:
        group = groups.setdefault((post, who, grp), Group(post, who, tuple(json.loads(grp))))
        intent = Intent(who, reason, at, alarm, act, post, run, step, tuple(json.loads(alarms)))
        group.held.append(HeldStep(row, intent, bool(first), held_at))
    return list(groups.values())


def release(
    conn: sqlite3.Connection,
    group: Group,
    steps: Sequence[HeldStep],
    message: tuple[str, str, Sequence[Planned]] | None,
    told: Sequence[str] | None,
    now: float,
) -> None:
    """Take ``steps`` off the wait; with a ``message`` (alarm id, change, notifications), insert
    it and record it as the group's last, with the alarms it ``told`` of; without one, record
    ``told`` alone (None: unchanged)."""
    with transaction(conn):
        conn.executemany("DELETE FROM notify_held WHERE intent = ?", [(s.id,) for s in steps])
        if message is None:
            if told is not None:
                conn.execute(
                    "UPDATE notify_groups SET told = ? WHERE post = ? AND who = ? AND grp = ?",
                    (json.dumps(list(told)), group.post, group.who, json.dumps(group.key)),
                )
            return
        alarm_id, change, planned = message
        intent = steps[0].id if steps else None
        told = told or ()
        for item in planned:
            insert(conn, alarm_id, change, item, now, intent)
        conn.execute(
            "INSERT INTO notify_groups (post, who, grp, last_sent_at, told) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (post, who, grp) DO UPDATE SET last_sent_at = excluded.last_sent_at,"
            " told = excluded.told",
            (group.post, group.who, json.dumps(group.key), now, json.dumps(list(told))),
        )
