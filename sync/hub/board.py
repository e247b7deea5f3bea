"""What the dashboard shows per site: open alarms, the latest value of every metric and the
last swipe at every gate."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from rules.actions import Standing
from rules.alarm import OPEN_STATES
from sync.hub import actions as operator
from sync.hub import query, schema
from sync.hub.alarms import HubAlarm, from_row
from sync.hub.db import HubDB

ALARMS_PER_SITE = 200


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    name: str | None
    kind: str | None
    building: str | None
    floor: str | None
    room: str | None
    department: str | None

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass(frozen=True, slots=True)
class LatestReading:
    device: Device
    metric: str
    ts: float
    value: float


@dataclass(frozen=True, slots=True)
class LatestAccess:
    device: Device
    ts: float
    card: str
    result: str
    direction: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class SiteBoard:
    site: query.SiteSummary
    alarms: list[HubAlarm]
    readings: list[LatestReading]
    devices: dict[str, Device]
    access: list[LatestAccess]
    # How each open alarm's rule is announced now (absent: in service).
    standings: dict[str, Standing] = field(default_factory=dict)

    def device(self, device_id: str) -> Device:
        return self.devices.get(device_id) or _unknown(device_id)


def dashboard(hubdb: HubDB, now: float) -> list[SiteBoard]:
    summaries = query.sites(hubdb)
    with hubdb.read() as conn:
        return [_board(conn, summary, now) for summary in summaries]


def _board(conn: Connection, site: query.SiteSummary, now: float) -> SiteBoard:
    devices = _devices(conn, site.id)
    alarms = _open_alarms(conn, site.id)
    held = operator.standings(conn, {(site.id, h.alarm.rule): h.alarm for h in alarms}, now)
    return SiteBoard(
        site=site,
        alarms=alarms,
        readings=_latest(conn, site.id, devices),
        devices=devices,
        access=_latest_access(conn, site.id, devices),
        standings={
            h.alarm.id: held[(site.id, h.alarm.rule)]
            for h in alarms
            if held[(site.id, h.alarm.rule)].mode != "in_service"
        },
    )


def _devices(conn: Connection, site: str) -> dict[str, Device]:
    d = schema.devices
    rows = conn.execute(select(d).where(d.c.site == site)).mappings()
    return {row["id"]: Device(**{k: v for k, v in row.items() if k != "site"}) for row in rows}


def _open_alarms(conn: Connection, site: str) -> list[HubAlarm]:
    a = schema.alarms
    rows = conn.execute(
        select(a)
        .where(a.c.site == site, a.c.state.in_(sorted(OPEN_STATES)))
        .order_by(a.c.raised_at.desc(), a.c.id)
        .limit(ALARMS_PER_SITE)
    ).mappings()
    return [from_row(row) for row in rows]


def _latest(conn: Connection, site: str, devices: dict[str, Device]) -> list[LatestReading]:
    lr = schema.latest_readings
    rows = conn.execute(
        select(lr).where(lr.c.site == site).order_by(lr.c.device, lr.c.metric)
    ).mappings()
    return [
        LatestReading(
            device=devices.get(row["device"]) or _unknown(row["device"]),
            metric=row["metric"],
            ts=row["ts"],
            value=row["value"],
        )
        for row in rows
    ]


def _latest_access(conn: Connection, site: str, devices: dict[str, Device]) -> list[LatestAccess]:
    la = schema.latest_access
    rows = conn.execute(select(la).where(la.c.site == site).order_by(la.c.device)).mappings()
    return [
        LatestAccess(
            device=devices.get(row["device"]) or _unknown(row["device"]),
            ts=row["ts"],
            card=row["card"],
            result=row["result"],
            direction=row["direction"],
            reason=row["reason"],
        )
        for row in rows
    ]


def _unknown(device_id: str) -> Device:
    # Readings may arrive before the agent has sent its device list (or for a removed device).
    return Device(device_id, None, None, None, None, None, None)
