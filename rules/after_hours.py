"""After-hours access: access granted at a reader outside its door's opening hours (evenings,
weekends, holidays; access.md). A valid card at the wrong time is still an entry to look at.

The schedule carries its own time zone (``rules.schedule``), so the rule is complete as written and
its evaluation is a pure function of the event. ``direction: in`` watches entries only; a swipe
whose reader does not say its direction still counts, as missing an entry costs more than a look
at an exit.

The alarm is an event: it becomes active and inactive at once, and stays open until acknowledged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from collector.models import AccessEvent, Direction
from rules.base import Kind, Outcome, RuleBase, momentary
from rules.schedule import Schedule

__all__ = ["KIND", "AfterHoursAccessRule", "AfterHoursState", "after_hours"]


class AfterHoursAccessRule(RuleBase):
    """``device`` is the access reader; ``schedule`` the hours of the door it opens."""

    type: Literal["after_hours_access"]
    metric: None = None
    schedule: Schedule
    direction: Direction | None = None  # None: swipes in either direction

    def reads(self) -> list[tuple[str, str | None]]:
        return []  # access events only: readers() names the device, and config checks it

    def readers(self) -> list[str]:
        return [self.device]

    def describe(self) -> str:
        what = {"in": "entry", "out": "exit"}.get(self.direction or "", "access")
        return f"after-hours {what} at {self.device}"


@dataclass(frozen=True, slots=True)
class AfterHoursState:
    active: bool = False  # an event alarm: never active between evaluations


def after_hours(rule: AfterHoursAccessRule, event: AccessEvent) -> bool:
    """The event is access granted, in the rule's direction, while the door is closed."""
    if event.result != "granted" or not math.isfinite(event.received_at):
        return False
    if rule.direction is not None and event.direction not in (rule.direction, None):
        return False
    try:
        return not rule.schedule.is_open(event.received_at)
    except (OverflowError, ValueError, OSError):  # an instant no calendar holds
        return False


def _initial(rule: AfterHoursAccessRule, started_at: float) -> AfterHoursState:
    return AfterHoursState()


def _access(
    rule: AfterHoursAccessRule, state: AfterHoursState, event: AccessEvent
) -> Outcome[AfterHoursState]:
    at = event.received_at
    return state, momentary(at) if after_hours(rule, event) else []


KIND = Kind(AfterHoursAccessRule, AfterHoursState, _initial, access=_access)
