"""After-hours power (长明灯, lights left on): outside a device's opening hours, its mean power
above ``limit_w``, or above ``baseload_share`` times its own baseload (energy.md, "Baseload and
after-hours waste": lighting drawing more than its baseline for over 30 minutes after close).

The series is ``power`` (W, held from one reading to the next, as a meter reporting on change
means it) or ``energy`` (a cumulative kWh meter). Either becomes the rule's own energy counter, so
a mean power is energy over time: time-weighted however the readings are spaced. The mean is over
the last ``window`` of closed time (30 minutes by default), or with ``since_close`` over all of it
so far; there is none until a whole ``window`` of it is known. Closed time starts at the first
reading (or, for power, tick) seen closed.

Baseload is Energy Sparks' statistical one: per local day, the mean of the 8 lowest half-hour
mean powers. The daily baselines of the last ``baseload_days`` days (30) are kept, and the limit is
``baseload_share`` times their median; there is none before ``min_days`` (7) of them. A day with
less than half its half-hours known gives no baseline.

What is never counted (energy.md, "Cumulative meters"): readings more than ``gap`` apart (power is
held that long at most, and a meter's energy is not spread over a gap), and a meter's drop of more
than 10 Wh (a reset or a new meter; a smaller drop is jitter, and the higher value stays the
base). Either starts a new segment: no mean and no half-hour spans it. The agent's clock going
back does too.

Raises with the mean (W) as the value; clears once the mean is under the limit by a 2% deadband
(alarms.md), or when the opening hours begin.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal, NamedTuple

from pydantic import Field, field_validator, model_validator

from collector.duration import Duration, format_duration
from rules.base import DEFAULT_DEADBAND_SHARE, Kind, Outcome, RuleBase, flip
from rules.meter import JITTER, fold, usable
from rules.schedule import Schedule

__all__ = [
    "KIND",
    "AfterHoursPowerRule",
    "AfterHoursPowerState",
    "Baseline",
    "Point",
    "baseload",
    "evaluate",
    "limit",
    "mean_power",
    "observe",
    "tick",
]

_HALF_HOUR = 1800.0
_LOWEST = 8  # half-hours in a day's statistical baseload (Energy Sparks)
_MIN_HALVES = 24  # half-hours known in a day for it to give a baseline
_POINTS = 30  # the window is kept as one point per 1/30 of it
_MAX_W = 1e12  # a half-hour mean beyond a terawatt


class AfterHoursPowerRule(RuleBase):
    type: Literal["after_hours_power"]
    metric: Literal["power", "energy"] = "power"
    schedule: Schedule
    window: Duration = timedelta(minutes=30)
    since_close: bool = False
    limit_w: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    baseload_share: float | None = Field(default=None, gt=1, allow_inf_nan=False)
    baseload_days: int = Field(default=30, ge=1, le=366)
    min_days: int = Field(default=7, ge=1, le=366)
    gap: Duration = timedelta(hours=1)

    @field_validator("baseload_days", "min_days", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        # YAML 1.1 reads `min_days: yes` as true, which int validation would take for 1.
        if isinstance(value, bool):
            raise ValueError("a number of days, not true or false")
        return value

    @model_validator(mode="after")
    def _fits(self) -> AfterHoursPowerRule:
        if self.limit_w is None and self.baseload_share is None:
            raise ValueError("an after_hours_power rule needs 'limit_w' or 'baseload_share'")
        if self.baseload_share is None and {"baseload_days", "min_days"} & self.model_fields_set:
            raise ValueError("'baseload_days' and 'min_days' apply only with 'baseload_share'")
        if self.min_days > self.baseload_days:
            raise ValueError("'min_days' must not exceed 'baseload_days'")
        for name in ("window", "gap"):
            if not timedelta(0) < getattr(self, name) <= timedelta(days=1):
                raise ValueError(f"'{name}' must be longer than 0s and at most 1d")
        return self

    def reads(self) -> list[tuple[str, str | None]]:
        return [(self.device, self.metric)]

    def describe(self) -> str:
        limits = [
            f"{self.limit_w:g} W" if self.limit_w is not None else "",
            f"{self.baseload_share:g}× its baseload" if self.baseload_share is not None else "",
        ]
        over = "since closing" if self.since_close else f"over {format_duration(self.window)}"
        above = " or ".join(x for x in limits if x)
        return f"{self.device} drawing above {above} after hours ({over})"


class Point(NamedTuple):
    at: float
    energy: float  # Wh on the rule's own counter


class Baseline(NamedTuple):
    day: int  # a local date, as an ordinal
    watts: float


@dataclass(frozen=True, slots=True)
class AfterHoursPowerState:
    active: bool = False
    at: float | None = None  # the last reading (agent clock), and its value (W or kWh)
    value: float | None = None
    energy: float = 0.0  # Wh on the rule's own counter at ``at``, from the segment's start
    since: Point | None = None  # where the closed time began, in this segment
    points: tuple[Point, ...] = ()  # the closed time's last window, one point per 1/30 of it
    half: Point | None = None  # the current half-hour's start, once it is known
    day: int | None = None  # the local date ``lows`` belong to
    lows: tuple[float, ...] = ()  # its lowest half-hour means (W), at most 8, ascending
    halves: int = 0  # its half-hours known
    days: tuple[Baseline, ...] = ()  # daily baselines, the latest ``baseload_days``


def _closed(rule: AfterHoursPowerRule, at: float) -> bool:
    return not rule.schedule.is_open(at)


def _next_half(zone: tzinfo, at: float) -> float:
    """The first local half-hour boundary after ``at`` (zones are whole quarter hours off UTC)."""
    offset = datetime.fromtimestamp(at, zone).utcoffset()
    return at - (at + (offset.total_seconds() if offset else 0.0)) % _HALF_HOUR + _HALF_HOUR


def _added(
    rule: AfterHoursPowerRule, state: AfterHoursPowerState, values: list[float], at: float
) -> tuple[float | None, float]:
    """The energy (Wh) since the last reading, None when it is not known, and the new value."""
    assert state.at is not None and state.value is not None
    seconds = at - state.at
    if rule.metric == "power":
        # Values received together share one time: the last, the freshest, is the power now.
        wh = state.value * seconds / 3600.0
        return (wh if seconds <= rule.gap.total_seconds() else None), values[-1]
    used, base, reset = fold(state.value, values, JITTER["energy"])
    known = not reset and seconds <= rule.gap.total_seconds()
    return (used * 1000.0 if known else None), base


def _restart(
    rule: AfterHoursPowerRule, state: AfterHoursPowerState, at: float, value: float
) -> AfterHoursPowerState:
    """A new segment from this reading: nothing is measured across what came before. A reading
    on a half-hour's start begins that half-hour."""
    on_boundary = _next_half(rule.schedule.zone, at) - _HALF_HOUR == at
    half = Point(at, 0.0) if on_boundary else None
    return replace(state, at=at, value=value, energy=0.0, since=None, points=(), half=half)


def _record(state: AfterHoursPowerState, day: int, watts: float, keep: int) -> AfterHoursPowerState:
    """A known half-hour's mean power on local date ``day``; a new day closes the one before."""
    if not abs(watts) < _MAX_W:
        return state  # no meter's reading: and means of such values overflow
    if state.day != day:
        days = state.days
        if state.day is not None and state.halves >= _MIN_HALVES:
            days = (*days, Baseline(state.day, statistics.fmean(state.lows)))[-keep:]
        state = replace(state, day=day, lows=(), halves=0, days=days)
    lows = tuple(sorted((*state.lows, watts)))[:_LOWEST]
    return replace(state, lows=lows, halves=state.halves + 1)


def _halves(
    rule: AfterHoursPowerRule, state: AfterHoursPowerState, at: float, energy: float
) -> AfterHoursPowerState:
    """The half-hours that ended between the last reading and this one, energy interpolated."""
    assert state.at is not None
    zone = rule.schedule.zone
    t0, e0, half = state.at, state.energy, state.half
    boundary = _next_half(zone, t0)
    while boundary <= at:
        e = e0 + (energy - e0) * (boundary - t0) / (at - t0)
        if half is not None and boundary - half.at == _HALF_HOUR:
            day = datetime.fromtimestamp(half.at, zone).date().toordinal()
            state = _record(state, day, (e - half.energy) * 2.0, rule.baseload_days)
        half = Point(boundary, e)
        boundary = _next_half(zone, boundary)
    return replace(state, half=half)


def _closed_time(
    rule: AfterHoursPowerRule, state: AfterHoursPowerState, at: float
) -> AfterHoursPowerState:
    """The closed time's points after a reading at ``at`` (its energy is ``state.energy``)."""
    if not _closed(rule, at):
        return replace(state, since=None, points=())
    here = Point(at, state.energy)
    since = state.since or here
    if rule.since_close:
        return replace(state, since=since)
    points = state.points or (since,)
    if at - points[-1].at >= rule.window.total_seconds() / _POINTS:
        points = (*points, here)
    horizon = at - rule.window.total_seconds()
    while len(points) > 1 and points[1].at <= horizon:
        points = points[1:]
    return replace(state, since=since, points=points)


def observe(
    rule: AfterHoursPowerRule, state: AfterHoursPowerState, values: Sequence[float], at: float
) -> AfterHoursPowerState:
    """The state after readings received together at ``at``, before any verdict; the same object
    when they change nothing."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite or not usable(at):
        return state
    if state.at is None or state.value is None or at < state.at:
        return _closed_time(rule, _restart(rule, state, at, finite[-1]), at)
    wh, value = _added(rule, state, finite, at)
    energy = state.energy + wh if wh is not None else math.nan
    if not math.isfinite(energy):  # unknown, or past what a float holds
        return _closed_time(rule, _restart(rule, state, at, value), at)
    state = _halves(rule, state, at, energy) if at > state.at else state
    return _closed_time(rule, replace(state, at=at, value=value, energy=energy), at)


def _energy_at(rule: AfterHoursPowerRule, state: AfterHoursPowerState, at: float) -> float:
    """The counter at ``at``: held power after the last reading, interpolated before it."""
    assert state.at is not None
    if at >= state.at:
        power = state.value if rule.metric == "power" and state.value is not None else 0.0
        return state.energy + power * ((at - state.at) / 3600.0)
    since: tuple[Point, ...] = () if state.since is None else (state.since,)
    points = (*since, *state.points, Point(state.at, state.energy))
    after = next(i for i, p in enumerate(points) if p.at >= at)
    a, b = points[max(after - 1, 0)], points[after]
    return (
        a.energy if b.at == a.at else a.energy + (b.energy - a.energy) * (at - a.at) / (b.at - a.at)
    )


def mean_power(rule: AfterHoursPowerRule, state: AfterHoursPowerState, now: float) -> float | None:
    """The mean power (W) over the closed time judged at ``now``; None until a whole window of
    it is known. Power is held after the last reading (for a ``gap`` at most); a meter's energy
    is known only up to its last reading."""
    if state.at is None or state.since is None or now < state.at:
        return None
    held = rule.metric == "power" and now - state.at <= rule.gap.total_seconds()
    end = now if held else state.at
    start = state.since.at if rule.since_close else end - rule.window.total_seconds()
    if end - state.since.at < rule.window.total_seconds() or end <= start:
        return None
    mean = (_energy_at(rule, state, end) - _energy_at(rule, state, start)) * 3600.0 / (end - start)
    return mean if math.isfinite(mean) else None


def baseload(rule: AfterHoursPowerRule, state: AfterHoursPowerState) -> float | None:
    """The median daily baseload (W) of the days kept; None before ``min_days`` of them."""
    days = state.days[-rule.baseload_days :]
    return statistics.median(d.watts for d in days) if len(days) >= rule.min_days else None


def limit(rule: AfterHoursPowerRule, state: AfterHoursPowerState) -> float | None:
    """The lowest limit that applies now (W): either one being exceeded raises."""
    base = baseload(rule, state)
    share = None if base is None or rule.baseload_share is None else rule.baseload_share * base
    limits = [x for x in (rule.limit_w, share) if x is not None]
    return min(limits) if limits else None


def _verdict(
    rule: AfterHoursPowerRule, state: AfterHoursPowerState, now: float
) -> tuple[bool, float | None]:
    mean, top = mean_power(rule, state, now), limit(rule, state)
    if mean is None or top is None:
        return state.active, mean  # nothing to judge by: as it stands
    if state.active:
        return mean > top - abs(top) * DEFAULT_DEADBAND_SHARE, mean
    return mean > top, mean


def evaluate(
    rule: AfterHoursPowerRule, state: AfterHoursPowerState, values: Sequence[float], at: float
) -> tuple[AfterHoursPowerState, float | None]:
    """The state after readings received together at ``at``, and the mean power judged."""
    new = observe(rule, state, values, at)
    if new is state:
        return state, None
    if new.since is None:  # open: the closed time is over
        return (new if not new.active else replace(new, active=False)), None
    active, mean = _verdict(rule, new, at)
    return (new if active == new.active else replace(new, active=active)), mean


def tick(
    rule: AfterHoursPowerRule, state: AfterHoursPowerState, now: float
) -> tuple[AfterHoursPowerState, float | None]:
    """Time passes: opening hours begin, or held power fills the window."""
    if not usable(now) or state.at is None or now < state.at:
        return state, None
    if not _closed(rule, now):
        if state.since is None and not state.active:
            return state, None
        return replace(state, active=False, since=None, points=()), None
    held = rule.metric == "power" and now - state.at <= rule.gap.total_seconds()
    start = _energy_at(rule, state, now)
    if state.since is None and held and math.isfinite(start):  # closed since the last reading
        state = replace(state, since=Point(now, start))
    active, mean = _verdict(rule, state, now)
    return (state if active == state.active else replace(state, active=active)), mean


def _initial(rule: AfterHoursPowerRule, started_at: float) -> AfterHoursPowerState:
    return AfterHoursPowerState()


def _series(
    rule: AfterHoursPowerRule,
    state: AfterHoursPowerState,
    metric: str,
    values: Sequence[float],
    at: float,
) -> Outcome[AfterHoursPowerState]:
    new, mean = evaluate(rule, state, values, at)
    return new, flip(state, new, at, mean)


def _tick(
    rule: AfterHoursPowerRule, state: AfterHoursPowerState, now: float
) -> Outcome[AfterHoursPowerState]:
    new, mean = tick(rule, state, now)
    return new, flip(state, new, now, mean)


def _load(data: dict[str, Any]) -> AfterHoursPowerState:
    # JSON gives lists back for the tuples.
    since, half = data["since"], data["half"]
    tuples = {
        "since": None if since is None else Point(*since),
        "half": None if half is None else Point(*half),
        "points": tuple(Point(*p) for p in data["points"]),
        "lows": tuple(data["lows"]),
        "days": tuple(Baseline(*d) for d in data["days"]),
    }
    return AfterHoursPowerState(**(data | tuples))


KIND = Kind(
    AfterHoursPowerRule, AfterHoursPowerState, _initial, series=_series, tick=_tick, load=_load
)
