"""Stale rule: no reading from a device (or one of its metrics) for ``after`` — a missing probe."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rules.base import Kind, Outcome, flip
from rules.spec import StaleRule


@dataclass(frozen=True, slots=True)
class StaleState:
    last_seen: float
    active: bool = False
    # The device (or its gateway) said it is offline: Tasmota LWT, Zigbee2MQTT availability,
    # Shelly online, a Modbus meter that stopped answering. No need to wait out ``after``.
    offline: bool = False


def seen(state: StaleState, at: float) -> StaleState:
    if state.last_seen >= at and not state.active and not state.offline:
        return state  # the common case in a batch: nothing new to remember
    return StaleState(last_seen=max(state.last_seen, at), active=False)


def availability(rule: StaleRule, state: StaleState, online: bool, now: float) -> StaleState:
    offline = not online
    return StaleState(state.last_seen, offline or _silent(rule, state, now), offline)


def tick(rule: StaleRule, state: StaleState, now: float) -> StaleState:
    active = state.offline or _silent(rule, state, now)
    return state if active == state.active else StaleState(state.last_seen, active, state.offline)


def _silent(rule: StaleRule, state: StaleState, now: float) -> bool:
    return now - state.last_seen >= rule.after.total_seconds()


def _initial(rule: StaleRule, started_at: float) -> StaleState:
    # Silence is counted from the start: a probe that never reports is missing too.
    return StaleState(last_seen=started_at)


def _series(
    rule: StaleRule, state: StaleState, metric: str, values: Sequence[float], at: float
) -> Outcome[StaleState]:
    new = seen(state, at)
    return new, flip(state, new, at, values[-1])


def _tick(rule: StaleRule, state: StaleState, now: float) -> Outcome[StaleState]:
    new = tick(rule, state, now)
    return new, flip(state, new, now, None)


def _availability(
    rule: StaleRule, state: StaleState, online: bool, at: float
) -> Outcome[StaleState]:
    new = availability(rule, state, online, at)
    return new, flip(state, new, at, None)


KIND = Kind(StaleRule, StaleState, _initial, series=_series, tick=_tick, availability=_availability)
