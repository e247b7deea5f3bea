"""Cold-chain excursion records at the hub: stored once per (site, seq) as they arrive, read by
the people who answer for the cold chain.

Reading them takes a role in ``EXCURSION_ROLES``: admin, and maintenance, whose posts (the
cold-store keeper) act on the alarms and keep the records (coldchain.md: records kept 3 years).
Energy and security have no part in the cold chain, as maintenance has none in meter events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, select

from sync.hub import schema
from sync.hub.auth import User
from sync.hub.db import HubDB
from sync.hub.errors import NotPermitted
from sync.protocol import ExcursionRecord

__all__ = [
    "EXCURSION_ROLES",
    "StoredDoorEvent",
    "StoredExcursion",
    "excursions",
    "store",
]

EXCURSION_ROLES = frozenset({"admin", "maintenance"})


@dataclass(frozen=True, slots=True)
class StoredDoorEvent:
    door: str
    at: float
    open: bool


@dataclass(frozen=True, slots=True)
class StoredExcursion:
    site: str
    seq: int
    rule: str
    device: str
    metric: str
    started_at: float
    ended_at: float
    lowest: float
    highest: float
    ended_by: str
    doors: tuple[StoredDoorEvent, ...]
    doors_dropped: int

    @property
    def duration(self) -> float:
        return self.ended_at - self.started_at


def store(hubdb: HubDB, conn: Connection, site: str, items: list[ExcursionRecord]) -> None:
    """Insert what is new; a record sent again (same site and seq) is left as it is."""
    if not items:
        return
    rows = [
        item.model_dump(exclude={"doors"})
        | {"site": site, "doors": json.dumps([d.model_dump() for d in item.doors])}
        for item in items
    ]
    conn.execute(hubdb.insert(schema.excursions).on_conflict_do_nothing(), rows)


def excursions(
    hubdb: HubDB,
    user: User,
    *,
    site: str | None = None,
    device: str | None = None,
    start: float | None = None,
    end: float | None = None,
    limit: int,
) -> list[StoredExcursion]:
    """Excursions overlapping ``start``..``end`` (inclusive; one that began before ``start`` and
    ended after it counts), oldest first."""
    if user.role not in EXCURSION_ROLES:
        raise NotPermitted(user.role, "read cold-chain excursions")
    x = schema.excursions
    query = select(x)
    if site is not None:
        query = query.where(x.c.site == site)
    if device is not None:
        query = query.where(x.c.device == device)
    if start is not None:
        query = query.where(x.c.ended_at >= start)
    if end is not None:
        query = query.where(x.c.started_at <= end)
    query = query.order_by(x.c.started_at, x.c.site, x.c.seq).limit(limit)
    with hubdb.read() as conn:
        return [_from_row(row) for row in conn.execute(query).mappings()]


def _from_row(row: RowMapping) -> StoredExcursion:
    doors = tuple(StoredDoorEvent(**d) for d in json.loads(row["doors"]))
    return StoredExcursion(**(dict(row) | {"doors": doors}))
