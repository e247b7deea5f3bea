"""What the writer stores besides readings (``rows``), inside its transaction: access events,
rejections (quarantine), meter events, alarm changes, the rules' completed records (excursions)
and the rule states, each counted in the writer's ``Stats``."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from agent import store
from agent.counters import MeterEvent
from agent.writer.entries import Barrier, Item, Stats
from collector.formats import Availability
from collector.models import AccessEvent, Reading, Rejection
from rules.alarm import AlarmChange
from rules.engine import Engine, RuleState
from rules.excursion import ExcursionRecord
from rules.kinds import dump_state

__all__ = [
    "insert_access",
    "insert_change",
    "insert_meter_event",
    "insert_rejection",
    "quarantined",
    "save_states",
]


def insert_access(conn: sqlite3.Connection, event: AccessEvent) -> int:
    """1 if the event is new, 0 if it is stored already (a redelivered message)."""
    conn.execute(
        "INSERT OR IGNORE INTO access_events"
        " (device, ts, card, result, direction, reason, received_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            event.device,
            event.ts,
            event.card,
            event.result,
            event.direction,
            event.reason,
            event.received_at,
        ),
    )
    added: int = conn.execute("SELECT changes()").fetchone()[0]
    return added


def insert_meter_event(conn: sqlite3.Connection, stats: Stats, event: MeterEvent) -> None:
    conn.execute(
        "INSERT INTO meter_events (device, metric, ts, kind, value, previous)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (event.device, event.metric, event.ts, event.kind, event.value, event.previous),
    )
    stats.meter_events[event.kind] += 1


def insert_rejection(conn: sqlite3.Connection, stats: Stats, rejection: Rejection) -> None:
    conn.execute(
        "INSERT INTO quarantine (received_at, topic, payload, reason, device)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            rejection.received_at,
            rejection.topic,
            rejection.payload,
            rejection.reason,
            rejection.device,
        ),
    )
    stats.quarantined[rejection.device or "?"] += 1


def quarantined(items: Sequence[Item], at: float) -> list[Item]:
    """A poisoned entry, stored as rejections instead: its messages' items, with their barriers
    kept so that whoever waits on them is still released."""
    reason = "the agent could not store this; kept here instead (see the agent's log)"
    kept: list[Item] = [
        Rejection(
            f"internal/{type(item).__name__}",
            repr(item).encode("utf-8", "backslashreplace")[:4096],
            reason,
            at,
            None,
        )
        for item in items
        if isinstance(item, Reading | AccessEvent | Rejection | Availability)
    ]
    kept += [item for item in items if isinstance(item, Barrier)]
    return kept


def insert_change(conn: sqlite3.Connection, stats: Stats, change: AlarmChange) -> None:
    row = store.alarm_row(change.alarm)
    columns = ", ".join(row)
    conn.execute(
        f"INSERT OR REPLACE INTO alarms ({columns}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    conn.execute(
        "INSERT INTO alarm_events (alarm_id, kind, at, by, snapshot) VALUES (?, ?, ?, ?, ?)",
        (change.alarm.id, change.kind, change.at, change.by, store.dump_alarm(change.alarm)),
    )
    stats.alarm_changes += 1


def save_states(
    conn: sqlite3.Connection,
    stats: Stats,
    engine: Engine,
    saved: dict[str, RuleState],
    every: bool,
) -> bool:
    """Store what the rules completed (excursions) and the states without it, together: of
    the states not in ``saved`` as they are, or of ``every`` state. Whether any was written."""
    states = engine.states
    if every:
        candidates = list(states)
    else:
        candidates = [rule for rule, state in states.items() if saved.get(rule) is not state]
    for record in engine.take_records(candidates):
        _insert_record(conn, stats, record)
    dirty = [
        (rule, dump_state(states[rule]))
        for rule in candidates
        if saved.get(rule) is not states[rule]
    ]
    if dirty:
        conn.executemany("INSERT OR REPLACE INTO rule_states (rule, state) VALUES (?, ?)", dirty)
    return bool(dirty)


def _insert_record(conn: sqlite3.Connection, stats: Stats, record: object) -> None:
    if not isinstance(record, ExcursionRecord):
        raise TypeError(f"no table for a rule's {type(record).__name__}")
    conn.execute(store.INSERT_EXCURSION, store.excursion_row(record))
    stats.excursions += 1
