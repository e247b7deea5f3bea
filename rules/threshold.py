"""Threshold rule: above/below a limit, with an on-delay, an off-delay and a deadband (ISA-18.2
condition tuning).

Pure: the state is a value, time is passed in. An active condition clears once the value has
stayed recovered (inside the limits by the deadband) for the off-delay; any value that is not
recovered, a breach or one inside the deadband, starts that wait again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rules.base import Kind, Outcome, Transition, flip
from rules.spec import ThresholdRule


@dataclass(frozen=True, slots=True)
class ThresholdState:
    active: bool = False
    pending_since: float | None = None
    last_value: float | None = None
    # When the value recovered while active (the off-delay runs from here). A default, so states
    # saved before off-delays existed still load.
    clearing_since: float | None = None


def breached(rule: ThresholdRule, value: float) -> bool:
    return (rule.above is not None and value > rule.above) or (
        rule.below is not None and value < rule.below
    )


def recovered(rule: ThresholdRule, value: float) -> bool:
    """Back inside the limits by at least the deadband: only then does an active alarm clear."""
    if rule.above is not None and value > rule.above - rule.band(rule.above):
        return False
    return not (rule.below is not None and value < rule.below + rule.band(rule.below))


def evaluate(rule: ThresholdRule, state: ThresholdState, value: float, at: float) -> ThresholdState:
    if state.active:
        if not recovered(rule, value):
            return replace(state, last_value=value, clearing_since=None)
        since = state.clearing_since if state.clearing_since is not None else at
        if at - since >= rule.off_delay.total_seconds():
            return ThresholdState(active=False, last_value=value)
        return replace(state, last_value=value, clearing_since=since)
    if not breached(rule, value):
        return ThresholdState(last_value=value)
    since = state.pending_since if state.pending_since is not None else at
    active = at - since >= rule.on_delay.total_seconds()
    return ThresholdState(active=active, pending_since=since, last_value=value)


def evaluate_series(
    rule: ThresholdRule, state: ThresholdState, values: Sequence[float], at: float
) -> tuple[ThresholdState, list[tuple[ThresholdState, float]]]:
    """``evaluate`` over values received together at ``at``, in order: the final state, and each
    state whose ``active`` differs from the one before, with the value that made it.

    Values that change nothing but ``last_value`` (normal ones while normal, unrecovered ones
    while active, recovered ones while the off-delay runs) are skipped by a plain comparison: a
    batch of a hundred normal values costs a hundred comparisons, not a hundred evaluations.
    """
    changes: list[tuple[ThresholdState, float]] = []
    i, n = 0, len(values)
    while i < n:
        j = _next_change(rule, state, values, i, at)
        if j is None:
            return _carry(state, values[-1]), changes
        new = evaluate(rule, state if j == i else _carry(state, values[j - 1]), values[j], at)
        if new.active != state.active:
            changes.append((new, values[j]))
        state, i = new, j + 1
    return state, changes


def _next_change(
    rule: ThresholdRule, state: ThresholdState, values: Sequence[float], start: int, at: float
) -> int | None:
    """The first index from ``start`` whose value does more than become ``last_value``."""
    above = math.inf if rule.above is None else rule.above
    below = -math.inf if rule.below is None else rule.below
    indices = range(start, len(values))
    if not state.active:  # the first breach
        return next((k for k in indices if not below <= values[k] <= above), None)
    high = above - rule.band(above) if rule.above is not None else math.inf
    low = below + rule.band(below) if rule.below is not None else -math.inf
    if state.clearing_since is None:  # the first value that recovers
        return next((k for k in indices if low <= values[k] <= high), None)
    if at - state.clearing_since >= rule.off_delay.total_seconds():
        return start  # the off-delay is over: a recovered value clears, any other resets it
    return next((k for k in indices if not low <= values[k] <= high), None)  # ends the recovery


def _carry(state: ThresholdState, value: float) -> ThresholdState:
    """The state after a value that changes nothing: a normal value also ends a pending breach."""
    return replace(state, last_value=value) if state.active else ThresholdState(last_value=value)


def tick(rule: ThresholdRule, state: ThresholdState, now: float) -> ThresholdState:
    """Let the on- and off-delays elapse between readings: a breach that persists raises on time,
    and a recovery that persists clears on time."""
    if state.active:
        since = state.clearing_since
        if since is not None and now - since >= rule.off_delay.total_seconds():
            return ThresholdState(last_value=state.last_value)
        return state
    if state.pending_since is None or state.last_value is None:
        return state
    if now - state.pending_since >= rule.on_delay.total_seconds():
        return replace(state, active=True)
    return state


def _initial(rule: ThresholdRule, started_at: float) -> ThresholdState:
    return ThresholdState()


def _series(
    rule: ThresholdRule, state: ThresholdState, metric: str, values: Sequence[float], at: float
) -> Outcome[ThresholdState]:
    final, changes = evaluate_series(rule, state, values, at)
    return final, [Transition(new.active, at, value) for new, value in changes]


def _tick(rule: ThresholdRule, state: ThresholdState, now: float) -> Outcome[ThresholdState]:
    new = tick(rule, state, now)
    return new, flip(state, new, now, state.last_value)


KIND = Kind(ThresholdRule, ThresholdState, _initial, series=_series, tick=_tick)
