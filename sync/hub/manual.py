"""Hand-read meter readings entered at the hub for any site (``POST .../readings/import``).

They are checked exactly as at the agent (``collector.manual``), against the devices the site's
agent reported and the readings the hub holds, and stored in one transaction.

The hub's ``readings`` are keyed by (site, seq) with seq the agent's row id, always positive.
Readings entered here take negative, decreasing numbers of their own per site, so they can never
collide with a row the agent sends later, and the agent's sync cursors never see them. A row
marked as a meter replacement is also recorded as a ``replacement`` meter event, numbered the
same way in ``meter_events``.

HubError (sync.hub.errors)
├── NotFound
│   └── UnknownSite
└── InvalidInput
    └── InvalidImport   the file or body as a whole is unusable
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Table, func, select

from collector.manual import (
    FileError,
    ImportReport,
    ManualReading,
    Point,
    RawRow,
    RowProblem,
    parse_csv,
    rows_from_json,
    validate,
)
from collector.models import METRICS
from sync.hub import schema
from sync.hub.auth import User
from sync.hub.db import HubDB
from sync.hub.errors import InvalidInput, NotFound, NotPermitted
from sync.hub.ingest import store_meter_events, store_readings
from sync.protocol import MeterEventRecord, ReadingRecord

__all__ = [
    "IMPORT_ROLES",
    "InvalidImport",
    "UnknownSite",
    "import_csv",
    "import_rows",
]

IMPORT_ROLES = frozenset({"admin", "energy"})


class UnknownSite(NotFound):
    def __init__(self, site: str) -> None:
        super().__init__(f"no site {site!r}")
        self.site = site


class InvalidImport(InvalidInput):
    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot import readings: {reason}")
        self.reason = reason


def import_csv(hubdb: HubDB, user: User, site: str, text: str, now: float) -> ImportReport:
    """Import a CSV file (header ``device,time,value[,metric][,replacement]``) for ``site``."""
    _allowed(user)
    try:
        rows = parse_csv(text)
    except FileError as error:
        raise InvalidImport(str(error)) from None
    return _import(hubdb, site, rows, now)


def import_rows(
    hubdb: HubDB, user: User, site: str, rows: list[object], now: float
) -> ImportReport:
    """Import rows given as JSON objects with the CSV's fields; ``line`` is a row's position."""
    _allowed(user)
    try:
        parsed = rows_from_json(rows)
    except FileError as error:
        raise InvalidImport(str(error)) from None
    return _import(hubdb, site, parsed, now)


def _allowed(user: User) -> None:
    if user.role not in IMPORT_ROLES:
        raise NotPermitted(user.role, "import readings")


def _import(hubdb: HubDB, site: str, rows: list[RawRow | RowProblem], now: float) -> ImportReport:
    s, d = schema.sites, schema.devices
    with hubdb.write() as conn:
        # FOR UPDATE on PostgreSQL: two imports for one site take turns choosing sequence numbers
        # (SQLite's BEGIN IMMEDIATE already serialises writers).
        found = conn.execute(select(s.c.timezone).where(s.c.id == site).with_for_update()).first()
        if found is None:
            raise UnknownSite(site)
        devices = conn.execute(select(d.c.id, d.c.kind).where(d.c.site == site))
        kinds: dict[str, str] = {row.id: row.kind for row in devices}
        checked = validate(
            rows,
            kinds,
            zone=_zone(found.timezone),
            now=now,
            previous=lambda device, metric, ts: _previous(conn, site, device, metric, ts),
        )
        top = _lowest_seq(conn, schema.readings, site)
        records = [
            ReadingRecord(
                seq=top - i,
                device=r.device,
                metric=r.metric,
                ts=r.ts,
                value=r.value,
                received_at=now,
            )
            for i, r in enumerate(checked.readings, start=1)
        ]
        store_readings(hubdb, conn, site, records)
        # After the readings: earlier rows of this import count as what a replacement replaced.
        replaced = [r for r in checked.readings if r.replacement and METRICS[r.metric].cumulative]
        store_meter_events(hubdb, conn, site, _replacements(conn, site, replaced))
    return ImportReport(len(records), checked.rejected)


def _replacements(
    conn: Connection, site: str, readings: list[ManualReading]
) -> list[MeterEventRecord]:
    top = _lowest_seq(conn, schema.meter_events, site)
    return [
        MeterEventRecord(
            seq=top - i,
            device=r.device,
            metric=r.metric,
            ts=r.ts,
            kind="replacement",
            value=r.value,
            previous=_value_before(conn, site, r),
        )
        for i, r in enumerate(readings, start=1)
    ]


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        # The agent validated it; a hub without the zone's data still takes offset-bearing times.
        return ZoneInfo("UTC")


def _lowest_seq(conn: Connection, table: Table, site: str) -> int:
    lowest: int | None = conn.scalar(select(func.min(table.c.seq)).where(table.c.site == site))
    return min(lowest or 0, 0)


def _value_before(conn: Connection, site: str, reading: ManualReading) -> float | None:
    r = schema.readings
    value: float | None = conn.scalar(
        select(r.c.value)
        .where(
            r.c.site == site,
            r.c.device == reading.device,
            r.c.metric == reading.metric,
            r.c.ts < reading.ts,
        )
        .order_by(r.c.ts.desc())
        .limit(1)
    )
    return value


def _previous(conn: Connection, site: str, device: str, metric: str, ts: float) -> Point | None:
    r = schema.readings
    row = conn.execute(
        select(r.c.ts, r.c.value)
        .where(r.c.site == site, r.c.device == device, r.c.metric == metric, r.c.ts <= ts)
        .order_by(r.c.ts.desc())
        .limit(1)
    ).first()
    return None if row is None else Point(row.ts, row.value)
