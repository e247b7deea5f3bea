"""Rate rule: a metric rising or falling faster than a limit per minute — a freezer warming by
more than 0.5 °C a minute has its door open or its compressor failing, long before it is warm.

The rate is measured on the agent's clock, like every rule, from a base reading to the first
reading at least ``over`` after it, which then becomes the base: readings closer together than
``over`` are not compared, so jitter between two readings seconds apart cannot fire. Values
received together (one message, or a device's buffered batch) share one time of receipt, so
the times between them are unknown: only the last of them, the freshest, counts, as the value
at that time. A breach within a batch is the threshold rule's to see.

Pure: the state is a value, time is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from collector.duration import Duration
from rules.base import DEFAULT_DEADBAND_SHARE, Kind, Outcome, RuleBase, flip

__all__ = ["KIND", "RateRule", "RateState", "breached", "evaluate", "recovered"]


class RateRule(RuleBase):
    type: Literal["rate"]
    metric: str
    rise_per_min: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    fall_per_min: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    over: Duration = timedelta(minutes=1)
    deadband: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _needs_a_limit(self) -> RateRule:
        limits = [x for x in (self.rise_per_min, self.fall_per_min) if x is not None]
        if not limits:
            raise ValueError("a rate rule needs 'rise_per_min' or 'fall_per_min'")
        if any(self.band(x) > x for x in limits):
            # recovered() would need the opposite trend: a steady value would never clear.
            raise ValueError("the deadband must not exceed 'rise_per_min' or 'fall_per_min'")
        return self

    def band(self, limit: float) -> float:
        return limit * DEFAULT_DEADBAND_SHARE if self.deadband is None else self.deadband

    def describe(self) -> str:
        limits = [
            f"rising faster than {self.rise_per_min:g}/min" if self.rise_per_min else "",
            f"falling faster than {self.fall_per_min:g}/min" if self.fall_per_min else "",
        ]
        return f"{self.device} {self.metric} {' or '.join(x for x in limits if x)}"


@dataclass(frozen=True, slots=True)
class RateState:
    active: bool = False
    # The reading the next rate is measured from: when it was received, and its value.
    base_at: float | None = None
    base_value: float | None = None


def breached(rule: RateRule, rate: float) -> bool:
    return (rule.rise_per_min is not None and rate > rule.rise_per_min) or (
        rule.fall_per_min is not None and rate < -rule.fall_per_min
    )


def recovered(rule: RateRule, rate: float) -> bool:
    """Back within the limits by at least the deadband: only then does an active alarm clear."""
    rise, fall = rule.rise_per_min, rule.fall_per_min
    if rise is not None and rate > rise - rule.band(rise):
        return False
    return not (fall is not None and rate < -(fall - rule.band(fall)))


def evaluate(rule: RateRule, state: RateState, value: float, at: float) -> RateState:
    """The state after a reading; the same object when the reading changes nothing."""
    if not math.isfinite(value):
        return state  # never a base: every rate measured from it would be NaN
    base_at, base_value = state.base_at, state.base_value
    if base_at is None or base_value is None or at < base_at:
        # The first reading, or the agent's clock went back: measure from here.
        return RateState(state.active, at, value)
    elapsed = at - base_at
    if elapsed <= 0 or elapsed < rule.over.total_seconds():
        return state
    rate = (value - base_value) * 60.0 / elapsed
    active = not recovered(rule, rate) if state.active else breached(rule, rate)
    return RateState(active, at, value)


def _initial(rule: RateRule, started_at: float) -> RateState:
    return RateState()


def _series(
    rule: RateRule, state: RateState, metric: str, values: Sequence[float], at: float
) -> Outcome[RateState]:
    if not values:
        return state, []
    new = evaluate(rule, state, values[-1], at)
    return new, flip(state, new, at, values[-1])


KIND = Kind(RateRule, RateState, _initial, series=_series)
