"""The monthly alarm review (考核): alarm load and response times per site, post and person.

A person is whoever acknowledged: an activation counts for the one who answered it, an alarm's
response time and staleness for the one who first acknowledged it, ``(none)`` for nobody (the
hub has no rosters yet that would say who was on duty). Posts and rules are a site's own, so
every group but the overall one belongs to one site.

    InvalidInput
    └── InvalidPeriod    ``from`` not before ``to``, or a period longer than MAX_DAYS
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Literal

from sqlalchemy import Connection, RowMapping, and_, func, or_, select

from sync.hub import schema
from sync.hub.actions import point_logs
from sync.hub.db import HubDB
from sync.hub.errors import InvalidInput
from sync.hub.reports.kpi import (
    Activation,
    AlarmHistory,
    Change,
    Load,
    Period,
    ResponseTimes,
    announced,
    is_stale,
    load,
    replay,
    response_times,
)

DEFAULT_DAYS = 30
MAX_DAYS = 366
NONE = "(none)"
ALL = "(all)"
Scope = Literal["all", "site", "post", "person"]
Pair = tuple[AlarmHistory, Activation]


class InvalidPeriod(InvalidInput):
    def __init__(self, start: float, end: float, reason: str) -> None:
        super().__init__(f"invalid report period: {reason}")
        self.start = start
        self.end = end


@dataclass(frozen=True, slots=True)
class GroupReview:
    scope: Scope
    site: str | None
    key: str
    load: Load
    response: ResponseTimes


@dataclass(frozen=True, slots=True)
class AlarmReview:
    site: str | None
    start: float
    end: float
    groups: tuple[GroupReview, ...]


def alarm_review(
    hubdb: HubDB, *, site: str | None, start: float | None, end: float | None, now: float
) -> AlarmReview:
    """The review of one site, or of every site with an overall group first."""
    period = period_of(start, end, now)
    with hubdb.read() as conn:
        sites = [site] if site is not None else _sites(conn)
        logs = point_logs(conn, site)
        histories = [
            announced(h, logs.get((h.site, h.rule), ()))
            for h in fetch_histories(conn, site, period)
        ]
    groups = review(histories, period, sites, overall=site is None)
    return AlarmReview(site=site, start=period.start, end=period.end, groups=groups)


def period_of(start: float | None, end: float | None, now: float) -> Period:
    """Default: the 30 days up to now. The end is never later than now: the hub knows nothing
    beyond it, and a future stretch would dilute every rate."""
    stop = now if end is None else min(end, now)
    begin = stop - DEFAULT_DAYS * 86400.0 if start is None else start
    if begin >= stop:
        raise InvalidPeriod(begin, stop, "from must be before to (and before now)")
    if stop - begin > MAX_DAYS * 86400.0:
        raise InvalidPeriod(begin, stop, f"at most {MAX_DAYS} days")
    return Period(begin, stop)


def review(
    histories: Sequence[AlarmHistory], period: Period, sites: Sequence[str], *, overall: bool
) -> tuple[GroupReview, ...]:
    """Per site: the site, then its posts, then its people; ``(none)`` last in each."""
    relevant = [h for h in histories if _touches(h, period)]
    groups = [_group("all", None, ALL, relevant, period)] if overall else []
    by_site: dict[str, list[AlarmHistory]] = {}
    for history in relevant:
        by_site.setdefault(history.site, []).append(history)
    for site in sites:
        mine = by_site.get(site, [])
        groups.append(_group("site", site, site, mine, period))
        groups += _split("post", site, mine, period, lambda h, _a: h.post)
        groups += _split("person", site, mine, period, lambda _h, a: a.acked_by)
    return tuple(groups)


def fetch_histories(conn: Connection, site: str | None, period: Period) -> list[AlarmHistory]:
    """Every alarm active or activated in the period, in one query over its events."""
    a, e = schema.alarms, schema.alarm_events
    # An alarm whose last clear came before the period cannot touch it; a reraise resets
    # cleared_at, so the last clear is the one that counts.
    where = [
        a.c.raised_at < period.end,
        or_(a.c.active.is_(True), a.c.cleared_at.is_(None), a.c.cleared_at >= period.start),
    ]
    if site is not None:
        where.append(a.c.site == site)
    query = (
        select(a.c.site, a.c.id, a.c.rule, a.c.severity, a.c.post, a.c.acked_at, a.c.acked_by)
        .add_columns(e.c.kind, e.c.at, e.c.by)
        .join(e, and_(e.c.site == a.c.site, e.c.alarm_id == a.c.id))
        .where(*where)
        # In the order they were made, which their times may not tell (an acknowledgement at the
        # hub is on its clock): the agent's rows by rising seq, the hub's own (sync.hub.manual)
        # by falling negative seq.
        .order_by(a.c.raised_at, a.c.site, a.c.id, func.abs(e.c.seq))
    )
    rows = conn.execute(query).mappings()
    histories = [_history(list(events)) for _, events in groupby(rows, _alarm_key)]
    # Every alarm starts with its raise event; a history without one is not ours to guess at.
    return [h for h in histories if h.activations]


def _alarm_key(row: RowMapping) -> tuple[str, str]:
    return row["site"], row["id"]


def _history(rows: list[RowMapping]) -> AlarmHistory:
    first = rows[0]
    changes = [Change(r["at"], r["kind"], r["by"]) for r in rows]
    if first["acked_at"] is not None:
        # The alarm's own acknowledgement belongs to its latest activation (rules.alarm.merge);
        # given at the hub, its event comes back only with the agent's next sync.
        changes.append(Change(first["acked_at"], "acked", first["acked_by"]))
    activations, spans = replay(changes)
    return AlarmHistory(
        site=first["site"],
        id=first["id"],
        rule=first["rule"],
        severity=first["severity"],
        post=first["post"],
        activations=activations,
        spans=spans,
    )


def _sites(conn: Connection) -> list[str]:
    return list(conn.scalars(select(schema.sites.c.id).order_by(schema.sites.c.id)))


def _touches(history: AlarmHistory, period: Period) -> bool:
    return any(a.at in period for a in history.activations) or is_stale(history, period)


def _owns(history: AlarmHistory, period: Period) -> bool:
    """Whether the alarm counts among a group's alarms: raised in the period, or stale in it."""
    return history.raised_at in period or is_stale(history, period)


def _pairs(histories: Sequence[AlarmHistory], period: Period) -> list[Pair]:
    return [(h, a) for h in histories for a in h.activations if a.at in period]


def _group(
    scope: Scope, site: str | None, key: str, histories: Sequence[AlarmHistory], period: Period
) -> GroupReview:
    return _review(scope, site, key, _pairs(histories, period), histories, period)


def _review(
    scope: Scope,
    site: str | None,
    key: str,
    activations: Sequence[Pair],
    alarms: Sequence[AlarmHistory],
    period: Period,
) -> GroupReview:
    return GroupReview(
        scope, site, key, load(activations, alarms, period), response_times(alarms, period)
    )


def _split(
    scope: Scope,
    site: str,
    histories: Sequence[AlarmHistory],
    period: Period,
    key: Callable[[AlarmHistory, Activation], str | None],
) -> list[GroupReview]:
    """Activations go to the group of their own key, alarms to that of their first one."""
    activations: dict[str, list[Pair]] = {}
    alarms: dict[str, list[AlarmHistory]] = {}
    for history, activation in _pairs(histories, period):
        activations.setdefault(key(history, activation) or NONE, []).append((history, activation))
    for history in histories:
        if _owns(history, period):
            alarms.setdefault(key(history, history.first_activation) or NONE, []).append(history)
    names = sorted(activations.keys() | alarms.keys(), key=lambda name: (name == NONE, name))
    return [
        _review(scope, site, name, activations.get(name, []), alarms.get(name, []), period)
        for name in names
    ]
