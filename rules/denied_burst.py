"""Denied burst: more than ``count`` denied swipes within ``window`` at one reader, or by one card
there (``per: card``): someone trying cards, or a card being tried (access.md).

The alarm is an event: it becomes active and inactive at once, and stays open until acknowledged.
A burst raises once; while it goes on it raises again at most once per ``window``. Memory is
bounded: at most ``count + 1`` swipe times per card, those inside the window, and at most
``max_cards`` cards, the least recently denied forgotten first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, NamedTuple

from pydantic import Field, field_validator, model_validator

from collector.duration import Duration, format_duration
from collector.models import AccessEvent
from rules.base import Kind, Outcome, RuleBase, momentary

__all__ = ["KIND", "DeniedBurstRule", "DeniedBurstState", "Tally", "denied"]

_READER = ""  # the one tally of ``per: reader``


class DeniedBurstRule(RuleBase):
    """``device`` is the access reader."""

    type: Literal["denied_burst"]
    metric: None = None
    count: int = Field(default=5, ge=1)
    window: Duration = timedelta(minutes=1)
    per: Literal["reader", "card"] = "reader"
    max_cards: int = Field(default=1000, ge=1, le=100_000)

    @field_validator("count", "max_cards", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        # YAML 1.1 reads `count: yes` as true, which int validation would take for 1.
        if isinstance(value, bool):
            raise ValueError("a number of swipes or cards, not true or false")
        return value

    @model_validator(mode="after")
    def _fits(self) -> DeniedBurstRule:
        if self.window <= timedelta(0):
            raise ValueError("'window' must be longer than 0s")
        if "max_cards" in self.model_fields_set and self.per != "card":
            raise ValueError("'max_cards' applies only to 'per: card'")
        return self

    def reads(self) -> list[tuple[str, str | None]]:
        return []  # access events only: readers() names the device, and config checks it

    def readers(self) -> list[str]:
        return [self.device]

    def describe(self) -> str:
        who = " by one card" if self.per == "card" else ""
        within = format_duration(self.window)
        return f"more than {self.count} denied swipes{who} within {within} at {self.device}"


class Tally(NamedTuple):
    key: str  # the card, or "" for the reader as a whole
    times: tuple[float, ...]  # the latest denied swipes inside the window, oldest first
    raised_at: float | None  # the last burst it raised, while inside the window


@dataclass(frozen=True, slots=True)
class DeniedBurstState:
    active: bool = False  # an event alarm: never active between evaluations
    tallies: tuple[Tally, ...] = ()  # least recently denied first


def denied(
    rule: DeniedBurstRule, state: DeniedBurstState, card: str, at: float
) -> tuple[DeniedBurstState, bool]:
    """A swipe was denied at ``at``: the new state, and whether it made a burst to raise."""
    key = card if rule.per == "card" else _READER
    window = rule.window.total_seconds()
    horizon = at - window
    old = next((t for t in state.tallies if t.key == key), None)
    # A time after ``at`` is from before the clock was set back: it is forgotten.
    times = (*(x for x in (old.times if old else ()) if horizon < x <= at), at)[-(rule.count + 1) :]
    raised_at = old.raised_at if old is not None else None
    if raised_at is not None and not horizon < raised_at <= at:
        raised_at = None  # the last burst is over: a new one may raise
    burst = len(times) > rule.count and raised_at is None
    tally = Tally(key, times, at if burst else raised_at)
    kept = [t for t in state.tallies if t.key != key and _remembered(t, horizon)]
    return DeniedBurstState(tallies=(*kept, tally)[-rule.max_cards :]), burst


def _remembered(tally: Tally, horizon: float) -> bool:
    """A tally still matters: a swipe, or a burst it raised, inside the window."""
    raised = () if tally.raised_at is None else (tally.raised_at,)
    return any(mark > horizon for mark in (*tally.times[-1:], *raised))


def _initial(rule: DeniedBurstRule, started_at: float) -> DeniedBurstState:
    return DeniedBurstState()


def _access(
    rule: DeniedBurstRule, state: DeniedBurstState, event: AccessEvent
) -> Outcome[DeniedBurstState]:
    at = event.received_at
    if event.result != "denied" or not math.isfinite(at):
        return state, []
    new, burst = denied(rule, state, event.card, at)
    return new, momentary(at) if burst else []


def _load(data: dict[str, Any]) -> DeniedBurstState:
    # JSON gives lists back for the tuples.
    tallies = tuple(Tally(key, tuple(times), raised) for key, times, raised in data["tallies"])
    return DeniedBurstState(active=data["active"], tallies=tallies)


KIND = Kind(DeniedBurstRule, DeniedBurstState, _initial, access=_access, load=_load)
