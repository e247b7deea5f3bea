"""Threshold rule: above/below a limit, with an on-delay and a deadband (ISA-18.2 condition tuning).

Pure: the state is a value, time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rules.spec import ThresholdRule


@dataclass(frozen=True, slots=True)
class ThresholdState:
    active: bool = False
    pending_since: float | None = None
    last_value: float | None = None


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
        if recovered(rule, value):
            return ThresholdState(active=False, last_value=value)
        return replace(state, last_value=value)
    if not breached(rule, value):
        return ThresholdState(last_value=value)
    since = state.pending_since if state.pending_since is not None else at
    active = at - since >= rule.on_delay.total_seconds()
    return ThresholdState(active=active, pending_since=since, last_value=value)


def tick(rule: ThresholdRule, state: ThresholdState, now: float) -> ThresholdState:
    """Let the on-delay elapse between readings: a breach that persists raises on time."""
    if state.active or state.pending_since is None or state.last_value is None:
        return state
    if now - state.pending_since >= rule.on_delay.total_seconds():
        return replace(state, active=True)
    return state
