"""The hub's copy of every site's alarms: merged from agents' snapshots, acknowledged by people.

Both ends may change an alarm (the agent its condition, either end its acknowledgement);
``rules.alarm.merge`` makes the result independent of the order the copies meet in. The hub
raises alarms of its own too (``sync.hub.heartbeat``), with ids no agent uses (an agent's are uuid
hex); no agent can change them, and acknowledging one sends nothing down.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, select, update

from rules.alarm import Alarm, merge
from sync.hub import schema
from sync.hub.db import HubDB
from sync.hub.errors import UnknownAlarm
from sync.protocol import AlarmRecord

ALARM_FIELDS = tuple(Alarm.__dataclass_fields__)
HUB_OWNED_PREFIX = "hub-"


@dataclass(frozen=True, slots=True)
class HubAlarm:
    site: str
    alarm: Alarm


def hub_owned(alarm_id: str) -> bool:
    return alarm_id.startswith(HUB_OWNED_PREFIX)


def from_record(record: AlarmRecord) -> Alarm:
    return Alarm(**record.model_dump())


def from_row(row: RowMapping) -> HubAlarm:
    return HubAlarm(site=row["site"], alarm=Alarm(**{f: row[f] for f in ALARM_FIELDS}))


def row_values(alarm: Alarm) -> dict[str, Any]:
    return {**asdict(alarm), "state": alarm.state}


def merge_into(hubdb: HubDB, conn: Connection, site: str, incoming: Iterable[Alarm]) -> None:
    """Merge a site's alarm snapshots into the hub's copies, inside the caller's transaction."""
    merged: dict[str, Alarm] = {}
    for alarm in incoming:
        if hub_owned(alarm.id):
            continue
        merged[alarm.id] = merge(merged[alarm.id], alarm) if alarm.id in merged else alarm
    existing = load(conn, merged, lock=True)
    new = [row_values(a) | {"site": site} for i, a in merged.items() if i not in existing]
    if new:
        conn.execute(hubdb.insert(schema.alarms).on_conflict_do_nothing(), new)
    for alarm_id, held in existing.items():
        # An alarm id is the agent's uuid; one claimed by another site is not this agent's to
        # change.
        combined = merge(held.alarm, merged[alarm_id])
        if held.site == site and combined != held.alarm:
            save(conn, combined)


def get_alarm(hubdb: HubDB, alarm_id: str) -> HubAlarm:
    with hubdb.read() as conn:
        held = load(conn, [alarm_id], lock=False).get(alarm_id)
    if held is None:
        raise UnknownAlarm(alarm_id)
    return held


def load(conn: Connection, ids: Iterable[str], *, lock: bool) -> dict[str, HubAlarm]:
    query = select(schema.alarms).where(schema.alarms.c.id.in_(list(ids)))
    # FOR UPDATE (PostgreSQL; SQLite ignores it and holds the write lock already) keeps a
    # concurrent acknowledgement from being overwritten by a merge that read the row before it.
    rows = conn.execute(query.with_for_update() if lock else query).mappings()
    return {row["id"]: from_row(row) for row in rows}


def save(conn: Connection, alarm: Alarm) -> None:
    values = row_values(alarm)
    del values["id"]
    conn.execute(update(schema.alarms).where(schema.alarms.c.id == alarm.id).values(values))
