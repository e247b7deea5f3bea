"""What the agent owes the hub: batches read from the store, from the hub's last acknowledgement on.

Alarm changes and access events go first in every batch, readings fill the rest, so after an outage
the things people act on arrive before the bulk. Meter events (resets, rollovers, gaps, jitter of
cumulative meters) and completed cold-chain excursions travel as streams of their own, like the
others.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping

from agent import store
from collector.config import DeviceConfig
from sync.protocol import (
    STREAMS,
    AccessRecord,
    AlarmEventRecord,
    AlarmRecord,
    Chunk,
    DeviceInfo,
    DoorEventRecord,
    ExcursionRecord,
    MeterEventRecord,
    ReadingRecord,
    SyncBatch,
)

TABLES = {
    "readings": "readings",
    "access_events": "access_events",
    "alarm_events": "alarm_events",
    "meter_events": "meter_events",
    "excursions": "excursions",
}


def build_batch(
    conn: sqlite3.Connection,
    site: str,
    *,
    limit: int,
    now: float,
    devices: list[DeviceConfig] | None = None,
    agent_version: str = "",
    site_name: str | None = None,
    timezone: str | None = None,
) -> SyncBatch:
    cursors = store.cursors(conn)
    alarm_events = _alarm_events(conn, cursors.get("alarm_events", 0), limit)
    access = _access(conn, cursors.get("access_events", 0), limit)
    readings = _readings(conn, cursors.get("readings", 0), limit)
    meter_events = _meter_events(conn, cursors.get("meter_events", 0), limit)
    excursions = _excursions(conn, cursors.get("excursions", 0), limit)
    reported = [row[0] for row in conn.execute("SELECT id FROM hub_actions WHERE reported = 0")]
    quarantined = conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]
    return SyncBatch(
        site=site,
        site_name=site_name,
        timezone=timezone,
        agent_version=agent_version,
        sent_at=now,
        devices=[device_info(d) for d in devices] if devices is not None else None,
        readings=readings,
        access_events=access,
        alarm_events=alarm_events,
        meter_events=meter_events,
        excursions=excursions,
        applied_actions=reported,
        quarantined=quarantined,
    )


def full(batch: SyncBatch, limit: int, acked: Mapping[str, int]) -> bool:
    """True when a stream the hub acknowledged hit the limit, so more is waiting.

    A hub older than a stream leaves it out of ``acked``; that stream is resent with every batch
    and never counts, or the agent would send its first chunk again and again without a pause.
    """
    chunks = batch.chunks().items()
    return any(c is not None and len(c.items) >= limit and s in acked for s, c in chunks)


def pending(conn: sqlite3.Connection) -> dict[str, int]:
    cursors = store.cursors(conn)
    return {
        stream: conn.execute(
            f"SELECT COUNT(*) FROM {TABLES[stream]} WHERE id > ?", (cursors.get(stream, 0),)
        ).fetchone()[0]
        for stream in STREAMS
    }


def device_info(device: DeviceConfig) -> DeviceInfo:
    loc = device.location
    return DeviceInfo(
        id=device.id,
        name=device.name,
        kind=device.kind,
        building=loc.building,
        floor=loc.floor,
        room=loc.room,
        department=loc.department,
    )


def _readings(conn: sqlite3.Connection, after: int, limit: int) -> Chunk[ReadingRecord]:
    rows = conn.execute(
        "SELECT id, device, metric, ts, value, received_at FROM readings"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
    items = [
        ReadingRecord(seq=r[0], device=r[1], metric=r[2], ts=r[3], value=r[4], received_at=r[5])
        for r in rows
    ]
    return Chunk[ReadingRecord](after=after, through=rows[-1][0] if rows else after, items=items)


def _access(conn: sqlite3.Connection, after: int, limit: int) -> Chunk[AccessRecord]:
    rows = conn.execute(
        "SELECT id, device, ts, card, result, direction, reason, received_at FROM access_events"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
    items = [
        AccessRecord(
            seq=r[0],
            device=r[1],
            ts=r[2],
            card=r[3],
            result=r[4],
            direction=r[5],
            reason=r[6],
            received_at=r[7],
        )
        for r in rows
    ]
    return Chunk[AccessRecord](after=after, through=rows[-1][0] if rows else after, items=items)


def _meter_events(conn: sqlite3.Connection, after: int, limit: int) -> Chunk[MeterEventRecord]:
    rows = conn.execute(
        "SELECT id, device, metric, ts, kind, value, previous FROM meter_events"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
    items = [
        MeterEventRecord(
            seq=r[0], device=r[1], metric=r[2], ts=r[3], kind=r[4], value=r[5], previous=r[6]
        )
        for r in rows
    ]
    return Chunk[MeterEventRecord](after=after, through=rows[-1][0] if rows else after, items=items)


def _excursions(conn: sqlite3.Connection, after: int, limit: int) -> Chunk[ExcursionRecord]:
    rows = conn.execute(
        "SELECT id, rule, device, metric, started_at, ended_at, lowest, highest, ended_by, doors,"
        " doors_dropped FROM excursions WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
    items = [
        ExcursionRecord(
            seq=r[0],
            rule=r[1],
            device=r[2],
            metric=r[3],
            started_at=r[4],
            ended_at=r[5],
            lowest=r[6],
            highest=r[7],
            ended_by=r[8],
            doors=[DoorEventRecord(**d) for d in json.loads(r[9])],
            doors_dropped=r[10],
        )
        for r in rows
    ]
    return Chunk[ExcursionRecord](after=after, through=rows[-1][0] if rows else after, items=items)


def _alarm_events(conn: sqlite3.Connection, after: int, limit: int) -> Chunk[AlarmEventRecord]:
    rows = conn.execute(
        "SELECT id, kind, at, by, snapshot FROM alarm_events WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
    items = [
        AlarmEventRecord(
            seq=r[0], kind=r[1], at=r[2], by=r[3], alarm=AlarmRecord(**json.loads(r[4]))
        )
        for r in rows
    ]
    return Chunk[AlarmEventRecord](after=after, through=rows[-1][0] if rows else after, items=items)
