"""Night flow (常流水, water running all night) on a cumulative water meter (m³): a leak is water
that never stops. Two conditions, either or both (energy.md, "Water: night flow and leaks"):

- ``continuous`` (on unless set false): no hour of the last 24 below ``zero_below`` L/h. A
  building should have some hour with zero consumption each day.
- ``mnf_above``: the minimum night flow (MNF), the lowest hourly flow in the local ``night``
  window (02:00-04:00 by default, usually where MNF is found), above this many L/h for ``nights``
  nights in a row.

Consumption is kept per local clock hour (a zone's offset may be half an hour off UTC's), for the
last 48 hours, from consecutive readings (energy.md, "Cumulative meters"):

- Readings at most ``gap`` apart have their water spread over the hours between them in
  proportion to time.
- Readings further apart are a gap. Its water is spread too when its mean flow is under
  ``zero_below`` (the water barely moved: an empty building, or a meter that only reports a
  change); otherwise the hours it touches are marked unknown, never lumped into one and never
  invented.
- A drop of more than a litre is a reset or a new meter: no consumption, the hours it spans are
  marked. A smaller drop is jitter: the higher value stays the base.
- An interval implying more than ``max_flow`` (the meter's rated flow) is a spike: marked.
- Readings received together count as one reading with the water of them all.

An hour is known once readings cover all of it and nothing marked it, and final once a reading
after its end has come in. So verdicts come with readings, and there is no tick: a silent meter
proves nothing (it is the stale rule's to see). An unknown hour neither raises nor clears:

- ``continuous`` holds once the 24 hours before the last reading's are known and none is a zero
  hour, and stops holding as soon as one known hour among them is.
- A night is judged once the local clock at a reading has passed the window's end: its MNF is its
  lowest hour, unknown if any of its hours is; unknown nights break a run of ``nights``.

The window is read on the wall clock like ``rules.schedule``: an hour belongs to it when its local
start does, so on the night the clocks go forward Berlin's 02:00-04:00 holds one hour, and on the
night they go back three.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from collector.duration import Duration
from rules.base import Kind, Outcome, RuleBase, flip
from rules.meter import JITTER, fold, usable
from rules.schedule import Span, TimeRange, format_span

__all__ = [
    "KIND",
    "Hour",
    "Night",
    "NightFlowRule",
    "NightFlowState",
    "evaluate",
    "hour_start",
    "night_hours",
    "observe",
]

_HOUR = 3600.0
_DAY = 24  # hours without a zero one that make water run all day
_KEEP = 48  # hours kept: a day to judge, and a night window of up to a day besides
_JITTER = JITTER["water"]
_FULL = _HOUR - 1e-3  # seconds of cover that make an hour whole, give or take float rounding


class NightFlowRule(RuleBase):
    type: Literal["night_flow"]
    metric: Literal["water"] = "water"
    timezone: str = Field(min_length=1)
    continuous: bool = True
    zero_below: float = Field(default=1.0, gt=0, allow_inf_nan=False)  # L/h
    mnf_above: float | None = Field(default=None, ge=0, allow_inf_nan=False)  # L/h
    night: TimeRange = Span(120, 240)
    nights: int = Field(default=1, ge=1, le=31)
    gap: Duration = timedelta(minutes=90)
    max_flow: float | None = Field(default=None, gt=0, allow_inf_nan=False)  # L/h

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (write e.g. Europe/London)") from None
        return value

    @field_validator("nights", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        # YAML 1.1 reads `nights: yes` as true, which int validation would take for 1.
        if isinstance(value, bool):
            raise ValueError("a number of nights, not true or false")
        return value

    @field_validator("night")
    @classmethod
    def _whole_hours(cls, value: Span) -> Span:
        if value.start % 60 or value.end % 60:
            raise ValueError(
                f"the night window {format_span(value)} must start and end on the hour: "
                "flow is kept per hour"
            )
        return value

    @model_validator(mode="after")
    def _fits(self) -> NightFlowRule:
        if not self.continuous and self.mnf_above is None:
            raise ValueError("a night_flow rule needs 'continuous: true' or 'mnf_above'")
        if self.mnf_above is None and {"nights", "night"} & self.model_fields_set:
            raise ValueError("'night' and 'nights' apply only with 'mnf_above'")
        if not timedelta(0) < self.gap <= timedelta(days=1):
            raise ValueError("'gap' must be longer than 0s and at most 1d")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches its instances by key

    def reads(self) -> list[tuple[str, str | None]]:
        return [(self.device, "water")]

    def describe(self) -> str:
        conditions = [
            f"no hour under {self.zero_below:g} L/h in 24h" if self.continuous else "",
            f"night flow above {self.mnf_above:g} L/h" if self.mnf_above is not None else "",
        ]
        run = f" for {self.nights} nights" if self.mnf_above is not None and self.nights > 1 else ""
        return f"water running at {self.device}: {' or '.join(c for c in conditions if c)}{run}"


class Hour(NamedTuple):
    start: float  # unix seconds: the start of a local clock hour
    litres: float
    covered: float  # seconds of the hour the readings account for
    marked: bool  # part of it fell in a gap, a reset or a spike: its flow is unknown

    @property
    def known(self) -> bool:
        return not self.marked and self.covered >= _FULL


class Night(NamedTuple):
    day: int  # the local date the window starts on, as an ordinal
    mnf: float | None  # L/h; None: an hour of it is unknown


@dataclass(frozen=True, slots=True)
class NightFlowState:
    active: bool = False
    continuous: bool = False  # no zero hour in the last 24
    high_nights: bool = False  # MNF above the limit, for ``nights`` nights
    at: float | None = None  # the base reading: when it came (agent clock), its value (m³)
    value: float | None = None
    hours: tuple[Hour, ...] = ()  # the latest 48, oldest first
    nights: tuple[Night, ...] = ()  # the latest judged, at most ``nights``


def hour_start(zone: tzinfo, at: float) -> float:
    """The start of the local clock hour holding ``at``."""
    offset = datetime.fromtimestamp(at, zone).utcoffset()
    return at - (at + (offset.total_seconds() if offset else 0.0)) % _HOUR


def night_hours(rule: NightFlowRule, day: int) -> list[float]:
    """The starts of the clock hours in the night window that starts on ``day`` (an ordinal)."""
    zone = rule.zone
    midnight = datetime.combine(date.fromordinal(day), time(), zone).timestamp()
    first = hour_start(zone, midnight - 2 * _HOUR)
    # A window ends at most a day after the midnight it starts after, and DST moves it an hour.
    starts = (first + _HOUR * k for k in range(_KEEP + 4))
    return [s for s in starts if _in_night(rule.night, zone, s, day)]


def _in_night(span: Span, zone: tzinfo, at: float, day: int) -> bool:
    local = datetime.fromtimestamp(at, zone)
    minute, on = local.hour * 60 + local.minute, local.date().toordinal()
    if not span.overnight:
        return on == day and span.start <= minute < span.end
    return (on == day and minute >= span.start) or (on == day + 1 and minute < span.end)


def _night_end(span: Span, day: int) -> datetime:
    """The window's end on the wall clock (naive local time)."""
    start = datetime.combine(date.fromordinal(day), time())
    return start + timedelta(days=1 if span.overnight else 0, minutes=span.end)


def _spread(
    zone: tzinfo, hours: tuple[Hour, ...], start: float, end: float, litres: float, marked: bool
) -> tuple[Hour, ...]:
    """Hours with the water of [start, end) added in proportion to time, the time counted as
    covered; ``marked``: their flow is unknown. Readings received at one instant leave no time to
    spread over: their water goes to the hour of that instant."""
    by_start = {h.start: h for h in hours}
    first = max(start, end - _KEEP * _HOUR)  # older hours are forgotten anyway
    slot = hour_start(zone, first)
    while slot < end or slot == first == end:
        seconds = max(0.0, min(end, slot + _HOUR) - max(first, slot))
        share = litres * seconds / (end - start) if end > start else litres
        old = by_start.get(slot, Hour(slot, 0.0, 0.0, False))
        total = old.litres + share
        # A total past what a float holds is no flow anyone can use: unknown, kept as 0.
        usable = math.isfinite(total)
        by_start[slot] = Hour(
            slot,
            total if usable else 0.0,
            old.covered + seconds,
            old.marked or marked or not usable,
        )
        slot += _HOUR
    return tuple(h for _, h in sorted(by_start.items())[-_KEEP:])


def observe(
    rule: NightFlowRule, state: NightFlowState, values: Sequence[float], at: float
) -> NightFlowState:
    """The hours after meter readings (m³) received together at ``at``; the same object when
    they change nothing."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite or not usable(at):
        return state
    zone = rule.zone
    if state.at is None or state.value is None or at < state.at:
        # The first reading, or the agent's clock went back: measure from here, and forget the
        # hours a clock set back has not reached yet.
        now = hour_start(zone, at)
        hours = tuple(h for h in state.hours if h.start < now)
        return replace(state, at=at, value=fold(finite[0], finite[1:], _JITTER)[1], hours=hours)
    used, base, reset = fold(state.value, finite, _JITTER)
    litres, seconds = used * 1000.0, at - state.at
    flow = litres * _HOUR / seconds if seconds > 0 else 0.0
    marked = (
        reset
        or not math.isfinite(flow)
        or (rule.max_flow is not None and flow > rule.max_flow)
        or (seconds > rule.gap.total_seconds() and flow >= rule.zero_below)
    )
    hours = _spread(zone, state.hours, state.at, at, 0.0 if marked else litres, marked)
    return replace(state, at=at, value=base, hours=hours)


def _continuous(rule: NightFlowRule, state: NightFlowState) -> tuple[bool | None, float | None]:
    """Whether water ran in each of the 24 hours before the last reading's: True with the lowest
    hour's flow, False with the latest zero hour's, None while an hour is unknown."""
    assert state.at is not None
    end = hour_start(rule.zone, state.at)
    by_start = {h.start: h for h in state.hours}
    day = [by_start.get(end - _HOUR * k) for k in range(_DAY, 0, -1)]
    known = [h for h in day if h is not None and h.known]
    zero = [h.litres for h in known if h.litres < rule.zero_below]
    if zero:
        return False, zero[-1]
    if len(known) == _DAY:
        return True, min(h.litres for h in known)
    return None, None


def _judge(rule: NightFlowRule, state: NightFlowState) -> tuple[Night, ...]:
    """The nights whose windows the last reading has passed and that were not judged yet."""
    assert state.at is not None
    local = datetime.fromtimestamp(state.at, rule.zone).replace(tzinfo=None)
    today = local.date().toordinal()
    after = state.nights[-1].day + 1 if state.nights else today - 2
    by_start = {h.start: h for h in state.hours}
    judged: list[Night] = []
    for day in range(max(after, today - 2), today + 1):
        if local < _night_end(rule.night, day):
            break
        window = [by_start.get(s) for s in night_hours(rule, day)]
        known = [h.litres for h in window if h is not None and h.known]
        judged.append(Night(day, min(known) if window and len(known) == len(window) else None))
    return tuple(judged)


def _high(
    rule: NightFlowRule, before: tuple[Night, ...], judged: tuple[Night, ...]
) -> tuple[bool | None, float | None]:
    """The verdict of the nights just judged, the last that says anything: False after a night
    at or under the limit, True after a run of ``nights`` above it; None: none says."""
    limit = rule.mnf_above
    verdict: tuple[bool | None, float | None] = (None, None)
    for i, night in enumerate(judged):
        if limit is None or night.mnf is None:
            continue
        run = (*before, *judged[: i + 1])[-rule.nights :]
        above = all(n.mnf is not None and n.mnf > limit for n in run)
        complete = len(run) == rule.nights and run[-1].day - run[0].day == rule.nights - 1
        if night.mnf <= limit:
            verdict = (False, night.mnf)
        elif above and complete:
            verdict = (True, night.mnf)
    return verdict


def _standing(rule: NightFlowRule, state: NightFlowState) -> tuple[bool, bool]:
    """The conditions as they stand. The engine restores an alarm active before a restart as
    ``active`` alone: every condition configured then stands until a verdict."""
    if state.active and not (state.continuous or state.high_nights):
        return rule.continuous, rule.mnf_above is not None
    return state.continuous, state.high_nights


def evaluate(
    rule: NightFlowRule, state: NightFlowState, values: Sequence[float], at: float
) -> tuple[NightFlowState, float | None]:
    """The state after readings received together at ``at``, and the flow (L/h) of the verdict
    that decided it: the lowest hour of the day, a zero hour, or a night's MNF."""
    new = observe(rule, state, values, at)
    if new is state:
        return state, None
    continuous, high = _standing(rule, state)
    ran, ran_value = _continuous(rule, new) if rule.continuous else (None, None)
    judged = _judge(rule, new) if rule.mnf_above is not None else ()
    was_high, night_value = _high(rule, new.nights, judged)
    nights = (*new.nights, *judged)[-rule.nights :]
    continuous = continuous if ran is None else ran
    value = night_value if was_high is not None and was_high != high else ran_value
    high = high if was_high is None else was_high
    return replace(
        new,
        active=continuous or high,
        continuous=continuous,
        high_nights=high,
        nights=nights,
    ), value


def _initial(rule: NightFlowRule, started_at: float) -> NightFlowState:
    return NightFlowState()


def _series(
    rule: NightFlowRule, state: NightFlowState, metric: str, values: Sequence[float], at: float
) -> Outcome[NightFlowState]:
    new, value = evaluate(rule, state, values, at)
    return new, flip(state, new, at, value)


def _load(data: dict[str, Any]) -> NightFlowState:
    # JSON gives lists back for the tuples.
    hours = tuple(Hour(*h) for h in data.pop("hours"))
    nights = tuple(Night(*n) for n in data.pop("nights"))
    return NightFlowState(**data, hours=hours, nights=nights)


KIND = Kind(NightFlowRule, NightFlowState, _initial, series=_series, load=_load)
