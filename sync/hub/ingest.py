"""The hub end of ``POST /api/v1/sync``: store a batch once, say how far each stream is complete.

A chunk covers every record of its stream with ``after < seq <= through`` (of readings, every one
the agent still holds raw: stand-in rollups cover the others, see ``sync.protocol``). When it
starts at or before what the hub already holds, the hub holds everything up to ``through``; when
it starts beyond (a gap: the hub lost data, or the agent skipped ahead), the cursor stays and the
agent resends from it. Records are keyed by (site, seq), so anything sent twice is stored once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

import psycopg
from sqlalchemy import Connection, select, update

from sync.columns import Readings, Row
from sync.envelope import COLUMNS
from sync.hub import actions as operator
from sync.hub import alarms, clock, excursions, heartbeat, schema, site_config
from sync.hub.db import HubDB
from sync.hub.errors import InvalidBatch, WrongSite
from sync.protocol import (
    PROTOCOL_VERSION,
    STREAMS,
    AccessRecord,
    AlarmEventRecord,
    MeterEventRecord,
    ReadingRecord,
    RollupRecord,
    StoreReport,
    SyncAck,
    SyncBatch,
)

ACCEPTS = [COLUMNS]


class Span(Protocol):
    @property
    def after(self) -> int: ...
    @property
    def through(self) -> int: ...


def apply_batch(
    hubdb: HubDB, site: str, batch: SyncBatch, now: float, readings: Readings | None = None
) -> SyncAck:
    """Store ``batch`` from the agent of ``site`` in one transaction and acknowledge it.

    ``readings`` are the batch's readings when they came as columns (``batch.readings`` is None
    then)."""
    if batch.site != site:
        raise WrongSite(site, batch.site)
    check_batch(batch)
    if readings is None and batch.readings is not None:
        readings = Readings.of(batch.readings)
    if readings is not None:
        check_span("readings", readings, [r[0] for r in readings.rows])
    with hubdb.write() as conn:
        # First, so that it locks the site's row: two batches of one site apply one after the other.
        _upsert_site(hubdb, conn, batch, now)
        heartbeat.synced(conn, site, now)
        if batch.clock is not None:
            clock.check(conn, site, batch.clock, now)
        if batch.devices is not None:
            _upsert_devices(hubdb, conn, batch)
        if readings is not None:
            store_reading_rows(hubdb, conn, site, readings.rows)
        if batch.access_events is not None:
            _store_access(hubdb, conn, site, batch.access_events.items)
        if batch.alarm_events is not None:
            _store_alarm_events(hubdb, conn, site, batch.alarm_events.items)
        if batch.meter_events is not None:
            store_meter_events(hubdb, conn, site, batch.meter_events.items)
        if batch.actions is not None:
            operator.store_from_agent(hubdb, conn, site, batch.actions.items, now)
        if batch.rollups is not None:
            store_rollups(hubdb, conn, site, batch.rollups.items)
        if batch.store is not None:
            _upsert_store(hubdb, conn, site, batch.store, now)
        if batch.excursions is not None:
            excursions.store(hubdb, conn, site, batch.excursions.items)
        _mark_applied(conn, site, batch.applied_actions, now)
        spans: dict[str, Span | None] = {**batch.chunks(), "readings": readings}
        acked = _advance_cursors(hubdb, conn, site, spans)
        actions = operator.pending(conn, site, batch.action_kinds)
        config = None
        # None: an agent from before the configuration downlink, which would not apply it.
        if batch.config_version is not None:
            rejected = batch.config_rejected
            site_config.report(hubdb, conn, site, batch.config_version, rejected, now)
            config = site_config.due(conn, site, batch.config_version, rejected)
    return SyncAck(acked=acked, actions=actions, server_time=now, config=config, accepts=ACCEPTS)


def check_batch(batch: SyncBatch) -> None:
    if batch.protocol != PROTOCOL_VERSION:
        raise InvalidBatch(f"protocol {batch.protocol}; this hub speaks {PROTOCOL_VERSION}")
    for stream, chunk in batch.chunks().items():
        if chunk is not None:
            check_span(stream, chunk, [i.seq for i in chunk.items])


def check_span(stream: str, span: Span, seqs: Sequence[int]) -> None:
    if span.through < span.after:
        raise InvalidBatch(f"{stream}: through {span.through} < after {span.after}")
    outside = [s for s in seqs if not span.after < s <= span.through]
    if outside:
        raise InvalidBatch(f"{stream}: seq {outside[0]} outside ({span.after}, {span.through}]")


def advance(cursor: int, chunk: Span | None) -> int:
    """The new cursor of one stream (see the module docstring)."""
    if chunk is None or chunk.after > cursor:
        return cursor
    return max(cursor, chunk.through)


def _upsert_site(hubdb: HubDB, conn: Connection, batch: SyncBatch, now: float) -> None:
    status: dict[str, object] = {
        "last_sync_at": now,
        "agent_version": batch.agent_version,
        "quarantined": batch.quarantined,
    }
    if batch.clock is not None:
        status["clock_offset"] = batch.clock.offset
        status["clock_round_trip"] = batch.clock.round_trip
        # On the hub's clock, as every other time the hub keeps.
        status["clock_measured_at"] = batch.clock.measured_at + batch.clock.offset
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
    store_reading_rows(hubdb, conn, site, Readings.of_items(items))


def store_reading_rows(hubdb: HubDB, conn: Connection, site: str, rows: Sequence[Row]) -> None:
    """Readings ``(seq, device, metric, ts, value, received_at)``, once each, and the latest of
    every series."""
    if not rows:
        return
    _insert_readings(hubdb, conn, site, rows)
    latest: dict[tuple[str, str], Row] = {}
    for row in rows:
        key = (row[1], row[2])
        if key not in latest or row[3] >= latest[key][3]:
            latest[key] = row
    insert = hubdb.insert(schema.latest_readings)
    newest = [
        {"site": site, "device": d, "metric": m, "ts": t, "value": v}
        for _, d, m, t, v, _ in latest.values()
    ]
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["site", "device", "metric"],
            set_={"ts": insert.excluded.ts, "value": insert.excluded.value},
            # A late, resent or backfilled reading must not replace a newer one.
            where=schema.latest_readings.c.ts <= insert.excluded.ts,
        ),
        newest,
    )


def store_rollups(hubdb: HubDB, conn: Connection, site: str, items: list[RollupRecord]) -> None:
    # Not into latest_readings: the agent rolls up its oldest unsent readings, so the raw ones
    # after a stand-in carry the series' latest value.
    _insert(hubdb, conn, schema.rollups, site, items)


def _upsert_store(
    hubdb: HubDB, conn: Connection, site: str, report: StoreReport, now: float
) -> None:
    values = report.model_dump() | {"thinned": json.dumps(report.thinned), "reported_at": now}
    insert = hubdb.insert(schema.site_stores).values(values | {"site": site})
    conn.execute(insert.on_conflict_do_update(index_elements=["site"], set_=values))


def _insert_readings(hubdb: HubDB, conn: Connection, site: str, rows: Sequence[Row]) -> None:
    # The bulk of every catch-up: straight to the driver, without a dict a row (SQLAlchemy's
    # parameter handling cost three times the insert itself), and by COPY on PostgreSQL.
    columns = "site, seq, device, metric, ts, value, received_at"
    if hubdb.dialect == "postgresql":
        _copy_readings(conn, site, rows, columns)
        return
    conn.exec_driver_sql(
        f"INSERT INTO readings ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(site, *row) for row in rows],
    )


def _copy_readings(conn: Connection, site: str, rows: Sequence[Row], columns: str) -> None:
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with driver.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS readings_in"
            " (LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY readings_in ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((site, *row))
        cursor.execute(
            f"INSERT INTO readings ({columns}) SELECT {columns} FROM readings_in"
            " ON CONFLICT DO NOTHING"
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
    hubdb: HubDB, conn: Connection, site: str, chunks: dict[str, Span | None]
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
