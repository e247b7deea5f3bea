"""Deviation from the same period's baseline: a meter's consumption of the last local day (or week,
``period: week``) more than ``above_percent`` above its baseline (energy.md, "Reviewing
consumption": comparisons with the same period last week, month or year).

The baseline of a day is the median (or, with ``baseline: mean``, the mean) of the same weekday in
the last ``weeks`` weeks (4): Mondays are compared with Mondays, since an office's weekday uses
about twice its weekend day. A week's is the last ``weeks`` weeks'. The median lets one odd week
in the history (a holiday, a past fault) pass without moving the baseline. No alarm until
``min_weeks`` of those periods are known (3, or ``weeks`` when it is fewer): a median of two
cannot tell which one is odd. ``min_excess`` (kWh or m³) is the least excess over the baseline
that counts, for a meter whose baseline is near nothing (a tap opened once in an empty building
is infinitely many percent above zero).

Consumption is counted as ``rules.meter`` reads it: never a reset, a rollover or a gap longer than
``gap`` (spikes are quarantined at ingest, by the meter's ``counter.max_rate_per_hour``); an
interval across midnight is shared between the days in proportion to time. A period is known once
readings cover all of it with nothing unknown in it, and judged when the first reading after its end
comes in: so there is no tick (a silent meter is the stale rule's to see). An unknown period neither
raises nor clears, and is no baseline for later ones. Days are the wall clock's in ``timezone`` and
their totals are compared as they are, as the daily figures people read: the day the clocks change
has one night hour less or more, a few percent of a day's use at night's low rate.

Raises with the period's consumption as the value; clears when a later period is judged not above
its limit by a 2% deadband (alarms.md).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from collector.duration import Duration
from rules.base import DEFAULT_DEADBAND_SHARE, Kind, Outcome, RuleBase, flip
from rules.meter import JITTER, Base, TimeZone, period_index, period_start, read, split

__all__ = [
    "KIND",
    "DeviationRule",
    "DeviationState",
    "Done",
    "Part",
    "baseline",
    "evaluate",
    "observe",
]

_FULL = 1e-3  # seconds a period's cover may miss by, float rounding
_DEFAULT_MIN_WEEKS = 3


class DeviationRule(RuleBase):
    type: Literal["deviation"]
    metric: Literal["energy", "water"] = "energy"
    period: Literal["day", "week"] = "day"
    above_percent: float = Field(gt=0, allow_inf_nan=False)
    baseline: Literal["median", "mean"] = "median"
    weeks: int = Field(default=4, ge=1, le=52)
    min_weeks: int | None = Field(default=None, ge=1, le=52)
    min_excess: float = Field(default=0.0, ge=0, allow_inf_nan=False)  # kWh or m³
    timezone: TimeZone
    gap: Duration = timedelta(hours=2)

    @field_validator("weeks", "min_weeks", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        # YAML 1.1 reads `weeks: yes` as true, which int validation would take for 1.
        if isinstance(value, bool):
            raise ValueError("a number of weeks, not true or false")
        return value

    @model_validator(mode="after")
    def _fits(self) -> DeviationRule:
        if self.min_weeks is not None and self.min_weeks > self.weeks:
            raise ValueError(
                f"'min_weeks' ({self.min_weeks}) must not exceed 'weeks' ({self.weeks})"
            )
        if not timedelta(0) < self.gap <= timedelta(days=1):
            raise ValueError("'gap' must be longer than 0s and at most 1d")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches its instances by key

    @property
    def needed(self) -> int:
        """The baseline periods needed before a period is judged."""
        return self.min_weeks if self.min_weeks is not None else min(_DEFAULT_MIN_WEEKS, self.weeks)

    @property
    def step(self) -> int:
        """Periods between a period and the same one a week before."""
        return 7 if self.period == "day" else 1

    def reads(self) -> list[tuple[str, str | None]]:
        return [(self.device, self.metric)]

    def describe(self) -> str:
        return (
            f"{self.device} {self.metric} of the {self.period} more than "
            f"{self.above_percent:g}% above its baseline"
        )


class Part(NamedTuple):
    """A period as far as readings have covered it."""

    key: int  # a local date's ordinal (day), or the week's number from 0001-01-01 (week)
    ends: float  # when it ends
    used: float  # kWh or m³ in the time covered
    covered: float  # seconds
    marked: bool  # part of it is unknown


class Done(NamedTuple):
    """A known period, with all it used: the baselines of those after it."""

    key: int
    used: float


@dataclass(frozen=True, slots=True)
class DeviationState:
    active: bool = False
    at: float | None = None  # the base reading: when it came (agent clock), its value
    value: float | None = None
    open: Part | None = None  # the period of the base reading
    done: tuple[Done, ...] = ()  # known periods, the latest ``weeks`` weeks' at most


def _read(
    rule: DeviationRule, state: DeviationState, values: Sequence[float], at: float
) -> tuple[Base | None, list[Part], Part | None]:
    """The new base, the periods the readings completed, and the open one: None when the
    readings say nothing."""
    base = None if state.at is None or state.value is None else Base(state.at, state.value)
    new, interval = read(
        base,
        values,
        at,
        jitter=JITTER[rule.metric],
        gap=rule.gap.total_seconds(),
    )
    if new is None or new is base:
        return None, [], None
    current = state.open
    if interval is not None and current is not None and at < current.ends:
        return new, [], _add(current, interval.start, at, interval.used, interval.known)
    now = period_index(rule.zone, rule.period, at)
    if interval is None or current is None:  # the first reading, or the clock went back
        return new, [], _open(rule, now)
    completed: list[Part] = []
    if interval.known:
        pieces = list(split(rule.zone, rule.period, interval))
    else:
        pieces = [(current.key, 0.0, 0.0), (now, 0.0, 0.0)]
    for key, seconds, share in pieces:
        if key != current.key:
            completed.append(current)
            current = _open(rule, key)
        current = _add(current, 0.0, seconds, share, interval.known)
    if current.key != now:  # a reading on the boundary: the period it ends is complete
        completed.append(current)
        current = _open(rule, now)
    return new, completed, current


def _open(rule: DeviationRule, key: int) -> Part:
    return Part(key, period_start(rule.zone, rule.period, key + 1), 0.0, 0.0, False)


def _add(part: Part, start: float, end: float, used: float, known: bool) -> Part:
    """The period with ``used`` over [start, end) added; not ``known``: marked unknown."""
    spent = part.used + used
    # A sum past what a float holds is no consumption anyone can use: unknown.
    unknown = part.marked or not known or not math.isfinite(spent)
    covered = part.covered + (end - start if known else 0.0)
    return Part(part.key, part.ends, 0.0 if unknown else spent, covered, unknown)


def _known(rule: DeviationRule, part: Part) -> bool:
    length = part.ends - period_start(rule.zone, rule.period, part.key)
    return not part.marked and part.covered >= length - _FULL


def observe(
    rule: DeviationRule, state: DeviationState, values: Sequence[float], at: float
) -> tuple[DeviationState, list[Done]]:
    """The state after readings received together at ``at``, and the known periods they
    completed, oldest first, not yet in ``done``; the same object when they change nothing."""
    new, completed, current = _read(rule, state, values, at)
    if new is None:
        return state, []
    judged = [Done(p.key, p.used) for p in completed if _known(rule, p)]
    # Built, not replace()d: this runs on every reading, and replace() costs several times more.
    return DeviationState(state.active, new.at, new.value, current, state.done), judged


def baseline(rule: DeviationRule, done: Sequence[Done], index: int) -> float | None:
    """The baseline for period ``index`` from the known periods before it; None while fewer than
    ``needed`` of the same periods are known."""
    by_index = {d.key: d.used for d in done}
    same = (index - rule.step * k for k in range(1, rule.weeks + 1))
    past = [by_index[i] for i in same if i in by_index]
    if len(past) < rule.needed:
        return None
    return statistics.median(past) if rule.baseline == "median" else statistics.fmean(past)


def _judge(rule: DeviationRule, active: bool, done: Sequence[Done], period: Done) -> bool | None:
    base = baseline(rule, done, period.key)
    if base is None:
        return None
    limit = base * (1.0 + rule.above_percent / 100.0)
    top = limit - limit * DEFAULT_DEADBAND_SHARE if active else limit
    return period.used > top and period.used - base > rule.min_excess


def evaluate(
    rule: DeviationRule, state: DeviationState, values: Sequence[float], at: float
) -> tuple[DeviationState, float | None]:
    """The state after readings received together at ``at``, and the consumption of the last
    period judged."""
    new, judged = observe(rule, state, values, at)
    if new is state or not judged:
        return new, None
    active, value, done = new.active, None, new.done
    span = rule.step * rule.weeks
    for period in judged:
        verdict = _judge(rule, active, done, period)
        if verdict is not None:
            active, value = verdict, period.used
        # Only the latest ``weeks`` weeks are any later period's baseline.
        done = tuple(d for d in (*done, period) if d.key > period.key - span)
    return replace(new, active=active, done=done), value


def _initial(rule: DeviationRule, started_at: float) -> DeviationState:
    return DeviationState()


def _series(
    rule: DeviationRule, state: DeviationState, metric: str, values: Sequence[float], at: float
) -> Outcome[DeviationState]:
    new, value = evaluate(rule, state, values, at)
    return new, flip(state, new, at, value)


def _load(data: dict[str, Any]) -> DeviationState:
    # JSON gives lists back for the tuples.
    current = data["open"]
    tuples = {
        "open": None if current is None else Part(*current),
        "done": tuple(Done(*d) for d in data["done"]),
    }
    return DeviationState(**data | tuples)


KIND = Kind(DeviationRule, DeviationState, _initial, series=_series, load=_load)
