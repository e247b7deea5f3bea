"""The excursion rule type as the engine runs it: its ``Kind``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rules.alarm import NotClosable
from rules.base import Kind, Outcome, Transition, flip
from rules.excursion.doors import door_moved
from rules.excursion.exposure import fit, observe, reset, rewound, settle
from rules.excursion.record import take
from rules.excursion.spec import DOOR_METRIC, ExcursionRule
from rules.excursion.state import DoorEvent, Excursion, ExcursionState, Span, ongoing

__all__ = ["KIND"]

# Instants an agent clock can show (1970 to beyond the year 5000): sums of them stay finite.
_EARLIEST, _LATEST = 0.0, 1e11


def _plausible(at: float) -> bool:
    return _EARLIEST <= at <= _LATEST  # False for NaN too


def _initial(rule: ExcursionRule, started_at: float) -> ExcursionState:
    return fit(rule, ExcursionState())


def _device_series(
    rule: ExcursionRule,
    state: ExcursionState,
    device: str,
    metric: str,
    values: Sequence[float],
    at: float,
) -> Outcome[ExcursionState]:
    if device == rule.device and metric == rule.metric:
        return _series(rule, state, values, at)
    if metric == DOOR_METRIC and device in rule.doors:
        return _doors(rule, state, device, values, at)
    return state, []


def _series(
    rule: ExcursionRule, state: ExcursionState, values: Sequence[float], at: float
) -> Outcome[ExcursionState]:
    transitions: list[Transition] = []
    if not _plausible(at):
        return state, transitions
    state = fit(rule, state)
    for value in values:
        if not math.isfinite(value):
            continue  # a probe's fault code, no word about the temperature
        # Two steps, so a trigger that came to hold before this reading raises even if the
        # reading brings the value back.
        passed = settle(rule, rewound(rule, state, at), at)
        new = observe(rule, passed, value, at)
        transitions += flip(state, passed, at, state.value) + flip(passed, new, at, value)
        state = new
    return state, transitions


def _doors(
    rule: ExcursionRule, state: ExcursionState, door: str, values: Sequence[float], at: float
) -> Outcome[ExcursionState]:
    if not _plausible(at):
        return state, []
    # Time passes to the event first: an excursion whose readings stopped ends before it.
    passed = settle(rule, rewound(rule, fit(rule, state), at), at)
    new = passed
    for value in values:
        if math.isfinite(value):
            new = door_moved(new, door, value, at)
    return new, flip(state, passed, at, state.value)


def _tick(rule: ExcursionRule, state: ExcursionState, now: float) -> Outcome[ExcursionState]:
    if not _plausible(now):
        return state, []
    new = settle(rule, state, now)
    return new, flip(state, new, now, state.value)


def _load(data: dict[str, Any]) -> ExcursionState:
    # JSON gives lists back for the tuples and the records; states saved before doors have none.
    current = data.get("current")
    return ExcursionState(
        active=data["active"],
        at=data.get("at"),
        value=data.get("value"),
        since=tuple(data.get("since", ())),
        spans=tuple(tuple(Span(*s) for s in spans) for spans in data.get("spans", ())),
        current=None if current is None else _excursion(current),
        done=tuple(_excursion(e) for e in data.get("done", ())),
        dropped=data.get("dropped", 0),
        open_doors=tuple((door, at) for door, at in data.get("open_doors", ())),
    )


def _excursion(fields: list[Any]) -> Excursion:
    excursion = Excursion(*fields)
    return excursion._replace(doors=tuple(DoorEvent(*d) for d in excursion.doors))


def _dispose(rule: ExcursionRule, state: ExcursionState, at: float) -> ExcursionState:
    """The stock was dealt with (coldchain.md: moved, released or destroyed): the exposure so far
    is forgotten, so the next trigger raises a new alarm. Not while the temperature is still out
    of range: then there is nothing to close yet."""
    if ongoing(fit(rule, state)) is not None:
        raise NotClosable("the temperature is still out of range: close it once it is back")
    return reset(rule, state, at)


KIND = Kind(
    ExcursionRule,
    ExcursionState,
    _initial,
    device_series=_device_series,
    tick=_tick,
    load=_load,
    records=take,
    dispose=_dispose,
)
