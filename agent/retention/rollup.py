"""Hourly rollups: what an hour of one series' readings keeps once the raw readings are gone.

A rollup is a monoid: several rollups of one device, metric and hour (made by different slices)
``combine`` into the one a single pass would have made. ``first`` and ``last`` (with their times)
keep consumption computable for cumulative meters (energy.md: consumption is the difference of
consecutive readings): within an hour ``last - first``, across hours the next ``first`` minus
this ``last``; resets and rollovers stay in ``meter_events``, which are never thinned.
``count``, ``min``, ``max`` and ``sum`` serve the other metrics (mean = sum / count).
Hours are UTC hours of the device's time (``ts``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["HOUR", "Rollup", "combine", "hour_of", "roll_up"]

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Rollup:
    device: str
    metric: str
    hour: float
    count: int
    min: float
    max: float
    sum: float
    first_ts: float
    first: float
    last_ts: float
    last: float


def hour_of(ts: float) -> float:
    return ts - ts % HOUR


def roll_up(readings: Iterable[tuple[str, str, float, float]]) -> list[Rollup]:
    """One rollup per device, metric and hour of ``(device, metric, ts, value)`` rows, in the
    order their series first appear; ties in time keep the earlier row as first, later as last."""
    # Plain lists, one Rollup per hour at the end: a frozen dataclass per reading cost the writer
    # ten times more than the delete it prepares.
    acc: dict[tuple[str, str, float], list[Any]] = {}
    for device, metric, ts, value in readings:
        key = (device, metric, ts - ts % HOUR)
        a = acc.get(key)
        if a is None:
            acc[key] = [1, value, value, value, ts, value, ts, value]
            continue
        a[0] += 1
        a[1] = min(a[1], value)
        a[2] = max(a[2], value)
        a[3] += value
        if ts < a[4]:
            a[4], a[5] = ts, value
        if ts >= a[6]:
            a[6], a[7] = ts, value
    return [Rollup(d, m, h, *a) for (d, m, h), a in acc.items()]


def combine(a: Rollup, b: Rollup) -> Rollup:
    """The rollup of both rollups' readings (same device, metric and hour); ``a`` came first."""
    first = b if b.first_ts < a.first_ts else a
    last = b if b.last_ts >= a.last_ts else a
    return Rollup(
        a.device,
        a.metric,
        a.hour,
        a.count + b.count,
        min(a.min, b.min),
        max(a.max, b.max),
        a.sum + b.sum,
        first.first_ts,
        first.first,
        last.last_ts,
        last.last,
    )
