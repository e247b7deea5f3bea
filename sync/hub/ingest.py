"""The hub end of ``POST /api/v1/sync``: store a batch once, say how far each stream is complete.

A chunk covers every record of its stream with ``after < seq <= through``. When it starts at or
before what the hub already holds, the hub holds everything up to ``through``; when it starts
beyond (a gap: the hub lost data, or the agent skipped ahead), the cursor stays and the agent
resends from it. Records are keyed by (site, seq), so anything sent twice is stored once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from sync.hub import alarms, excursions, heartbeat, schema
from sync.hub.db import HubDB
from sync.hub.errors import InvalidBatch, WrongSite
from sync.protocol import (
    PROTOCOL_VERSION,
    STREAMS,
    AccessRecord,
    ActionRecord,
    AlarmEventRecord,
    AnyChunk,
    MeterEventRecord,
    ReadingRecord,
    SyncAck,
    SyncBatch,
)

PENDING_ACTIONS_LIMIT = 1000


def apply_batch(hubdb: HubDB, site: str, batch: SyncBatch, now: float) -> SyncAck:
    """Store ``batch`` from the agent of ``site`` in one transaction and acknowledge it."""
    if batch.site != site:
        raise WrongSite(site, batch.site)
    check_batch(batch)
    with hubdb.write() as conn:
        # First, so that it locks the site's row: two batches of one site apply one after the other.
        _upsert_site(hubdb, conn, batch, now)
        heartbeat.synced(conn, site, now)
        if batch.devices is not None:
            _upsert_devices(hubdb, conn, batch)
        if batch.readings is not None:
            store_readings(hubdb, conn, site, batch.readings.items)
        if batch.access_events is not None:
            _store_access(hubdb, conn, site, batch.access_events.items)
        if batch.alarm_events is not None:
            _store_alarm_events(hubdb, conn, site, batch.alarm_events.items)
        if batch.meter_events is not None:
            store_meter_events(hubdb, conn, site, batch.meter_events.items)
        if batch.excursions is not None:
            excursions.store(hubdb, conn, site, batch.excursions.items)
        _mark_applied(conn, site, batch.applied_actions, now)
        acked = _advance_cursors(hubdb, conn, site, batch.chunks())
        actions = pending_actions(conn, site)
    return SyncAck(acked=acked, actions=actions, server_time=now)


def check_batch(batch: SyncBatch) -> None:
    if batch.protocol != PROTOCOL_VERSION:
        raise InvalidBatch(f"protocol {batch.protocol}; this hub speaks {PROTOCOL_VERSION}")
    for stream, chunk in batch.chunks().items():
        if chunk is None:
            continue
        if chunk.through < chunk.after:
            raise InvalidBatch(f"{stream}: through {chunk.through} < after {chunk.after}")
        outside = [i.seq for i in chunk.items if not chunk.after < i.seq <= chunk.through]
        if outside:
            raise InvalidBatch(
                f"{stream}: seq {outside[0]} outside ({chunk.after}, {chunk.through}]"
            )


def advance(cursor: int, chunk: AnyChunk | None) -> int:
    """The new cursor of one stream (see the module docstring)."""
    if chunk is None or chunk.after > cursor:
        return cursor
    return max(cursor, chunk.through)


def pending_actions(conn: Connection, site: str) -> list[ActionRecord]:
    actions = schema.alarm_actions
    rows = conn.execute(
        select(actions)
        .where(actions.c.site == site, actions.c.applied_at.is_(None))
        .order_by(actions.c.id)
        .limit(PENDING_ACTIONS_LIMIT)
    ).mappings()
    return [ActionRecord.model_validate(dict(row)) for row in rows]


def _upsert_site(hubdb: HubDB, conn: Connection, batch: SyncBatch, now: float) -> None:
    status: dict[str, object] = {
        "last_sync_at": now,
        "agent_version": batch.agent_version,
        "quarantined": batch.quarantined,
    }
    # Older batches (and heartbeats) may not name the site; keep what is known then.
    if batch.site_name:
        status["name"] = batch.site_name
    if batch.timezone:
        status["timezone"] = batch.timezone
    insert = hubdb.insert(schema.sites).values({"id": batch.site, "name": batch.site} | status)
    conn.execute(insert.on_conflict_do_update(index_elements=["id"], set_=status))


def _upsert_devices(hubdb: HubDB, conn: Connection, batch: SyncBatch) -> None:
    rows = [d.model_dump() | {"site": batch.site} for d in batch.devices or []]
    if not rows:
        return
    insert = hubdb.insert(schema.devices)
    fields = ("name", "kind", "building", "floor", "room", "department")
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["site", "id"], set_={f: insert.excluded[f] for f in fields}
        ),
        rows,
    )


def _insert(hubdb: HubDB, conn: Connection, table: Any, site: str, items: list[Any]) -> None:
    if items:
        rows = [item.model_dump() | {"site": site} for item in items]
        conn.execute(hubdb.insert(table).on_conflict_do_nothing(), rows)


def store_readings(hubdb: HubDB, conn: Connection, site: str, items: list[ReadingRecord]) -> None:
    _insert(hubdb, conn, schema.readings, site, items)
    latest: dict[tuple[str, str], ReadingRecord] = {}
    for item in items:
        key = (item.device, item.metric)
        if key not in latest or item.ts >= latest[key].ts:
            latest[key] = item
    if not latest:
        return
    insert = hubdb.insert(schema.latest_readings)
    rows = [
        {"site": site, "device": r.device, "metric": r.metric, "ts": r.ts, "value": r.value}
        for r in latest.values()
    ]
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["site", "device", "metric"],
            set_={"ts": insert.excluded.ts, "value": insert.excluded.value},
            # A late, resent or backfilled reading must not replace a newer one.
            where=schema.latest_readings.c.ts <= insert.excluded.ts,
        ),
        rows,
    )


def _store_access(hubdb: HubDB, conn: Connection, site: str, items: list[AccessRecord]) -> None:
    _insert(hubdb, conn, schema.access_events, site, items)
    latest: dict[str, AccessRecord] = {}
    for item in items:
        if item.device not in latest or item.seq > latest[item.device].seq:
            latest[item.device] = item
    if not latest:
        return
    fields = ("seq", "ts", "card", "result", "direction", "reason")
    insert = hubdb.insert(schema.latest_access)
    rows = [
        {"site": site, "device": e.device} | {f: getattr(e, f) for f in fields}
        for e in latest.values()
    ]
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["site", "device"],
            set_={f: insert.excluded[f] for f in fields},
            where=schema.latest_access.c.seq < insert.excluded.seq,
        ),
        rows,
    )


def store_meter_events(
    hubdb: HubDB, conn: Connection, site: str, items: list[MeterEventRecord]
) -> None:
    _insert(hubdb, conn, schema.meter_events, site, items)


def _store_alarm_events(
    hubdb: HubDB, conn: Connection, site: str, items: list[AlarmEventRecord]
) -> None:
    rows = [
        {"site": site, "seq": e.seq, "alarm_id": e.alarm.id, "kind": e.kind, "at": e.at, "by": e.by}
        for e in items
        if not alarms.hub_owned(e.alarm.id)
    ]
    if rows:
        conn.execute(hubdb.insert(schema.alarm_events).on_conflict_do_nothing(), rows)
    alarms.merge_into(hubdb, conn, site, [alarms.from_record(e.alarm) for e in items])


def _mark_applied(conn: Connection, site: str, ids: list[int], now: float) -> None:
    if not ids:
        return
    actions = schema.alarm_actions
    conn.execute(
        update(actions)
        .where(actions.c.site == site, actions.c.id.in_(ids), actions.c.applied_at.is_(None))
        .values(applied_at=now)
    )


def _advance_cursors(
    hubdb: HubDB, conn: Connection, site: str, chunks: dict[str, AnyChunk | None]
) -> dict[str, int]:
    cursors = schema.sync_cursors
    rows = conn.execute(select(cursors.c.stream, cursors.c.acked).where(cursors.c.site == site))
    held: dict[str, int] = {stream: acked for stream, acked in rows}
    acked = {stream: advance(held.get(stream, 0), chunks[stream]) for stream in STREAMS}
    changed = [
        {"site": site, "stream": s, "acked": c} for s, c in acked.items() if held.get(s) != c
    ]
    if changed:
        insert = hubdb.insert(schema.sync_cursors)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["site", "stream"], set_={"acked": insert.excluded.acked}
            ),
            changed,
        )
    return acked
