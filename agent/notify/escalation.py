"""Escalation driving delivery: what ``rules.escalation.due`` says is due now about a post's
alarms, read from the store.

Every alarm change with a post reaches its people this way, and only this way: the per-change
plan is kept for acknowledgements alone, which escalation does not announce. So a raise is never
told twice, once as a change and once as escalation's first step.

On every pass ``due`` is asked once per post, at ``now``, about the alarms that are open, changed
within the flood window or waiting in the queue, with the intents planned about them before.
The queue still carries the guarantee that a committed change is told: its alarm is part of the
pass that takes it off the queue, and since an alarm may have been raised and cleared before any
pass saw it (one commit, or the agent was down), ``due`` is first asked what was due the instant
each queued change was made, from the history before it. Of those answers only the openings
(``raised``, ``reraised``) are kept: a step that a notifier down at the time missed is stale once
the alarm has moved on, the activation itself is not.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from agent.config import Post
from agent.notify.outbox import QueuedChange, planned_intents
from agent.notify.recipients import POST_ITSELF
from rules.alarm import Alarm, AlarmChange
from rules.escalation import ACTIVATING, Intent, due

__all__ = ["Due", "pending"]


@dataclass(frozen=True, slots=True)
class Due:
    """An intent, the alarm as it stood when the intent fell due, and whether the post's own
    URLs go with it (the first of its activation's openings, or of its clearing)."""

    intent: Intent
    alarm: Alarm
    first: bool


def pending(
    conn: sqlite3.Connection,
    post: Post,
    tz: tzinfo,
    queued: Sequence[QueuedChange],
    now: float,
    muted: Callable[[Alarm], bool] | None = None,
) -> list[Due]:
    """What is due about ``post``'s alarms at ``now`` and not planned yet; ``queued``: its
    changes taken off the queue in this pass. An alarm ``muted`` (silenced, inhibited) is left
    out, as if it did not exist: nothing falls due about it, it does not count towards a flood,
    and once nothing mutes it escalation tells of it as it stands then."""
    flood = post.escalation.flood
    since = min([now - (flood.within.total_seconds() if flood else 0.0), *(c.at for c in queued)])
    ids = _alarm_ids(conn, post.id, since) | {c.alarm.id for c in queued}
    if not ids:
        return []
    histories = _histories(conn, sorted(ids), since)
    if muted is not None:
        histories = [h for h in histories if not (h and muted(h[-1].alarm))]
    sent = planned_intents(conn, ids)
    found: list[Due] = []
    for at in sorted({c.at for c in queued}):
        before = [[c for c in h if c.at < at] for h in histories]
        opening = [i for i in _due(post, tz, before, sent, at) if i.reason in ACTIVATING]
        found += _dues(opening, before, sent)
    return found + _dues(_due(post, tz, histories, sent, now), histories, sent)


def _due(
    post: Post,
    tz: tzinfo,
    histories: Sequence[Sequence[AlarmChange]],
    sent: list[Intent],
    now: float,
) -> list[Intent]:
    members = [m.name for m in post.members]
    supervised = post.supervisor is not None
    if not members and not supervised:
        # A post that is only a group channel (a DingTalk or WeCom group): the post itself is
        # the one on duty, or nobody would ever hear of its alarms.
        members = [POST_ITSELF]
    return due(
        histories, post.escalation, post.roster, members, tz, sent, now, supervisor=supervised
    )


def _dues(
    intents: Sequence[Intent], histories: Sequence[Sequence[AlarmChange]], sent: list[Intent]
) -> list[Due]:
    """``intents`` with their alarms; each is added to ``sent`` as it is taken."""
    alarms = {h[-1].alarm.id: h[-1].alarm for h in histories if h}
    found = []
    for intent in intents:
        found.append(Due(intent, alarms[intent.alarm], _first(intent, sent)))
        sent.append(intent)
    return found


def _first(intent: Intent, sent: Sequence[Intent]) -> bool:
    if intent.reason == "flood" or intent.run > 0:
        return False
    cleared = intent.reason == "cleared"
    return not any(
        s.alarm == intent.alarm
        and s.activation == intent.activation
        and s.run == 0
        and s.reason != "flood"
        and (s.reason == "cleared") == cleared
        for s in sent
    )


def _alarm_ids(conn: sqlite3.Connection, post: str, since: float) -> set[str]:
    rows = conn.execute(
        "SELECT id FROM alarms WHERE post = ? AND (state != 'normal' OR changed_at >= ?)",
        (post, since),
    ).fetchall()
    return {alarm_id for (alarm_id,) in rows}


def _histories(
    conn: sqlite3.Connection, ids: Sequence[str], since: float
) -> list[list[AlarmChange]]:
    """Each alarm's changes since its current activation began or since ``since``, in order."""
    histories = []
    for alarm_id in ids:
        rows = conn.execute(
            "SELECT kind, at, by, snapshot FROM alarm_events WHERE alarm_id = ? AND (at >= ?"
            " OR id >= (SELECT COALESCE(MAX(id), 0) FROM alarm_events WHERE alarm_id = ?"
            " AND kind IN ('raised', 'reraised'))) ORDER BY id",
            (alarm_id, since, alarm_id),
        ).fetchall()
        histories.append(
            [
                AlarmChange(Alarm(**json.loads(snapshot)), kind, at, by)
                for kind, at, by, snapshot in rows
            ]
        )
    return histories
