"""What an excursion rule declares: its range and its WHO-style triggers (coldchain.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from collector.config import Strict
from collector.duration import Duration, format_duration
from rules.base import RuleBase, Severity

__all__ = ["DOOR_METRIC", "ExcursionRule", "Trigger"]

DOOR_METRIC = "contact"  # collector.models: 1 open, 0 closed

_LIMITS = ("above", "at_or_above", "below", "at_or_below")


class Trigger(Strict):
    """Beyond one limit (at most one; none: outside the range) for ``for`` continuously, or for
    ``total`` within ``within``."""

    above: float | None = Field(default=None, allow_inf_nan=False)
    at_or_above: float | None = Field(default=None, allow_inf_nan=False)
    below: float | None = Field(default=None, allow_inf_nan=False)
    at_or_below: float | None = Field(default=None, allow_inf_nan=False)
    on_delay: Duration | None = Field(default=None, alias="for")
    total: Duration | None = None
    within: Duration | None = None

    @model_validator(mode="after")
    def _one_limit_one_measure(self) -> Trigger:
        if sum(getattr(self, name) is not None for name in _LIMITS) > 1:
            raise ValueError(f"a trigger takes at most one of {', '.join(_LIMITS)}")
        if (self.on_delay is None) == (self.total is None):
            raise ValueError("a trigger takes 'for' (single event) or 'total' (cumulative)")
        if (self.total is None) != (self.within is None):
            raise ValueError("'total' needs 'within', the window it is counted in")
        if self.total is not None and self.within is not None:
            if self.total <= timedelta(0):
                raise ValueError("'total' must be longer than 0s")
            if self.within < self.total:
                raise ValueError("'within' must be at least as long as 'total'")
        return self

    def beyond(self, value: float, low: float | None, high: float | None) -> bool:
        if self.above is not None:
            return value > self.above
        if self.at_or_above is not None:
            return value >= self.at_or_above
        if self.below is not None:
            return value < self.below
        if self.at_or_below is not None:
            return value <= self.at_or_below
        return (low is not None and value < low) or (high is not None and value > high)

    def describe(self) -> str:
        limit = next(
            (
                f"{n.replace('_', ' ')} {v:g}"
                for n in _LIMITS
                if (v := getattr(self, n)) is not None
            ),
            "out of range",
        )
        if self.total is not None and self.within is not None:
            total, within = format_duration(self.total), format_duration(self.within)
            return f"{limit} for {total} in total within {within}"
        return f"{limit} for {format_duration(self.on_delay or timedelta(0))}"


class ExcursionRule(RuleBase):
    type: Literal["excursion"]
    metric: str = "temperature"
    # coldchain.md: a response is required ("DO NOT USE"), so these are high unless told, and
    # latched: the alarm stays open until a person closes it with what was done with the stock.
    severity: Severity = "high"
    latch: bool = True
    low: float | None = Field(default=None, allow_inf_nan=False)
    high: float | None = Field(default=None, allow_inf_nan=False)
    triggers: tuple[Trigger, ...] = Field(min_length=1)
    max_gap: Duration = timedelta(hours=1)
    max_spans: int = Field(default=256, ge=1, le=10_000)
    max_unsaved: int = Field(default=64, ge=1, le=10_000)
    # The contacts (metric ``contact``, 1 = open) on the doors of this cold room or fridge: their
    # events during an excursion are kept with it (coldchain.md).
    doors: tuple[str, ...] = Field(default=(), max_length=32)

    @field_validator("max_spans", "max_unsaved", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        # YAML 1.1 reads `max_spans: yes` as true, which int validation would take for 1.
        if isinstance(value, bool):
            raise ValueError("a number, not true or false")
        return value

    @model_validator(mode="after")
    def _fits(self) -> ExcursionRule:
        if self.low is None and self.high is None:
            raise ValueError("an excursion rule needs 'low' or 'high' (e.g. 2 and 8 for vaccines)")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError("'low' must be lower than 'high'")
        if self.max_gap <= timedelta(0):
            raise ValueError("'max_gap' must be longer than 0s")
        for trigger in self.triggers:
            _check_limit(trigger, self.low, self.high)
        if self.doors and self.metric == DOOR_METRIC:
            raise ValueError("an excursion of door contacts cannot have doors of its own")
        if len(set(self.doors)) != len(self.doors):
            raise ValueError("'doors' names a door twice")
        return self

    def reads(self) -> list[tuple[str, str | None]]:
        return [(self.device, self.metric), *((door, DOOR_METRIC) for door in self.doors)]

    def outside(self, value: float) -> bool:
        return (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        )

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            limits = f"outside {self.low:g} to {self.high:g}"
        else:
            limits = f"below {self.low:g}" if self.low is not None else f"above {self.high:g}"
        triggers = ", or ".join(t.describe() for t in self.triggers)
        return f"{self.device} {self.metric} {limits}: {triggers}"


def _check_limit(trigger: Trigger, low: float | None, high: float | None) -> None:
    """A trigger's limit lies on or beyond the range: it can only hold during an excursion."""
    ups = [(trigger.above, False), (trigger.at_or_above, True)]
    downs = [(trigger.below, False), (trigger.at_or_below, True)]
    for limit, inclusive in ups:
        if limit is not None and (high is None or limit < high or (inclusive and limit == high)):
            raise ValueError(f"a trigger's limit above ({limit:g}) must lie beyond 'high'")
    for limit, inclusive in downs:
        if limit is not None and (low is None or limit > low or (inclusive and limit == low)):
            raise ValueError(f"a trigger's limit below ({limit:g}) must lie beyond 'low'")
