"""What the agent owes the hub: batches read from the store, from the hub's last acknowledgement on.

A batch is bounded twice: at most ``limit`` records of each stream, and at most ``max_bytes`` of
body before compression. Alarm changes, access events, operator actions (``agent.actions``,
whichever end took them), meter events (resets, rollovers, gaps of cumulative meters), completed
cold-chain excursions and the rollups that stand in for readings thinned before they were sent
(``agent.retention``) take the byte budget first, readings what is left; while any of those has
more waiting than one batch holds, readings wait, so after an outage the things people act on
arrive before the bulk (issue 5). Readings travel as columns (``sync.columns``) to a hub that
says it takes them, as JSON records otherwise. Rollups of readings the hub already holds stay
here.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent import downlink, retention, store
from collector.config import DeviceConfig
from sync.columns import BYTES_PER_ROW, Readings, encoded_size
from sync.envelope import ENVELOPE_BYTES
from sync.protocol import (
    ACTION_KINDS,
    STREAMS,
    AccessRecord,
    AlarmEventRecord,
    AlarmRecord,
    Chunk,
    DeviceInfo,
    DoorEventRecord,
    ExcursionRecord,
    MeterEventRecord,
    OperatorActionRecord,
    RollupRecord,
    StoreReport,
    SyncBatch,
)

# Each stream is the table of its name, or the rows of it that go to the hub.
FILTERS = {"rollups": "replaces_through IS NOT NULL AND "}
# The streams that go before readings, in the order they take the byte budget.
FIRST = ("alarm_events", "access_events", "actions", "meter_events", "excursions", "rollups")
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
# A reading's JSON but its two names: keys, a seq, three floats of up to 24 characters each.
JSON_READING_BYTES = 156
# What a batch carries besides its chunks: site, names, versions, counters, chunk bounds.
BATCH_BYTES = 1024


@dataclass(frozen=True)
class Outgoing:
    """One batch on its way: ``readings`` is set (and ``batch.readings`` None) when they travel
    as columns. ``more`` names the streams with records waiting beyond this batch."""

    batch: SyncBatch
    readings: Readings | None
    more: frozenset[str]


def build(
    conn: sqlite3.Connection,
    site: str,
    *,
    limit: int,
    now: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    columns: bool = False,
    hub_streams: Collection[str] | None = None,
    devices: list[DeviceConfig] | None = None,
    agent_version: str = "",
    site_name: str | None = None,
    timezone: str | None = None,
    max_size: int | None = None,
) -> Outgoing:
    """The next batch. ``hub_streams`` are the streams the hub acknowledged last time (None:
    not known yet); only those hold readings back, since a hub older than a stream resends it."""
    cursors = store.cursors(conn)
    infos = [device_info(d) for d in devices] if devices is not None else None
    budget = max_bytes - BATCH_BYTES - len(json.dumps([i.model_dump() for i in infos or []]))
    chunks: dict[str, Any] = {}
    more: set[str] = set()
    for stream in FIRST:
        after = cursors.get(stream, 0)
        records = READERS[stream](conn, after, limit + 1)
        sizes = [len(r.model_dump_json().encode()) + 1 for r in records[:limit]]
        taken = _fit(sizes, budget, at_least_one=not any(c.items for c in chunks.values()))
        budget -= sum(sizes[:taken])
        if taken < len(records):
            more.add(stream)
        chunks[stream] = _chunk(stream, after, records[:taken])
    after = cursors.get("readings", 0)
    held = any(s in more and (hub_streams is None or s in hub_streams) for s in FIRST)
    rows = [] if held else _reading_rows(conn, after, limit + 1)
    taken = _fit_readings(rows[:limit], budget, columns, at_least_one=not more)
    if taken < len(rows) or (held and _any_after(conn, after)):
        more.add("readings")
    readings = Readings(after, rows[taken - 1][0] if taken else after, rows[:taken])
    config_version, config_rejected = downlink.report(conn)
    batch = SyncBatch(
        site=site,
        site_name=site_name,
        timezone=timezone,
        agent_version=agent_version,
        sent_at=now,
        devices=infos,
        readings=None if columns else readings.chunk(),
        applied_actions=[
            r[0] for r in conn.execute("SELECT id FROM hub_actions WHERE reported = 0")
        ],
        quarantined=conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0],
        action_kinds=list(ACTION_KINDS),
        config_version=config_version,
        config_rejected=config_rejected,
        clock=store.clock(conn),
        store=store_report(conn, max_size),
        **chunks,
    )
    return Outgoing(batch, readings if columns else None, frozenset(more))


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
    max_size: int | None = None,
) -> SyncBatch:
    """The next batch as JSON records, bounded by ``limit`` a stream (and the default bytes)."""
    return build(
        conn,
        site,
        limit=limit,
        now=now,
        devices=devices,
        agent_version=agent_version,
        site_name=site_name,
        timezone=timezone,
        max_size=max_size,
    ).batch


def store_report(conn: sqlite3.Connection, max_size: int | None) -> StoreReport:
    pressure = conn.execute(
        "SELECT 1 FROM alarms WHERE rule = ? AND active = 1", (retention.RULE,)
    ).fetchone()
    return StoreReport(
        size=retention.measure(conn).size,
        max_size=max_size,
        pressure=pressure is not None,
        thinned=retention.thinned(conn),
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
            f"SELECT COUNT(*) FROM {stream} WHERE {FILTERS.get(stream, '')}id > ?",
            (cursors.get(stream, 0),),
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


def _fit(sizes: Sequence[int], budget: int, *, at_least_one: bool) -> int:
    """How many of the first records fit ``budget``; one at least when asked, so that a record
    larger than the budget still goes, alone, rather than blocking its stream."""
    total = 0
    for n, size in enumerate(sizes):
        total += size
        if total > budget:
            return 1 if at_least_one and n == 0 else n
    return len(sizes)


def _fit_readings(
    rows: Sequence[tuple[Any, ...]], budget: int, columns: bool, *, at_least_one: bool
) -> int:
    if columns:
        if encoded_size(len(rows), {(r[1], r[2]) for r in rows}) + ENVELOPE_BYTES <= budget:
            return len(rows)  # the usual case, without a size a row
        seen: set[tuple[str, str]] = set()
        sizes = []
        for _, device, metric, *_ in rows:
            size = BYTES_PER_ROW
            if (device, metric) not in seen:
                seen.add((device, metric))
                size += encoded_size(0, [(device, metric)]) - encoded_size(0, [])
            sizes.append(size)
        budget -= encoded_size(0, []) + ENVELOPE_BYTES
    else:
        names: dict[tuple[str, str], int] = {}
        for _, device, metric, *_ in rows:
            if (device, metric) not in names:
                names[device, metric] = JSON_READING_BYTES + _json_len(device, metric)
        sizes = [names[r[1], r[2]] for r in rows]
    return _fit(sizes, budget, at_least_one=at_least_one)


def _json_len(*names: str) -> int:
    return sum(len(json.dumps(n, ensure_ascii=False).encode()) for n in names)


def _any_after(conn: sqlite3.Connection, after: int) -> bool:
    return (
        conn.execute("SELECT 1 FROM readings WHERE id > ? LIMIT 1", (after,)).fetchone() is not None
    )


def _reading_rows(conn: sqlite3.Connection, after: int, limit: int) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT id, device, metric, ts, value, received_at FROM readings"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()


def _chunk(stream: str, after: int, records: list[Any]) -> Chunk[Any]:
    kind = {
        "access_events": AccessRecord,
        "alarm_events": AlarmEventRecord,
        "actions": OperatorActionRecord,
        "meter_events": MeterEventRecord,
        "excursions": ExcursionRecord,
        "rollups": RollupRecord,
    }[stream]
    through = records[-1].seq if records else after
    return Chunk[kind](after=after, through=through, items=records)  # type: ignore[valid-type]


def _access(conn: sqlite3.Connection, after: int, limit: int) -> list[AccessRecord]:
    rows = conn.execute(
        "SELECT id, device, ts, card, result, direction, reason, received_at FROM access_events"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
    return [
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


def _meter_events(conn: sqlite3.Connection, after: int, limit: int) -> list[MeterEventRecord]:
    rows = conn.execute(
        "SELECT id, device, metric, ts, kind, value, previous FROM meter_events"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
    return [
        MeterEventRecord(
            seq=r[0], device=r[1], metric=r[2], ts=r[3], kind=r[4], value=r[5], previous=r[6]
        )
        for r in rows
    ]


def _excursions(conn: sqlite3.Connection, after: int, limit: int) -> list[ExcursionRecord]:
    rows = conn.execute(
        "SELECT id, rule, device, metric, started_at, ended_at, lowest, highest, ended_by, doors,"
        " doors_dropped FROM excursions WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
    return [
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


def _alarm_events(conn: sqlite3.Connection, after: int, limit: int) -> list[AlarmEventRecord]:
    rows = conn.execute(
        "SELECT id, kind, at, by, snapshot FROM alarm_events WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
    return [
        AlarmEventRecord(
            seq=r[0], kind=r[1], at=r[2], by=r[3], alarm=AlarmRecord(**json.loads(r[4]))
        )
        for r in rows
    ]


def _actions(conn: sqlite3.Connection, after: int, limit: int) -> list[OperatorActionRecord]:
    rows = conn.execute(
        "SELECT id, uid, kind, rule, alarm_id, by, at, note, until, activation FROM actions"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
    fields = ("seq", "uid", "kind", "rule", "alarm_id", "by", "at", "note", "until", "activation")
    return [OperatorActionRecord(**dict(zip(fields, r, strict=True))) for r in rows]


def _rollups(conn: sqlite3.Connection, after: int, limit: int) -> list[RollupRecord]:
    rows = conn.execute(
        "SELECT id, device, metric, hour, count, min, max, sum, first_ts, first, last_ts, last,"
        f" replaces_after, replaces_through FROM rollups WHERE {FILTERS['rollups']}id > ?"
        " ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
    fields = tuple(RollupRecord.model_fields)
    return [RollupRecord.model_validate(dict(zip(fields, r, strict=True))) for r in rows]


READERS: dict[str, Callable[[sqlite3.Connection, int, int], list[Any]]] = {
    "alarm_events": _alarm_events,
    "access_events": _access,
    "actions": _actions,
    "meter_events": _meter_events,
    "excursions": _excursions,
    "rollups": _rollups,
}
