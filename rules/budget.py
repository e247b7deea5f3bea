"""Monthly budget (计划管理): a meter's consumption this month, or a department's (``device`` and
its other ``meters``, summed), projected to the month's end, past ``budget`` kWh (energy) or m³
(water). Energy.md, "Reviewing consumption": a monthly target, consumption to date, projected month
end.

The projection is the run rate: each meter's consumption so far over the time of the month its
readings cover, times the month's length. It is the figure energy managers work out by hand
(used so far ÷ days elapsed × days in the month) and find on their bills' "projected" line, so an
alarm can be checked against the meter; a rate over the covered time, not the elapsed time, counts
the time a meter was silent or unknown (a gap, a reset, the days before the agent started) at
the month's own rate instead of as nothing. A rate over the last few days would react faster to
a change, but swings with every weekend and holiday; a change large enough to matter shows in
the run rate within days, and the ``deviation`` rule is the one that catches it at once.

The first days of a month say little: an office uses about twice as much on a weekday as on a
weekend day, so a month starting on a Monday projects a third too high from its first weekdays.
So no projection is judged until every meter's readings cover ``min_elapsed`` (7 days: a whole
week, weekend included). Consumption already past the budget raises regardless: that needs no
projection.

Consumption is counted as ``rules.meter`` reads it: never a reset, a rollover or a gap longer than
``gap`` (spikes are quarantined at ingest, by the meter's ``counter.max_rate_per_hour``); an
interval across midnight at the month's end is shared in proportion to time. Months are the wall
clock's in ``timezone``: a month with a DST change is an hour shorter or longer, and the projection
uses its true length.

Raises with the projection as the value; clears once it falls under the budget by the deadband
(2% of the budget unless given, alarms.md), and when the next month begins (on a reading or a
tick), since a month with no data yet has nothing to say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from collector.duration import Duration
from collector.models import METRICS
from rules.base import DEFAULT_DEADBAND_SHARE, Kind, Outcome, RuleBase, flip
from rules.meter import JITTER, Base, TimeZone, period_index, period_start, read, usable, within

__all__ = [
    "KIND",
    "BudgetRule",
    "BudgetState",
    "Metered",
    "evaluate",
    "observe",
    "projection",
    "tick",
    "used",
]

_MONTH = 28 * 86400.0  # the shortest month: a longer minimum would never be met


class BudgetRule(RuleBase):
    type: Literal["budget"]
    metric: Literal["energy", "water"] = "energy"
    meters: tuple[str, ...] = ()  # the department's other meters, summed with ``device``
    budget: float = Field(gt=0, allow_inf_nan=False)  # kWh or m³ a month
    timezone: TimeZone
    deadband: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    min_elapsed: Duration = timedelta(days=7)
    gap: Duration = timedelta(hours=2)

    @model_validator(mode="after")
    def _fits(self) -> BudgetRule:
        devices = [self.device, *self.meters]
        twice = sorted({d for d in devices if devices.count(d) > 1})
        if twice:
            raise ValueError(f"'meters' names {', '.join(twice)} twice (or with 'device')")
        if self.band >= self.budget:
            raise ValueError("the deadband must be smaller than the budget, or it never clears")
        if not timedelta(0) <= self.min_elapsed <= timedelta(seconds=_MONTH):
            raise ValueError("'min_elapsed' must be between 0s and 28d (the shortest month)")
        if not timedelta(0) < self.gap <= timedelta(days=1):
            raise ValueError("'gap' must be longer than 0s and at most 1d")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches its instances by key

    @property
    def band(self) -> float:
        return self.deadband if self.deadband is not None else self.budget * DEFAULT_DEADBAND_SHARE

    def devices(self) -> list[str]:
        return [self.device, *self.meters]

    def reads(self) -> list[tuple[str, str | None]]:
        return [(device, self.metric) for device in self.devices()]

    def describe(self) -> str:
        who = ", ".join(self.devices())
        unit = METRICS[self.metric].unit
        return f"{who} {self.metric} projected past the monthly budget of {self.budget:g} {unit}"


class Metered(NamedTuple):
    """One meter of the rule: its base reading, and what it used in the month so far."""

    device: str
    at: float
    value: float
    used: float  # kWh or m³ this month, in the time covered
    covered: float  # seconds of this month its known consumption spans


@dataclass(frozen=True, slots=True)
class BudgetState:
    active: bool = False
    month: int | None = None  # the local month the sums are of (year × 12 + month − 1)
    starts: float | None = None  # when that month starts and ends: the next one starts afresh
    ends: float | None = None
    meters: tuple[Metered, ...] = ()


def _month(rule: BudgetRule, state: BudgetState, month: int) -> BudgetState:
    """A new month: every meter keeps its base and starts from nothing."""
    meters = tuple(m._replace(used=0.0, covered=0.0) for m in state.meters)
    starts, ends = (period_start(rule.zone, "month", m) for m in (month, month + 1))
    return replace(state, active=False, month=month, starts=starts, ends=ends, meters=meters)


def observe(
    rule: BudgetRule, state: BudgetState, device: str, values: Sequence[float], at: float
) -> BudgetState:
    """The state after readings of one meter received together at ``at``, before a verdict; the
    same object when they change nothing."""
    if device not in rule.devices():
        return state
    old = next((m for m in state.meters if m.device == device), None)
    base = None if old is None else Base(old.at, old.value)
    new, interval = read(
        base,
        values,
        at,
        jitter=JITTER[rule.metric],
        gap=rule.gap.total_seconds(),
    )
    if new is base or new is None:
        return state
    if state.starts is None or state.ends is None or not state.starts <= at < state.ends:
        # The next month, or the clock went back into an earlier one.
        state = _month(rule, state, period_index(rule.zone, "month", at))
    assert state.starts is not None and state.ends is not None
    old = next((m for m in state.meters if m.device == device), None)
    spent, covered = (0.0, 0.0) if old is None else (old.used, old.covered)
    if interval is not None and interval.known:
        seconds, share = within(interval, state.starts, state.ends)
        # A sum past what a float holds is no consumption anyone can use: not counted.
        if math.isfinite(spent + share):
            spent, covered = spent + share, covered + seconds
    here = Metered(device, new.at, new.value, spent, covered)
    others = (m for m in state.meters if m.device != device and m.device in rule.devices())
    # Built, not replace()d: this runs on every reading, and replace() costs several times more.
    return BudgetState(state.active, state.month, state.starts, state.ends, (*others, here))


def used(rule: BudgetRule, state: BudgetState) -> float:
    """The consumption counted this month, every meter's."""
    return sum(m.used for m in state.meters)


def projection(rule: BudgetRule, state: BudgetState) -> float | None:
    """The month's consumption projected to its end; None until every meter's readings cover
    ``min_elapsed`` of it."""
    if state.starts is None or state.ends is None:
        return None
    length = state.ends - state.starts
    need = rule.min_elapsed.total_seconds()
    by_device = {m.device: m for m in state.meters}
    total = 0.0
    for device in rule.devices():
        meter = by_device.get(device)
        if meter is None or meter.covered <= 0 or meter.covered < need:
            return None
        total += meter.used * (length / meter.covered)
    return total if math.isfinite(total) else None


def _verdict(rule: BudgetRule, state: BudgetState) -> tuple[bool, float | None]:
    projected, spent = projection(rule, state), used(rule, state)
    if projected is None:
        # Past the budget already is past it, however short the month so far.
        return (True, spent) if spent > rule.budget else (state.active, None)
    top = rule.budget - rule.band if state.active else rule.budget
    return projected > top, projected


def evaluate(
    rule: BudgetRule, state: BudgetState, device: str, values: Sequence[float], at: float
) -> tuple[BudgetState, float | None]:
    """The state after readings of one meter, and the projection (or consumption) judged."""
    new = observe(rule, state, device, values, at)
    if new is state:
        return state, None
    active, value = _verdict(rule, new)
    return (new if active == new.active else replace(new, active=active)), value


def tick(rule: BudgetRule, state: BudgetState, now: float) -> BudgetState:
    """Time passes: the next month begins with nothing to judge, also for a silent meter."""
    if state.ends is None or not usable(now) or now < state.ends:
        return state
    return _month(rule, state, period_index(rule.zone, "month", now))


def _initial(rule: BudgetRule, started_at: float) -> BudgetState:
    return BudgetState()


def _series(
    rule: BudgetRule,
    state: BudgetState,
    device: str,
    metric: str,
    values: Sequence[float],
    at: float,
) -> Outcome[BudgetState]:
    new, value = evaluate(rule, state, device, values, at)
    return new, flip(state, new, at, value)


def _tick(rule: BudgetRule, state: BudgetState, now: float) -> Outcome[BudgetState]:
    new = tick(rule, state, now)
    return new, flip(state, new, now, None)


def _load(data: dict[str, Any]) -> BudgetState:
    # JSON gives lists back for the tuples.
    return BudgetState(**data | {"meters": tuple(Metered(*m) for m in data["meters"])})


KIND = Kind(BudgetRule, BudgetState, _initial, device_series=_series, tick=_tick, load=_load)
