"""Stale rules: silence for ``after`` is an alarm; any reading ends it."""

from __future__ import annotations

import pytest

from rules.spec import StaleRule
from rules.stale import StaleState, availability, seen, tick

SILENT_15M = StaleRule.model_validate(
    {"id": "freezer-silent", "type": "stale", "device": "freezer-1", "after": "15m"}
)


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        pytest.param(StaleState(0.0), 899.0, StaleState(0.0), id="quiet for less than after"),
        pytest.param(StaleState(0.0), 900.0, StaleState(0.0, True), id="quiet for after"),
        pytest.param(StaleState(0.0), 86_400.0, StaleState(0.0, True), id="quiet for a day"),
        pytest.param(StaleState(0.0, True), 1000.0, StaleState(0.0, True), id="still quiet"),
        pytest.param(StaleState(1000.0, True), 500.0, StaleState(1000.0), id="clock went back"),
    ],
)
def test_a_tick_raises_after_the_silence(
    state: StaleState, now: float, expected: StaleState
) -> None:
    assert tick(SILENT_15M, state, now) == expected


@pytest.mark.parametrize(
    ("state", "now"),
    [(StaleState(0.0), 100.0), (StaleState(0.0, active=True), 1000.0)],
    ids=["normal", "active"],
)
def test_an_unchanged_state_is_returned_as_is(state: StaleState, now: float) -> None:
    # The writer saves only the states that are new objects.
    assert tick(SILENT_15M, state, now) is state


@pytest.mark.parametrize(
    ("state", "at", "expected"),
    [
        pytest.param(StaleState(100.0, True), 200.0, StaleState(200.0), id="ends the silence"),
        pytest.param(StaleState(100.0), 200.0, StaleState(200.0), id="moves last seen"),
        pytest.param(StaleState(300.0), 200.0, StaleState(300.0), id="an older reading"),
        pytest.param(StaleState(300.0, True), 200.0, StaleState(300.0), id="late but alive"),
    ],
)
def test_a_reading_is_seen(state: StaleState, at: float, expected: StaleState) -> None:
    assert seen(state, at) == expected


def test_silence_is_measured_from_the_last_reading() -> None:
    state = seen(StaleState(0.0), 600.0)
    assert (tick(SILENT_15M, state, 1499.0).active, tick(SILENT_15M, state, 1500.0).active) == (
        False,
        True,
    )


@pytest.mark.parametrize(
    ("online", "now", "expected"),
    [
        (False, 1_000.0, StaleState(1_000.0, active=True, offline=True)),
        (True, 1_000.0, StaleState(1_000.0, active=False, offline=False)),
        (True, 1_000.0 + 900.0, StaleState(1_000.0, active=True, offline=False)),
    ],
)
def test_availability_speaks_before_the_silence(
    online: bool, now: float, expected: StaleState
) -> None:
    assert availability(SILENT_15M, StaleState(1_000.0), online, now) == expected


def test_an_offline_device_stays_stale_through_ticks_until_it_reports() -> None:
    offline = availability(SILENT_15M, StaleState(1_000.0), False, 1_010.0)
    assert tick(SILENT_15M, offline, 1_020.0).active
    assert seen(offline, 1_030.0) == StaleState(1_030.0)
