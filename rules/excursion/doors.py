"""The doors of a cold room or fridge: their contacts' openings and closings, kept with the
excursion they happen in (coldchain.md: "the door and power events around it").

A contact reading is an event only when it changes what is known of the door: a repeated value is
the same state reported again, and a first reading of closed says nothing happened. Events are
not debounced (the ``door_held`` rule is the one to judge a door ajar): a record shows what the
contact said. A door already open when an excursion begins is kept with its opening, the likely
cause, though it came first.
"""

from __future__ import annotations

from dataclasses import replace

from rules.excursion.spec import ExcursionRule
from rules.excursion.state import DoorEvent, Excursion, ExcursionState

__all__ = ["MAX_DOOR_EVENTS", "already_open", "door_moved"]

# A door opened every few minutes through a day-long excursion still fits; past this the record
# counts the rest instead of growing without bound (it travels in the rule state and to the hub).
MAX_DOOR_EVENTS = 200


def door_moved(state: ExcursionState, door: str, value: float, at: float) -> ExcursionState:
    """A contact reading of ``door`` (1 open, 0 closed) received at ``at``."""
    opened = value >= 0.5
    if opened == any(name == door for name, _ in state.open_doors):
        return state
    if opened:
        open_doors = (*state.open_doors, (door, at))
    else:
        open_doors = tuple(entry for entry in state.open_doors if entry[0] != door)
    current = state.current
    if current is not None:
        current = _with_event(current, DoorEvent(door, at, opened))
    return replace(state, open_doors=open_doors, current=current)


def already_open(rule: ExcursionRule, state: ExcursionState) -> tuple[DoorEvent, ...]:
    """The openings of the rule's doors that are open now, for an excursion beginning."""
    return tuple(DoorEvent(door, at, True) for door, at in state.open_doors if door in rule.doors)


def _with_event(excursion: Excursion, event: DoorEvent) -> Excursion:
    if len(excursion.doors) >= MAX_DOOR_EVENTS:
        return excursion._replace(doors_dropped=excursion.doors_dropped + 1)
    return excursion._replace(doors=(*excursion.doors, event))
