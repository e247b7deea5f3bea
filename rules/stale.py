"""Stale rule: no reading from a device (or one of its metrics) for ``after`` — a missing probe."""

from __future__ import annotations

from dataclasses import dataclass

from rules.spec import StaleRule


@dataclass(frozen=True, slots=True)
class StaleState:
    last_seen: float
    active: bool = False


def seen(state: StaleState, at: float) -> StaleState:
    return StaleState(last_seen=max(state.last_seen, at), active=False)


def tick(rule: StaleRule, state: StaleState, now: float) -> StaleState:
    silent = now - state.last_seen >= rule.after.total_seconds()
    return state if silent == state.active else StaleState(state.last_seen, silent)
