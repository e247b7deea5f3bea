"""Checks for cumulative meters (kWh, m³): turn two consecutive readings into a consumption.

A drop is never negative consumption (energy.md): a small one is jitter, a drop near the counter's
maximum is a rollover, anything else starts a new segment (a reset or a replaced meter). A rise
faster than the meter can physically count is a spike and is quarantined, not consumed. A long
silence is marked as a gap, so that its consumption is spread over the interval, never lumped into
the hour the meter came back (Home Assistant's long-standing complaint).

CounterError
└── OutOfOrder   a reading older than the last one checked
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_GAP_S",
    "ROLLOVER_BAND",
    "CounterCheck",
    "CounterError",
    "OutOfOrder",
    "Verdict",
    "VerdictKind",
    "check",
]

VerdictKind = Literal["ok", "gap", "jitter", "reset", "rollover", "spike"]

DEFAULT_GAP_S = 3600.0
# A rollover drops from the top of the counter's range to its bottom; this share of the range at
# each end tells it from a reset, which can drop from anywhere to anywhere.
ROLLOVER_BAND = 0.1


class CounterError(ValueError):
    """A sequence of readings the checks cannot judge."""


class OutOfOrder(CounterError):
    def __init__(self, last_ts: float, ts: float) -> None:
        super().__init__(f"reading at {ts} is older than the last one, at {last_ts}")
        self.last_ts = last_ts
        self.ts = ts


@dataclass(frozen=True, slots=True)
class CounterCheck:
    """What is remembered of a meter between readings: the value counting continues from."""

    value: float
    ts: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """``consumption`` is over ``since``..``ts`` (``since`` is None for a first reading); ``state``
    is what the next reading is checked against."""

    kind: VerdictKind
    consumption: float
    since: float | None
    state: CounterCheck


def check(
    previous: CounterCheck | None,
    value: float,
    ts: float,
    *,
    max_rate_per_hour: float | None,
    rollover_at: float | None,
    jitter: float,
    gap_after: float = DEFAULT_GAP_S,
) -> Verdict:
    """Judge ``value`` at ``ts`` against the previous state of the meter.

    ``max_rate_per_hour`` is the meter's rated maximum (kW for kWh); ``rollover_at`` is where the
    register wraps to zero (100000 for one that shows up to 99999.9); a drop of at most ``jitter``
    is noise; a silence longer than ``gap_after`` seconds is marked as a gap.
    """
    here = CounterCheck(value, ts)
    if previous is None:
        return Verdict("ok", 0.0, None, here)
    if ts < previous.ts:
        raise OutOfOrder(previous.ts, ts)
    delta = value - previous.value
    hours = (ts - previous.ts) / 3600.0
    if delta >= 0:
        if _too_fast(delta, hours, max_rate_per_hour):
            # Keep counting from the last good value: the spike may be a single bad frame.
            return Verdict("spike", 0.0, previous.ts, previous)
        kind: VerdictKind = "gap" if ts - previous.ts > gap_after else "ok"
        return Verdict(kind, delta, previous.ts, here)
    if -delta <= jitter:
        # Stay at the higher value, or the climb back up would be counted twice.
        return Verdict("jitter", 0.0, previous.ts, previous)
    wrapped = _wrapped(previous.value, value, rollover_at)
    if wrapped is not None and not _too_fast(wrapped, hours, max_rate_per_hour):
        return Verdict("rollover", wrapped, previous.ts, here)
    # What the new meter read when it was fitted is unknown, so nothing is credited to this
    # interval: the new segment starts at this reading.
    return Verdict("reset", 0.0, previous.ts, here)


def _too_fast(delta: float, hours: float, max_rate_per_hour: float | None) -> bool:
    return max_rate_per_hour is not None and delta > max_rate_per_hour * hours


def _wrapped(last: float, value: float, rollover_at: float | None) -> float | None:
    if rollover_at is None:
        return None
    band = rollover_at * ROLLOVER_BAND
    if last < rollover_at - band or value > band:
        return None
    return rollover_at - last + value
