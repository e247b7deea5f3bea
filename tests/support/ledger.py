"""What a site's records are on each side, read from the agent's store and the hub's database
(never from the wire), so a fault test can say: the same records, each once, on both sides."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select

from sync.hub import schema
from sync.hub.alarms import HUB_OWNED_PREFIX
from sync.hub.db import database_url
from tests.support.sqlite import connected

ALARM_COLUMNS = (
    "id",
    "rule",
    "device",
    "metric",
    "severity",
    "post",
    "message",
    "raised_at",
    "changed_at",
    "active",
    "activations",
    "value",
    "acked_at",
    "acked_by",
    "cleared_at",
    "state",
)

ROLLUP_COLUMNS = (
    "device",
    "metric",
    "hour",
    "count",
    "min",
    "max",
    "sum",
    "first_ts",
    "first",
    "last_ts",
    "last",
    "replaces_after",
    "replaces_through",
)

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Ledger:
    """Every record of one site, each list sorted; readings and access events without their
    sequence numbers (a row is what was published), alarm history with them."""

    readings: list[Row]
    access_events: list[Row]
    alarms: list[Row]
    alarm_events: list[Row]

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in vars(self).items()}


def agent_ledger(db: Path) -> Ledger:
    with connected(db, timeout=30) as conn:

        def rows(sql: str) -> list[Row]:
            return sorted(tuple(r) for r in conn.execute(sql))

        return Ledger(
            readings=rows("SELECT device, metric, ts, value FROM readings"),
            access_events=rows("SELECT device, ts, card, result FROM access_events"),
            alarms=_alarms(rows(f"SELECT {', '.join(ALARM_COLUMNS)} FROM alarms")),
            alarm_events=rows("SELECT id, alarm_id, kind, at, by FROM alarm_events"),
        )


def agent_stand_ins(db: Path) -> list[Row]:
    """The rollups that stand in for readings thinned unsent, each with its id first."""
    with connected(db, timeout=30) as conn:
        query = f"SELECT id, {', '.join(ROLLUP_COLUMNS)} FROM rollups"
        return sorted(tuple(r) for r in conn.execute(f"{query} WHERE replaces_through IS NOT NULL"))


class HubView:
    """The hub's database as a test reads it, beside the running hub."""

    def __init__(self, db_url: str) -> None:
        self.engine: Engine = create_engine(database_url(db_url))

    def close(self) -> None:
        self.engine.dispose()

    def count(self, site: str, table: str = "readings") -> int:
        t = schema.metadata.tables[table]
        try:
            with self.engine.connect() as conn:
                return conn.scalar(select(func.count()).where(t.c.site == site)) or 0
        except Exception:  # not created yet: the hub has not migrated its database
            return -1

    def clock(self, site: str) -> tuple[float | None, float | None]:
        """The site's last clock report: offset and round trip."""
        s = schema.sites
        with self.engine.connect() as conn:
            row = conn.execute(
                select(s.c.clock_offset, s.c.clock_round_trip).where(s.c.id == site)
            ).one()
            return row.clock_offset, row.clock_round_trip

    def raw_readings(self, site: str) -> list[Row]:
        """The site's readings with their sequence numbers: ``(seq, device, metric, ts, value)``."""
        r = schema.readings
        with self.engine.connect() as conn:
            query = select(r.c.seq, r.c.device, r.c.metric, r.c.ts, r.c.value)
            return sorted(tuple(row) for row in conn.execute(query.where(r.c.site == site)))

    def stand_ins(self, site: str) -> list[Row]:
        """The site's stand-in rollups, each with its sequence number (the agent's id) first."""
        t = schema.rollups
        with self.engine.connect() as conn:
            query = select(t.c.seq, *(t.c[name] for name in ROLLUP_COLUMNS))
            return sorted(tuple(row) for row in conn.execute(query.where(t.c.site == site)))

    def ledger(self, site: str) -> Ledger:
        r, ae, a, e = schema.readings, schema.access_events, schema.alarms, schema.alarm_events
        with self.engine.connect() as conn:

            def rows(query: Any) -> list[Row]:
                return sorted(tuple(row) for row in conn.execute(query))

            return Ledger(
                readings=rows(
                    select(r.c.device, r.c.metric, r.c.ts, r.c.value).where(r.c.site == site)
                ),
                access_events=rows(
                    select(ae.c.device, ae.c.ts, ae.c.card, ae.c.result).where(ae.c.site == site)
                ),
                alarms=_alarms(
                    rows(
                        select(*(a.c[name] for name in ALARM_COLUMNS)).where(
                            a.c.site == site, ~a.c.id.startswith(HUB_OWNED_PREFIX)
                        )
                    )
                ),
                # The hub's own alarms (agent_silent) write history at negative seq.
                alarm_events=rows(
                    select(e.c.seq, e.c.alarm_id, e.c.kind, e.c.at, e.c.by).where(
                        e.c.site == site, e.c.seq > 0
                    )
                ),
            )


def _alarms(rows: list[Row]) -> list[Row]:
    active = ALARM_COLUMNS.index("active")
    # SQLite at the agent keeps a boolean as 0 or 1.
    return [(*row[:active], bool(row[active]), *row[active + 1 :]) for row in rows]
