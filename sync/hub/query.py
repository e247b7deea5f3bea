"""What the hub's read API asks of the database: sites, readings, alarms, access events and meter
events.

Filters are optional and combine with AND; ``start``/``end`` bound the event time inclusively.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Select, func, select

from rules.alarm import OPEN_STATES
from sync.hub import schema
from sync.hub.alarms import HubAlarm, from_row
from sync.hub.auth import User
from sync.hub.db import HubDB
from sync.hub.errors import InvalidTime, NotPermitted

DEFAULT_LIMIT = 1000
MAX_LIMIT = 100_000
# Meter events are energy data: the people who review consumption, as for manual readings.
METER_EVENT_ROLES = frozenset({"admin", "energy"})
StateFilter = Literal["unacknowledged", "acknowledged", "cleared_unacknowledged", "normal", "open"]


@dataclass(frozen=True, slots=True)
class SiteStore:
    """The site's agent store at its last report (``sync.protocol.StoreReport``)."""

    size: int
    max_size: int | None
    pressure: bool
    thinned: dict[str, int]
    reported_at: float


@dataclass(frozen=True, slots=True)
class SiteSummary:
    id: str
    name: str
    timezone: str | None
    last_sync_at: float | None
    agent_version: str | None
    quarantined: int
    devices: int
    open_alarms: int
    # None until the site's agent reports its store (agents before issue 5 never do).
    store: SiteStore | None = None
    # The agent's clock against the hub's (``sync.clock``), at clock_measured_at (hub time).
    clock_offset: float | None = None
    clock_round_trip: float | None = None
    clock_measured_at: float | None = None


@dataclass(frozen=True, slots=True)
class StoredReading:
    site: str
    seq: int
    device: str
    metric: str
    ts: float
    value: float
    received_at: float


@dataclass(frozen=True, slots=True)
class StoredRollup:
    """An hour of readings an agent thinned before sending them (``sync.protocol``)."""

    site: str
    seq: int
    device: str
    metric: str
    hour: float
    count: int
    min: float
    max: float
    sum: float
    first_ts: float
    first: float
    last_ts: float
    last: float
    replaces_after: int
    replaces_through: int


@dataclass(frozen=True, slots=True)
class StoredAccessEvent:
    site: str
    seq: int
    device: str
    ts: float
    card: str
    result: str
    direction: str | None
    reason: str | None
    received_at: float


@dataclass(frozen=True, slots=True)
class StoredMeterEvent:
    site: str
    seq: int
    device: str
    metric: str
    ts: float
    kind: str
    value: float
    previous: float | None


def parse_time(name: str, value: str | None) -> float | None:
    """Unix seconds or ISO 8601 (a time without an offset is taken as UTC)."""
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _parse_iso(name, value)
    if not math.isfinite(seconds):
        raise InvalidTime(name, value)
    return seconds


def sites(hubdb: HubDB) -> list[SiteSummary]:
    s, d, a = schema.sites, schema.devices, schema.alarms
    devices = select(func.count()).where(d.c.site == s.c.id).scalar_subquery()
    open_alarms = (
        select(func.count())
        .where(a.c.site == s.c.id, a.c.state.in_(sorted(OPEN_STATES)))
        .scalar_subquery()
    )
    query = select(s, devices.label("devices"), open_alarms.label("open_alarms")).order_by(s.c.id)
    with hubdb.read() as conn:
        stores = _stores(conn)
        return [
            SiteSummary(**row, store=stores.get(row["id"]))
            for row in conn.execute(query).mappings()
        ]


def _stores(conn: Connection) -> dict[str, SiteStore]:
    t = schema.site_stores
    return {
        row.site: SiteStore(
            row.size, row.max_size, bool(row.pressure), json.loads(row.thinned), row.reported_at
        )
        for row in conn.execute(select(t))
    }


def readings(
    hubdb: HubDB,
    *,
    site: str | None = None,
    device: str | None = None,
    metric: str | None = None,
    start: float | None = None,
    end: float | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[StoredReading]:
    r = schema.readings
    query = _between(select(r), r.c.ts, start, end)
    query = _equal(query, {r.c.site: site, r.c.device: device, r.c.metric: metric})
    query = query.order_by(r.c.ts, r.c.site, r.c.seq).limit(limit)
    with hubdb.read() as conn:
        return [StoredReading(**row) for row in conn.execute(query).mappings()]


def rollups(
    hubdb: HubDB,
    *,
    site: str | None = None,
    device: str | None = None,
    metric: str | None = None,
    start: float | None = None,
    end: float | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[StoredRollup]:
    """Stand-in rollups by hour (``start``/``end`` bound the hour's start)."""
    r = schema.rollups
    query = _between(select(r), r.c.hour, start, end)
    query = _equal(query, {r.c.site: site, r.c.device: device, r.c.metric: metric})
    query = query.order_by(r.c.hour, r.c.site, r.c.seq).limit(limit)
    with hubdb.read() as conn:
        return [StoredRollup(**row) for row in conn.execute(query).mappings()]


def alarms(
    hubdb: HubDB,
    *,
    site: str | None = None,
    state: StateFilter | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[HubAlarm]:
    a = schema.alarms
    query = _equal(select(a), {a.c.site: site})
    if state == "open":
        query = query.where(a.c.state.in_(sorted(OPEN_STATES)))
    elif state is not None:
        query = query.where(a.c.state == state)
    query = query.order_by(a.c.raised_at.desc(), a.c.id).limit(limit)
    with hubdb.read() as conn:
        return [from_row(row) for row in conn.execute(query).mappings()]


def access_events(
    hubdb: HubDB,
    *,
    site: str | None = None,
    device: str | None = None,
    card: str | None = None,
    result: str | None = None,
    start: float | None = None,
    end: float | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[StoredAccessEvent]:
    e = schema.access_events
    query = _between(select(e), e.c.ts, start, end)
    query = _equal(query, {e.c.site: site, e.c.device: device, e.c.card: card, e.c.result: result})
    query = query.order_by(e.c.ts, e.c.site, e.c.seq).limit(limit)
    with hubdb.read() as conn:
        return [StoredAccessEvent(**row) for row in conn.execute(query).mappings()]


def meter_events(
    hubdb: HubDB,
    user: User,
    *,
    site: str | None = None,
    device: str | None = None,
    kind: str | None = None,
    start: float | None = None,
    end: float | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[StoredMeterEvent]:
    """Meter events in time order, for the roles in ``METER_EVENT_ROLES``."""
    if user.role not in METER_EVENT_ROLES:
        raise NotPermitted(user.role, "read meter events")
    m = schema.meter_events
    query = _between(select(m), m.c.ts, start, end)
    query = _equal(query, {m.c.site: site, m.c.device: device, m.c.kind: kind})
    query = query.order_by(m.c.ts, m.c.site, m.c.seq).limit(limit)
    with hubdb.read() as conn:
        return [StoredMeterEvent(**row) for row in conn.execute(query).mappings()]


def _parse_iso(name: str, value: str) -> float:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidTime(name, value) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _equal(query: Select[Any], filters: dict[Any, str | None]) -> Select[Any]:
    return query.where(*(column == value for column, value in filters.items() if value is not None))


def _between(
    query: Select[Any], column: Any, start: float | None, end: float | None
) -> Select[Any]:
    if start is not None:
        query = query.where(column >= start)
    if end is not None:
        query = query.where(column <= end)
    return query
