"""The cold-chain records an agent keeps, read from its own store for people on site (no hub
needed): the completed excursions, newest first, and the ones going on now."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from agent import store
from collector.duration import format_duration
from collector.timestamps import iso
from rules.excursion import DoorEvent, ExcursionRecord, ExcursionRule, ExcursionState, record_of
from rules.spec import Rule

_ENDED_BY = {"range": "back in range", "gap": "readings stopped", "": "going on"}


def recent_excursions(
    conn: sqlite3.Connection, *, limit: int, device: str | None = None
) -> list[tuple[int, ExcursionRecord]]:
    """The latest completed excursions (of ``device``), newest first, with their sync seq."""
    rows = conn.execute(
        "SELECT id, rule, device, metric, started_at, ended_at, lowest, highest, ended_by, doors,"
        " doors_dropped FROM excursions WHERE ? IS NULL OR device = ?"
        " ORDER BY started_at DESC, id DESC LIMIT ?",
        (device, device, limit),
    ).fetchall()
    return [(r[0], _record(r[1:])) for r in rows]


def ongoing_excursions(conn: sqlite3.Connection, rules: Iterable[Rule]) -> list[ExcursionRecord]:
    """The excursions going on now, as far as the last commit of the writer knows."""
    states = store.rule_states(conn)
    going = []
    for rule in rules:
        state = states.get(rule.id)
        excursion = state.current if isinstance(state, ExcursionState) else None
        if isinstance(rule, ExcursionRule) and excursion is not None:
            going.append(record_of(rule, excursion))
    return going


def excursion_line(record: ExcursionRecord) -> str:
    """One line for a person: where, when, how long, how far, how it ended, and the doors."""
    length = format_duration(timedelta(seconds=round(record.duration)))
    line = (
        f"{record.device} {record.metric} {iso(record.start)} to {iso(record.end)} ({length}),"
        f" lowest {record.lowest:g}, highest {record.highest:g},"
        f" {_ENDED_BY.get(record.ended_by, record.ended_by)} [{record.rule}]"
    )
    if record.doors:
        line += "; doors: " + ", ".join(_door(e) for e in record.doors)
    if record.doors_dropped:
        line += f" and {record.doors_dropped} more door events"
    return line


def _door(event: DoorEvent) -> str:
    return f"{event.door} {'opened' if event.open else 'closed'} {iso(event.at)}"


def _record(row: tuple[Any, ...]) -> ExcursionRecord:
    rule, device, metric, start, end, lowest, highest, ended_by, doors, dropped = row
    events = tuple(DoorEvent(d["door"], d["at"], d["open"]) for d in json.loads(doors))
    return ExcursionRecord(
        rule, device, metric, start, end, lowest, highest, ended_by, events, dropped
    )
