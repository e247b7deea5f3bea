"""Threshold rules: limits, on-delay, off-delay and deadband, folded over sequences of readings."""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import accumulate
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.base import Outcome, Transition
from rules.kinds import dump_state, load_state
from rules.spec import ThresholdRule
from rules.threshold import KIND, ThresholdState, evaluate, evaluate_series, tick

Step = tuple[float, float]  # (seconds, value)


def rule(**fields: Any) -> ThresholdRule:
    base = {"id": "r", "type": "threshold", "device": "freezer-1", "metric": "temperature"}
    return ThresholdRule.model_validate(base | fields)


def fold(limits: ThresholdRule, steps: list[Step]) -> list[ThresholdState]:
    states = accumulate(
        steps,
        lambda state, step: evaluate(limits, state, step[1], step[0]),
        initial=ThresholdState(),
    )
    return list(states)[1:]


FREEZER = {"above": -15}
FRIDGE = {"above": 8, "below": 2}

SEQUENCES = [
    # limits
    pytest.param(FREEZER, [(0, -18), (60, -14.9), (120, -18)], [0, 1, 0], id="above"),
    pytest.param(FREEZER, [(0, -15)], [0], id="at the upper limit is not above"),
    pytest.param({"below": 2}, [(0, 5), (60, 1.9), (120, 5)], [0, 1, 0], id="below"),
    pytest.param({"below": 2}, [(0, 2)], [0], id="at the lower limit is not below"),
    pytest.param(
        FRIDGE, [(0, 5), (60, 9), (120, 5), (180, 1), (240, 5)], [0, 1, 0, 1, 0], id="both"
    ),
    pytest.param(FRIDGE, [(0, 9), (60, 1), (120, 5)], [1, 1, 0], id="from above to below stays"),
    # on-delay
    pytest.param(
        FREEZER | {"for": "5m"},
        [(0, -14), (120, -14), (299, -14), (300, -14)],
        [0, 0, 0, 1],
        id="on-delay met",
    ),
    pytest.param(
        FREEZER | {"for": "5m"},
        [(0, -14), (200, -14), (240, -18), (400, -14)],
        [0, 0, 0, 0],
        id="on-delay not met",
    ),
    pytest.param(
        FREEZER | {"for": "5m"},
        [(0, -14), (200, -18), (300, -14), (500, -14), (600, -14)],
        [0, 0, 0, 0, 1],
        id="on-delay reset by a normal value",
    ),
    pytest.param(
        FREEZER | {"for": "5m"},
        [(0, -14), (200, -15.1), (300, -14)],
        [0, 0, 0],
        id="on-delay reset by a value inside the deadband",
    ),
    pytest.param(
        FREEZER | {"for": "5m"},
        [(0, -14), (300, -14), (360, -18), (420, -14), (719, -14), (720, -14)],
        [0, 1, 0, 0, 0, 1],
        id="on-delay starts again after a clear",
    ),
    pytest.param(
        FREEZER | {"for": "5m"},
        [(0, -14), (300, -14), (310, -14)],
        [0, 1, 1],
        id="active stays without a new delay",
    ),
    pytest.param(
        FRIDGE | {"for": "5m"},
        [(0, 9), (120, 1), (300, 1)],
        [0, 0, 1],
        id="on-delay spans both limits",
    ),
    pytest.param(
        FREEZER | {"for": "5m"},
        [(300, -14), (100, -14), (600, -14)],
        [0, 0, 1],
        id="an older reading does not move the start",
    ),
    # deadband
    pytest.param(
        FREEZER | {"deadband": 1},
        [(0, -14), (60, -15.5), (120, -15.99), (180, -16)],
        [1, 1, 1, 0],
        id="explicit deadband clears at limit minus band",
    ),
    pytest.param(
        FREEZER | {"deadband": 0},
        [(0, -14), (60, -15)],
        [1, 0],
        id="zero deadband clears at the limit",
    ),
    pytest.param(
        {"above": 8},
        [(0, 8.5), (60, 7.85), (120, 7.83)],
        [1, 1, 0],
        id="default deadband 2% above (8 - 0.16)",
    ),
    pytest.param(
        FREEZER,
        [(0, -14), (60, -15.29), (120, -15.31)],
        [1, 1, 0],
        id="default deadband 2% of |limit| (-15 - 0.3)",
    ),
    pytest.param(
        {"below": 2},
        [(0, 1.9), (60, 2.01), (120, 2.03), (180, 2.05)],
        [1, 1, 1, 0],
        id="default deadband 2% below (2 + 0.04)",
    ),
    pytest.param(
        {"above": 0},
        [(0, 0.1), (60, 0)],
        [1, 0],
        id="default deadband of a zero limit is zero",
    ),
    pytest.param(
        FREEZER | {"deadband": 1},
        [(0, -15.5), (60, -14.9)],
        [0, 1],
        id="deadband does not delay raising",
    ),
    pytest.param(
        FRIDGE | {"deadband": 1},
        [(0, 9), (60, 7.5), (120, 7), (180, 1), (240, 2.5), (300, 3)],
        [1, 1, 0, 1, 1, 0],
        id="deadband on both limits",
    ),
    # off-delay (default deadband of -15: recovered at -15.3 and below)
    pytest.param(
        FREEZER | {"off_for": "5m"},
        [(0, -14), (60, -18), (359, -18), (360, -18)],
        [1, 1, 1, 0],
        id="off-delay met",
    ),
    pytest.param(
        FREEZER | {"off_for": "5m"},
        [(0, -14), (60, -18), (200, -14), (360, -18), (659, -18), (660, -18)],
        [1, 1, 1, 1, 1, 0],
        id="a breach during the off-delay starts it again",
    ),
    pytest.param(
        FREEZER | {"off_for": "5m"},
        [(0, -14), (60, -18), (200, -15.1), (300, -18), (360, -18), (600, -18)],
        [1, 1, 1, 1, 1, 0],
        id="a value inside the deadband starts it again",
    ),
    pytest.param(
        FREEZER | {"off_for": "5m"},
        [(0, -14), (100, -18), (50, -18), (400, -18)],
        [1, 1, 1, 0],
        id="an older reading does not move the off-delay start",
    ),
    pytest.param(
        FREEZER | {"off_for": "5m"},
        [(0, -14), (60, -18), (360, -18), (420, -14)],
        [1, 1, 0, 1],
        id="raises again at once after the off-delay",
    ),
    pytest.param(
        FREEZER | {"off_for": 0},
        [(0, -14), (60, -18)],
        [1, 0],
        id="zero off-delay clears at once",
    ),
    pytest.param(
        FREEZER | {"for": "5m", "off_for": "5m"},
        [(0, -14), (300, -14), (360, -18), (600, -18), (660, -18)],
        [0, 1, 1, 1, 0],
        id="on-delay and off-delay",
    ),
    pytest.param(
        FRIDGE | {"off_for": "5m"},
        [(0, 9), (60, 5), (120, 1), (400, 5), (700, 5)],
        [1, 1, 1, 1, 0],
        id="a breach of the other limit during the off-delay starts it again",
    ),
]


@pytest.mark.parametrize(("limits", "steps", "expected"), SEQUENCES)
def test_active_after_each_reading(
    limits: dict[str, Any], steps: list[Step], expected: list[int]
) -> None:
    assert [int(s.active) for s in fold(rule(**limits), steps)] == expected


TICKS = [
    pytest.param([(0, -14)], 299, False, id="before the on-delay"),
    pytest.param([(0, -14)], 300, True, id="at the on-delay"),
    pytest.param([(0, -14)], 3600, True, id="long after"),
    pytest.param([(0, -14), (200, -14)], 300, True, id="counted from the first breach"),
    pytest.param([(0, -14), (100, -18)], 400, False, id="breach ended"),
    pytest.param([], 3600, False, id="no readings"),
    pytest.param([(0, -18)], 3600, False, id="normal readings"),
    pytest.param([(0, -14), (300, -14)], 301, True, id="already active"),
    pytest.param([(0, -14), (300, -14), (360, -18)], 3600, False, id="a tick does not re-raise"),
]


@pytest.mark.parametrize(("steps", "now", "expected"), TICKS)
def test_a_tick_lets_the_on_delay_elapse(steps: list[Step], now: float, expected: bool) -> None:
    limits = rule(above=-15, **{"for": "5m"})
    states = [ThresholdState(), *fold(limits, steps)]
    assert tick(limits, states[-1], now).active is expected


def test_a_tick_keeps_the_breach_and_its_value() -> None:
    limits = rule(above=-15, **{"for": "5m"})
    pending = evaluate(limits, ThresholdState(), -14.0, 1000.0)
    assert tick(limits, pending, 1300.0) == ThresholdState(
        active=True, pending_since=1000.0, last_value=-14.0
    )


def test_a_tick_does_not_clear() -> None:
    limits = rule(above=-15)
    active = ThresholdState(active=True, last_value=-14.0)
    assert tick(limits, active, 10_000.0) is active


OFF_TICKS = [
    pytest.param([(0, -14), (60, -18)], 359, True, id="before the off-delay"),
    pytest.param([(0, -14), (60, -18)], 360, False, id="at the off-delay"),
    pytest.param([(0, -14), (60, -18)], 3600, False, id="long after"),
    pytest.param([(0, -14), (60, -18), (120, -18)], 360, False, id="counted from the recovery"),
    pytest.param([(0, -14), (60, -18), (120, -14)], 3600, True, id="breach during the delay"),
    pytest.param([(0, -14), (60, -15.1)], 3600, True, id="inside the deadband"),
    pytest.param([(0, -14)], 3600, True, id="never recovered"),
    pytest.param([(0, -14), (60, -18)], 30, True, id="clock went back"),
    pytest.param([(0, -14), (60, -18), (360, -18)], 3600, False, id="already cleared"),
]


@pytest.mark.parametrize(("steps", "now", "expected"), OFF_TICKS)
def test_a_tick_lets_the_off_delay_elapse(steps: list[Step], now: float, expected: bool) -> None:
    limits = rule(above=-15, off_for="5m")
    assert tick(limits, fold(limits, steps)[-1], now).active is expected


def test_a_tick_that_clears_keeps_the_value() -> None:
    limits = rule(above=-15, off_for="5m")
    clearing = fold(limits, [(0, -14), (60, -18)])[-1]
    assert clearing == ThresholdState(True, pending_since=0, last_value=-18, clearing_since=60)
    assert load_state(dump_state(clearing)) == clearing
    assert tick(limits, clearing, 360.0) == ThresholdState(last_value=-18.0)


Event = Callable[[ThresholdRule, ThresholdState], Outcome[ThresholdState]]


def received(at: float, *values: float) -> Event:
    return lambda limits, state: KIND.series(limits, state, "temperature", values, at)  # type: ignore[misc]


def ticked(at: float) -> Event:
    return lambda limits, state: KIND.tick(limits, state, at)  # type: ignore[misc]


def transitions(limits: ThresholdRule, events: list[Event]) -> list[Transition]:
    state, found = ThresholdState(), []
    for event in events:
        state, new = event(limits, state)
        found += new
    return found


@pytest.mark.parametrize(
    ("limits", "events", "expected"),
    [
        pytest.param(
            {"above": -15, "off_for": "5m"},
            [received(0, -14), received(60, -18), ticked(359), ticked(360), ticked(420)],
            [Transition(True, 0, -14), Transition(False, 360, -18)],
            id="cleared by a tick, with the last value",
        ),
        pytest.param(
            {"above": -15, "off_for": "5m"},
            [received(0, -14), received(60, -18), received(300, -16, -14), ticked(600)],
            [Transition(True, 0, -14)],
            id="a breach inside a batch keeps it active",
        ),
        pytest.param(
            {"above": -15, "off_for": "5m"},
            [received(0, -14), received(60, -18), received(400, -19, -14)],
            [Transition(True, 0, -14), Transition(False, 400, -19), Transition(True, 400, -14)],
            id="after the off-delay a batch clears at its first recovered value",
        ),
        pytest.param(
            {"above": -15, "off_for": "5m"},
            [received(0, -14), received(60, -18, -14, -18), ticked(359), received(360, -18)],
            [Transition(True, 0, -14), Transition(False, 360, -18)],
            id="the off-delay runs from the last recovery in a batch",
        ),
        pytest.param(
            {"above": -15, "for": "5m", "off_for": "5m"},
            [received(0, -14), ticked(300), received(360, -18), ticked(660)],
            [Transition(True, 300, -14), Transition(False, 660, -18)],
            id="both delays elapse on ticks",
        ),
    ],
)
def test_transitions_on_the_agent_clock(
    limits: dict[str, Any], events: list[Event], expected: list[Transition]
) -> None:
    assert transitions(rule(**limits), events) == expected


def test_an_active_state_saved_before_off_delays_waits_them_out() -> None:
    # As the previous version persisted it: no clearing_since.
    stored = {"kind": "threshold", "active": True, "pending_since": None, "last_value": -14.0}
    limits = rule(above=-15, off_for="5m")
    clearing = evaluate(limits, load_state(json.dumps(stored)), -18.0, 1000.0)
    assert (clearing.active, tick(limits, clearing, 1300.0)) == (
        True,
        ThresholdState(last_value=-18.0),
    )


@pytest.mark.parametrize(
    ("limits", "limit", "band"),
    [
        ({"above": -15}, -15, 0.3),
        ({"above": 50}, 50, 1.0),
        ({"below": 2}, 2, 0.04),
        ({"above": 0}, 0, 0.0),
        ({"above": -15, "deadband": 1}, -15, 1.0),
        ({"above": -15, "deadband": 0}, -15, 0.0),
    ],
)
def test_the_deadband(limits: dict[str, Any], limit: float, band: float) -> None:
    assert rule(**limits).band(limit) == pytest.approx(band)


def one_at_a_time(
    limits: ThresholdRule, state: ThresholdState, values: list[float], at: float
) -> tuple[ThresholdState, list[tuple[ThresholdState, float]]]:
    changes = []
    for value in values:
        new = evaluate(limits, state, value, at)
        changes += [(new, value)] if new.active != state.active else []
        state = new
    return state, changes


LIMITS = [
    FREEZER,
    FRIDGE,
    {"below": 2},
    {"above": -15, "for": "5m", "deadband": 1},
    {"above": 8, "for": "1m"},
    {"above": -15, "off_for": "5m"},
    {"above": 8, "below": 2, "for": "1m", "off_for": "1m", "deadband": 1},
]
VALUES = [
    *[-30.0, -16.0, -15.5, -15.3, -15.0, -14.5, 1.0, 2.0, 2.04, 3.0, 5.0],
    *[7.0, 7.5, 7.84, 7.9, 8.0, 9.0],
]
STARTS = [
    ThresholdState(),
    ThresholdState(active=True, last_value=10.0),
    ThresholdState(pending_since=0.0, last_value=-14.0),
    ThresholdState(pending_since=250.0, last_value=9.0),
    ThresholdState(active=True, last_value=-16.0, clearing_since=0.0),
    ThresholdState(active=True, pending_since=0.0, last_value=5.0, clearing_since=250.0),
]


@settings(max_examples=400, deadline=None)
@given(
    limits=st.sampled_from(LIMITS),
    start=st.sampled_from(STARTS),
    # The limits and the deadband edges of LIMITS themselves, and values either side.
    values=st.lists(st.sampled_from(VALUES), max_size=12),
    at=st.sampled_from([0.0, 100.0, 300.0, 1_000.0]),
)
def test_a_series_is_what_evaluating_one_value_at_a_time_gives(
    limits: dict[str, Any], start: ThresholdState, values: list[float], at: float
) -> None:
    checked = rule(**limits)
    assert evaluate_series(checked, start, values, at) == one_at_a_time(checked, start, values, at)


TIMES = [0.0, 59.0, 60.0, 100.0, 250.0, 299.0, 300.0, 310.0, 360.0, 600.0, 1_000.0]


@settings(max_examples=400, deadline=None)
@given(
    limits=st.sampled_from(LIMITS),
    steps=st.lists(
        st.tuples(st.sampled_from(TIMES), st.sampled_from(VALUES)), min_size=1, max_size=8
    ),
    now=st.sampled_from(TIMES),
)
def test_a_tick_is_the_last_reading_again(
    limits: dict[str, Any], steps: list[Step], now: float
) -> None:
    # Time passing changes what a delay allows, never what the value means: a tick that raised or
    # cleared where the last value received again would not (or the reverse) is a bug.
    checked = rule(**limits)
    state = fold(checked, steps)[-1]
    assert tick(checked, state, now) == evaluate(checked, state, steps[-1][1], now)
