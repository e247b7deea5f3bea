"""The hub's own alarms: raised and cleared by the hub on a condition it watches per site
(``agent_silent`` in ``heartbeat``, ``clock_offset`` in ``clock``), never by an agent.

They follow an agent alarm's life cycle (``rules.alarm``, as in ``rules.engine``): raised when the
condition begins, cleared when it ends, raised again as a new activation if it begins again
before anyone acknowledged it, else as a new alarm. Their ids start ``hub-`` (``alarms.hub_owned``)
and their history rows in ``alarm_events`` take negative, decreasing seq per site, as every row the
hub makes itself does (``sync.hub.manual``), so they never collide with the agent's row ids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from sqlalchemy import Connection, func, select, update

from rules.alarm import OPEN_STATES, Alarm, AlarmChange, clear, reraise
from sync.hub import schema
from sync.hub.alarms import HUB_OWNED_PREFIX, from_row, row_values

__all__ = ["Condition", "held", "new_id", "record", "transition"]


@dataclass(frozen=True, slots=True)
class Condition:
    """What the alarm says while its condition holds."""

    rule: str
    severity: str
    message: str


def new_id() -> str:
    return HUB_OWNED_PREFIX + uuid.uuid4().hex


def transition(
    held: Alarm | None, site: str, condition: Condition | None, now: float, alarm_id: str
) -> AlarmChange | None:
    """What happens to ``held`` (the site's open alarm of this rule, if any) when its condition
    holds (``condition``) or not (None); a new alarm takes ``alarm_id``."""
    if condition is None:
        if held is None or not held.active:
            return None
        return AlarmChange(clear(held, now), "cleared", now)
    if held is None:
        return AlarmChange(_raised(site, condition, now, alarm_id), "raised", now)
    if held.active:
        return None
    again = replace(reraise(held, now, None), message=condition.message)
    return AlarmChange(again, "reraised", now)


def held(
    conn: Connection, rule: str, site: str | None = None, *, lock: bool = False
) -> dict[str, Alarm]:
    """The open alarm of ``rule`` per site (of ``site`` only, when given)."""
    a = schema.alarms
    query = select(a).where(
        a.c.rule == rule,
        a.c.id.startswith(HUB_OWNED_PREFIX, autoescape=True),
        a.c.state.in_(sorted(OPEN_STATES)),
    )
    if site is not None:
        query = query.where(a.c.site == site)
    rows = conn.execute(query.with_for_update() if lock else query).mappings()
    # One open alarm per site and rule at most: a new one is raised only when none is open.
    return {found.site: found.alarm for found in map(from_row, rows)}


def record(conn: Connection, site: str, held: Alarm | None, change: AlarmChange) -> None:
    """Write ``change`` (made from ``held``) and its history row, in the caller's transaction."""
    a = schema.alarms
    values = row_values(change.alarm)
    if held is None:
        conn.execute(a.insert().values(values | {"site": site}))
    else:
        conn.execute(update(a).where(a.c.id == held.id).values(values))
    conn.execute(
        schema.alarm_events.insert().values(
            site=site,
            seq=_next_seq(conn, site),
            alarm_id=change.alarm.id,
            kind=change.kind,
            at=change.at,
        )
    )


def _raised(site: str, condition: Condition, now: float, alarm_id: str) -> Alarm:
    return Alarm(
        id=alarm_id,
        rule=condition.rule,
        device=site,
        metric=None,
        severity=condition.severity,
        post=None,
        message=condition.message,
        raised_at=now,
        changed_at=now,
    )


def _next_seq(conn: Connection, site: str) -> int:
    e = schema.alarm_events
    lowest: int | None = conn.scalar(select(func.min(e.c.seq)).where(e.c.site == site))
    return min(lowest or 0, 0) - 1
