"""Consumption from a cumulative meter (energy in kWh, water in m³) for the rules that sum it, and
the local calendar periods it is summed over (energy.md, "Cumulative meters").

Consumption is the rise between consecutive readings, judged by ``collector.counter.check`` (the
same check the writer's counter guard makes at ingest); what is never counted:

- a drop of more than the meter's last digit (``JITTER``): a reset, a new meter or a counter's
  rollover. The interval is unknown and the lower value is the new base. A smaller drop is
  jitter: the higher value stays the base.
- an interval longer than ``gap``: a reset or a swap may hide in it, so its rise is unknown, not
  lumped into the time the meter came back.
- readings before the agent's clock went back: measuring starts again from the reading.

A spike (a rise faster than the meter's rated flow) never gets here: the writer quarantines it
by the device's ``counter.max_rate_per_hour``. Readings received together count as one reading
with the rise of them all. An unknown interval is returned as such, with nothing used: the rule
decides what it means for its periods.

Periods are months, weeks (Monday to Sunday) or days of the wall clock in a zone, numbered so that
the next one is the number after: a day is 23 or 25 hours long on the days the clocks change.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, tzinfo
from typing import Annotated, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

from collector.counter import CounterCheck, check

__all__ = [
    "JITTER",
    "Base",
    "Interval",
    "Period",
    "TimeZone",
    "fold",
    "period_index",
    "period_start",
    "read",
    "split",
    "usable",
    "within",
]

Period = Literal["day", "week", "month"]
# A meter's usual last digit: 10 Wh on an energy meter, a litre on a water meter.
JITTER = {"energy": 0.01, "water": 0.001}
# Instants a calendar holds on every platform (after 1970, before the year 5000).
_EARLIEST, _LATEST = 0.0, 1e11


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (write e.g. Europe/London)") from None
    return value


# An IANA zone name, the site's: periods are read on its wall clock.
TimeZone = Annotated[str, Field(min_length=1), AfterValidator(_known_zone)]


class Base(NamedTuple):
    """The reading consumption is measured from: when it came (agent clock), and its value."""

    at: float
    value: float


class Interval(NamedTuple):
    start: float
    end: float
    used: float  # 0 when not known
    known: bool


def usable(at: float) -> bool:
    return math.isfinite(at) and _EARLIEST <= at < _LATEST


def fold(base: float, values: Sequence[float], jitter: float) -> tuple[float, float, bool]:
    """The consumption from ``base`` through ``values``, the new base, and whether it was reset
    (or rolled over: the rules know no counter's range, so they never count one)."""
    state, used, reset = CounterCheck(base, 0.0), 0.0, False
    for value in values:
        verdict = check(state, value, 0.0, max_rate_per_hour=None, rollover_at=None, jitter=jitter)
        used += verdict.consumption
        reset = reset or verdict.kind == "reset"
        state = verdict.state
    return used, state.value, reset


def read(
    base: Base | None, values: Sequence[float], at: float, *, jitter: float, gap: float
) -> tuple[Base | None, Interval | None]:
    """Readings received together at ``at``: the new base, and the interval since the old one.
    No interval for the first reading or after the clock went back; the same base object when
    the readings say nothing (no finite value, or an instant no calendar holds)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite or not usable(at):
        return base, None
    if base is None or at < base.at:
        return Base(at, fold(finite[0], finite[1:], jitter)[1]), None
    used, value, reset = fold(base.value, finite, jitter)
    known = not reset and at - base.at <= gap and math.isfinite(used)
    return Base(at, value), Interval(base.at, at, used if known else 0.0, known)


def period_index(zone: tzinfo, period: Period, at: float) -> int:
    """The number of the local period holding ``at``."""
    local = datetime.fromtimestamp(at, zone)
    if period == "month":
        return local.year * 12 + local.month - 1
    ordinal = local.date().toordinal()
    # Ordinal 1, 0001-01-01, was a Monday.
    return ordinal if period == "day" else (ordinal - 1) // 7


def period_start(zone: tzinfo, period: Period, index: int) -> float:
    """When the local period ``index`` begins: its first local midnight."""
    if period == "month":
        first = date(index // 12, index % 12 + 1, 1)
    else:
        first = date.fromordinal(index if period == "day" else index * 7 + 1)
    return datetime.combine(first, time(), zone).timestamp()


def split(zone: tzinfo, period: Period, interval: Interval) -> Iterator[tuple[int, float, float]]:
    """The periods an interval touches, oldest first, each with the seconds of the interval and
    the consumption (in proportion to time) that fall in it. An interval of no time puts its
    consumption in the period of its instant."""
    start, end, used = interval.start, interval.end, interval.used
    index = period_index(zone, period, start)
    while True:
        lo, hi = period_start(zone, period, index), period_start(zone, period, index + 1)
        seconds = max(0.0, min(end, hi) - max(start, lo))
        # The share before the product: a product first can overflow a float.
        yield index, seconds, (used * (seconds / (end - start)) if end > start else used)
        if hi >= end:
            return
        index += 1


def within(interval: Interval, start: float, end: float) -> tuple[float, float]:
    """The seconds of an interval inside [start, end), and its consumption there in proportion to
    time: ``split`` for one period whose bounds are known, with no calendar to read."""
    seconds = max(0.0, min(end, interval.end) - max(start, interval.start))
    if interval.end > interval.start:
        return seconds, interval.used * (seconds / (interval.end - interval.start))
    return seconds, (interval.used if start <= interval.start < end else 0.0)
