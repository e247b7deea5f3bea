"""Door held open: a door's contact open for longer than ``after`` (access.md's held-open time;
coldchain.md: 60-120 s for a reach-in cold room door).

The contact is debounced both ways: an opening shorter than ``debounce`` is no opening, and a close
must last ``debounce`` before the door counts as closed, so a bouncing latch neither starts nor
ends a held-open alarm. The held time runs from the moment the contact opened.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal

from pydantic import model_validator

from collector.duration import Duration, format_duration
from rules.base import Kind, Outcome, RuleBase, Transition, flip

__all__ = ["KIND", "DoorHeldRule", "DoorHeldState", "observe", "settle"]

# Contact values: 1 is open, 0 closed; anything else is no word about the door.
_OPEN = {1.0: True, 0.0: False}


class DoorHeldRule(RuleBase):
    type: Literal["door_held"]
    metric: Literal["contact"] = "contact"
    after: Duration = timedelta(minutes=2)
    debounce: Duration = timedelta(seconds=3)

    @model_validator(mode="after")
    def _after_outlasts_debounce(self) -> DoorHeldRule:
        if self.after <= self.debounce:
            raise ValueError(
                f"'after' ({format_duration(self.after)}) must be longer than 'debounce' "
                f"({format_duration(self.debounce)}): a door counts as open only once the "
                "debounce has passed"
            )
        return self

    def reads(self) -> list[tuple[str, str | None]]:
        return [(self.device, "contact")]

    def describe(self) -> str:
        return f"{self.device} held open for more than {format_duration(self.after)}"


@dataclass(frozen=True, slots=True)
class DoorHeldState:
    active: bool = False
    open: bool = False  # the debounced door
    # Since when the contact has differed from ``open``: a change waiting out the debounce.
    changing_since: float | None = None
    opened_at: float | None = None  # when the contact opened, while the door counts as open


def settle(rule: DoorHeldRule, state: DoorHeldState, now: float) -> DoorHeldState:
    """Let time pass until ``now``: a change that has lasted the debounce takes effect, and a
    door open for ``after`` is held open."""
    since = state.changing_since
    if since is not None and now - since >= rule.debounce.total_seconds():
        opened = not state.open
        state = DoorHeldState(state.active, opened, None, since if opened else None)
    held = (
        state.open
        and state.opened_at is not None
        and now - state.opened_at >= rule.after.total_seconds()
    )
    return state if held == state.active else replace(state, active=held)


def observe(rule: DoorHeldRule, state: DoorHeldState, is_open: bool, at: float) -> DoorHeldState:
    """The contact reads open (or closed) at ``at``."""
    state = settle(rule, state, at)
    if is_open == state.open:
        since = None  # a bounce back before the debounce passed: no change after all
    else:  # a repeat of the new value does not restart the debounce
        since = state.changing_since if state.changing_since is not None else at
    if since != state.changing_since:
        state = replace(state, changing_since=since)
    return settle(rule, state, at)


def _door(state: DoorHeldState) -> float:
    return 1.0 if state.open else 0.0


def _initial(rule: DoorHeldRule, started_at: float) -> DoorHeldState:
    return DoorHeldState()


def _series(
    rule: DoorHeldRule, state: DoorHeldState, metric: str, values: Sequence[float], at: float
) -> Outcome[DoorHeldState]:
    transitions: list[Transition] = []
    if not math.isfinite(at):
        return state, transitions
    for value in values:
        is_open = _OPEN.get(value)
        if is_open is None:
            continue
        # Two steps, so a hold that began and ended between two observations is still reported.
        passed = settle(rule, state, at)
        new = observe(rule, passed, is_open, at)
        transitions += flip(state, passed, at, _door(passed)) + flip(passed, new, at, _door(new))
        state = new
    return state, transitions


def _tick(rule: DoorHeldRule, state: DoorHeldState, now: float) -> Outcome[DoorHeldState]:
    new = settle(rule, state, now) if math.isfinite(now) else state
    return new, flip(state, new, now, _door(new))


KIND = Kind(DoorHeldRule, DoorHeldState, _initial, series=_series, tick=_tick)
