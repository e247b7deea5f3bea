"""The hub's answer to a sync, applied in the writer's transaction: the stream cursors to keep,
the clock measured, and the operator actions taken at the hub (``agent.actions``), each kept and
applied once and reported back."""

from __future__ import annotations

import logging
import sqlite3

from agent import actions, store
from agent.actions import from_hub
from agent.retention import Retention
from agent.writer.entries import SyncAcked
from rules.actions import Action, InvalidAction, check
from rules.alarm import AlarmChange
from rules.engine import Engine
from sync.protocol import ActionRecord

__all__ = ["apply_action", "apply_answer"]

log = logging.getLogger(__name__)


def apply_answer(
    conn: sqlite3.Connection, engine: Engine, retention: Retention | None, acked: SyncAcked
) -> list[AlarmChange]:
    for stream, cursor in acked.cursors.items():
        store.set_cursor(conn, stream, cursor)
    if acked.clock is not None:
        store.set_clock(conn, acked.clock)
    conn.executemany(
        "UPDATE hub_actions SET reported = 1 WHERE id = ?", [(i,) for i in acked.reported]
    )
    changes = []
    for record in acked.actions:
        known = conn.execute("SELECT 1 FROM hub_actions WHERE id = ?", (record.id,)).fetchone()
        if known:
            continue
        changes += _apply_hub_action(conn, engine, retention, record, acked.at)
        conn.execute(
            "INSERT INTO hub_actions (id, alarm_id, action, applied_at) VALUES (?, ?, ?, ?)",
            (record.id, record.alarm_id or "", record.action, acked.at),
        )
    return changes


def _apply_hub_action(
    conn: sqlite3.Connection,
    engine: Engine,
    retention: Retention | None,
    record: ActionRecord,
    at: float,
) -> list[AlarmChange]:
    """Keep an action taken at the hub and apply it; one that cannot be applied is still
    reported as seen, so the hub stops sending it."""
    try:
        action = from_hub(record, engine.alarms)
        check(action)
    except InvalidAction as refused:
        log.warning("hub action %s refused: %s", record.id, refused)
        return []
    if not actions.receive(conn, action, "hub", at):
        return []
    changes, error = apply_action(engine, retention, action)
    if error:
        log.info("hub %s of alarm %s: %s", action.kind, action.alarm_id, error)
        conn.execute("UPDATE actions SET error = ? WHERE uid = ?", (error, action.id))
    return changes


def apply_action(
    engine: Engine, retention: Retention | None, action: Action
) -> tuple[list[AlarmChange], str | None]:
    """The engine's alarms take every action; the store's own (storage_pressure) only an
    acknowledgement."""
    if retention is not None and action.kind == "ack" and retention.owns(action.alarm_id or ""):
        change = retention.acknowledge(
            action.alarm_id or "", action.by, action.at, action.activation
        )
        return [change] if change else [], None
    return actions.apply(engine, action)
