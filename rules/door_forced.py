"""Door forced open: the door's contact opens with no access granted at its reader shortly before.

An opening is authorised by a granted swipe at ``reader`` at most ``grant_window`` before it
(access.md: the typical grant window, 5 s unlocked + 3 s to open). The reader's event and the
contact's reading travel separately and may reach the agent in either order, so a grant arriving
up to ``late_grant`` after the opening still authorises it: the verdict on an opening waits that
long. Request-to-exit buttons are not modelled: a door with one raises on every exit.

The alarm is an event: it becomes active and inactive at once, and stays open until acknowledged.
A contact's first reading after the rule starts is no opening: the door may have been open already.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal

from pydantic import model_validator

from collector.duration import Duration, format_duration
from collector.models import AccessEvent
from rules.base import Kind, Outcome, RuleBase, Transition, momentary

__all__ = ["KIND", "DoorForcedRule", "DoorForcedState", "granted", "observe", "settle"]

_OPEN = {1.0: True, 0.0: False}


class DoorForcedRule(RuleBase):
    type: Literal["door_forced"]
    metric: Literal["contact"] = "contact"
    reader: str
    grant_window: Duration = timedelta(seconds=8)
    late_grant: Duration = timedelta(seconds=2)

    @model_validator(mode="after")
    def _windows(self) -> DoorForcedRule:
        if self.grant_window <= timedelta(0):
            raise ValueError("'grant_window' must be longer than 0s: no swipe could open the door")
        if self.late_grant > self.grant_window:
            raise ValueError(
                f"'late_grant' ({format_duration(self.late_grant)}) must not be longer than "
                f"'grant_window' ({format_duration(self.grant_window)}): it only allows for a "
                "grant that reaches the agent after the opening it allowed"
            )
        return self

    def reads(self) -> list[tuple[str, str | None]]:
        return [(self.device, "contact")]

    def readers(self) -> list[str]:
        return [self.reader]

    def describe(self) -> str:
        return f"{self.device} forced open (no access granted at {self.reader})"


@dataclass(frozen=True, slots=True)
class DoorForcedState:
    active: bool = False  # an event alarm: never active between evaluations
    door: bool | None = None  # the contact's last word: open, closed, or none yet
    granted_at: float | None = None  # the last granted swipe at the reader
    unexplained: float | None = None  # an opening still waiting for a late grant


def observe(
    rule: DoorForcedRule, state: DoorForcedState, is_open: bool, at: float
) -> tuple[DoorForcedState, bool]:
    """The contact reads open (or closed) at ``at``: the new state, and whether the door was
    forced (an opening ``late_grant`` can no longer explain)."""
    state, forced = settle(rule, state, at)
    opening = is_open and state.door is False
    unexplained = state.unexplained
    if opening and not _authorised(rule, state.granted_at, at):
        unexplained = at if unexplained is None else unexplained
    if (is_open, unexplained) == (state.door, state.unexplained):
        return state, forced  # a repeat: the writer saves only states that are new objects
    new, now_forced = settle(rule, replace(state, door=is_open, unexplained=unexplained), at)
    return new, forced or now_forced


def granted(rule: DoorForcedRule, state: DoorForcedState, at: float) -> DoorForcedState:
    """Access was granted at the reader at ``at``: an opening waiting for it is explained."""
    granted_at = at if state.granted_at is None else max(state.granted_at, at)
    explained = state.unexplained is not None and _authorised(rule, at, state.unexplained)
    return replace(
        state, granted_at=granted_at, unexplained=None if explained else state.unexplained
    )


def settle(
    rule: DoorForcedRule, state: DoorForcedState, now: float
) -> tuple[DoorForcedState, bool]:
    """Let time pass until ``now``: an opening no grant explained within ``late_grant`` was
    forced."""
    since = state.unexplained
    if since is None or now - since < rule.late_grant.total_seconds():
        return state, False
    return replace(state, unexplained=None), True


def _authorised(rule: DoorForcedRule, granted_at: float | None, opened_at: float) -> bool:
    if granted_at is None:
        return False
    before = opened_at - granted_at
    if before >= 0:
        return before <= rule.grant_window.total_seconds()
    # Strictly inside late_grant: at late_grant itself settle() has already called it forced.
    return -before < rule.late_grant.total_seconds()


def _pulse(forced: bool, at: float) -> list[Transition]:
    return momentary(at, 1.0) if forced else []


def _initial(rule: DoorForcedRule, started_at: float) -> DoorForcedState:
    return DoorForcedState()


def _series(
    rule: DoorForcedRule, state: DoorForcedState, metric: str, values: Sequence[float], at: float
) -> Outcome[DoorForcedState]:
    transitions: list[Transition] = []
    if not math.isfinite(at):
        return state, transitions
    for value in values:
        is_open = _OPEN.get(value)
        if is_open is not None:
            state, forced = observe(rule, state, is_open, at)
            transitions += _pulse(forced, at)
    return state, transitions


def _access(
    rule: DoorForcedRule, state: DoorForcedState, event: AccessEvent
) -> Outcome[DoorForcedState]:
    at = event.received_at
    if event.result != "granted" or not math.isfinite(at):
        return state, []
    state, forced = settle(rule, state, at)
    return granted(rule, state, at), _pulse(forced, at)


def _tick(rule: DoorForcedRule, state: DoorForcedState, now: float) -> Outcome[DoorForcedState]:
    if not math.isfinite(now):
        return state, []
    new, forced = settle(rule, state, now)
    return new, _pulse(forced, now)


KIND = Kind(DoorForcedRule, DoorForcedState, _initial, series=_series, tick=_tick, access=_access)
