"""Rate rules: rising or falling faster than a limit per minute, on the agent's clock."""

from __future__ import annotations

import json
from dataclasses import asdict
from itertools import accumulate
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.base import Transition
from rules.rate import KIND, RateRule, RateState, evaluate

Step = tuple[float, float]  # (seconds on the agent's clock, value)


def rule(**fields: Any) -> RateRule:
    base = {"id": "r", "type": "rate", "device": "freezer-1", "metric": "temperature"}
    return RateRule.model_validate(base | fields)


def fold(limits: RateRule, steps: list[Step]) -> list[RateState]:
    states = accumulate(
        steps, lambda state, step: evaluate(limits, state, step[1], step[0]), initial=RateState()
    )
    return list(states)[1:]


RISE = {"rise_per_min": 0.5}  # a freezer warming: door open, compressor failing
FALL = {"fall_per_min": 1}
BOTH = RISE | FALL

SEQUENCES = [
    # limits
    pytest.param(RISE, [(0, -18)], [0], id="the first reading is only a base"),
    pytest.param(RISE, [(0, -18), (60, -17)], [0, 1], id="rising faster"),
    pytest.param(RISE, [(0, -18), (60, -17.5)], [0, 0], id="rising at the limit is not faster"),
    pytest.param(RISE, [(0, -18), (120, -17)], [0, 0], id="per minute, not per reading"),
    pytest.param(RISE, [(0, -18), (60, -30)], [0, 0], id="a fall is not watched"),
    pytest.param(FALL, [(0, 5), (60, 3)], [0, 1], id="falling faster"),
    pytest.param(FALL, [(0, 5), (60, 4)], [0, 0], id="falling at the limit is not faster"),
    pytest.param(FALL, [(0, 5), (60, 9)], [0, 0], id="a rise is not watched"),
    pytest.param(BOTH, [(0, 0), (60, 1), (120, -1)], [0, 1, 1], id="from rising to falling"),
    pytest.param(BOTH, [(0, 0), (60, 0.25), (120, -0.5)], [0, 0, 0], id="within both"),
    # the interval
    pytest.param(RISE, [(0, -18), (5, -17)], [0, 0], id="jitter seconds apart"),
    pytest.param(
        RISE, [(0, -18), (5, -17), (60, -17.9)], [0, 0, 0], id="the base stays through jitter"
    ),
    pytest.param(
        RISE, [(0, -18), (30, -17.9), (60, -17.4)], [0, 0, 1], id="measured once over apart"
    ),
    pytest.param(RISE, [(0, -18), (60, -17), (90, -10)], [0, 1, 1], id="no new rate within over"),
    pytest.param(
        RISE | {"over": "5m"}, [(0, -18), (60, -17), (300, -16)], [0, 0, 0], id="over 5m, slow"
    ),
    pytest.param(
        RISE | {"over": "5m"}, [(0, -18), (60, -17), (300, -15)], [0, 0, 1], id="over 5m, fast"
    ),
    pytest.param(RISE, [(0, -18), (0, -10)], [0, 0], id="at the same time as the base"),
    pytest.param(RISE | {"over": 0}, [(0, -18), (0, -10), (1, -17.99)], [0, 0, 1], id="over 0"),
    pytest.param(
        RISE, [(600, -18), (0, -17), (60, -16)], [0, 0, 1], id="clock went back: a new base"
    ),
    pytest.param(RISE, [(0, -18), (3600, 20)], [0, 1], id="a long gap is one rate"),
    # deadband
    pytest.param(
        RISE | {"deadband": 0.25},
        [(0, -18), (60, -17), (120, -16.625), (180, -16.375)],
        [0, 1, 1, 0],
        id="clears at the limit minus the deadband",
    ),
    pytest.param(
        RISE,
        [(0, 0), (60, 1), (120, 1.495), (180, 1.975)],
        [0, 1, 1, 0],
        id="default deadband 2% (0.5 - 0.01)",
    ),
    pytest.param(
        FALL | {"deadband": 0.5},
        [(0, 5), (60, 3), (120, 2.25), (180, 1.75)],
        [0, 1, 1, 0],
        id="a fall clears at the limit minus the deadband",
    ),
    pytest.param(
        RISE | {"deadband": 0.5},
        [(0, -18), (60, -17), (120, -17)],
        [0, 1, 0],
        id="a deadband as wide as the limit clears when steady",
    ),
    pytest.param(
        RISE | {"deadband": 0.25},
        [(0, -18), (60, -17.375)],
        [0, 1],
        id="the deadband does not delay raising",
    ),
    # bad input
    pytest.param(RISE, [(0, -18), (60, float("nan")), (60, -17)], [0, 0, 1], id="NaN is no base"),
    pytest.param(
        RISE, [(0, -18), (60, float("inf")), (120, -16)], [0, 0, 1], id="infinity is no base"
    ),
    pytest.param(RISE, [(0, -1e308), (60, 1e308)], [0, 1], id="a rate beyond floats"),
]


@pytest.mark.parametrize(("limits", "steps", "expected"), SEQUENCES)
def test_active_after_each_reading(
    limits: dict[str, Any], steps: list[Step], expected: list[int]
) -> None:
    assert [int(s.active) for s in fold(rule(**limits), steps)] == expected


@pytest.mark.parametrize(
    ("state", "value", "at"),
    [
        pytest.param(RateState(False, 0.0, -18.0), -17.0, 30.0, id="within over"),
        pytest.param(RateState(True, 0.0, -18.0), -30.0, 0.0, id="at the base's time"),
        pytest.param(RateState(False, 0.0, -18.0), float("nan"), 60.0, id="NaN"),
    ],
)
def test_an_unchanged_state_is_returned_as_is(state: RateState, value: float, at: float) -> None:
    # The writer saves only the states that are new objects.
    assert evaluate(rule(**RISE), state, value, at) is state


def series(limits: RateRule, steps: list[tuple[float, list[float]]]) -> list[Transition]:
    state, found = RateState(), []
    for at, values in steps:
        state, new = KIND.series(limits, state, "temperature", values, at)  # type: ignore[misc]
        found += new
    return found


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [(0, [-18]), (60, [-17]), (120, [-17])],
            [Transition(True, 60, -17), Transition(False, 120, -17)],
            id="raised and cleared with the reading's value",
        ),
        pytest.param(
            [(0, [-18]), (60, [-18, -10, -17.9])],
            [],
            id="a batch counts as its last value",
        ),
        pytest.param(
            [(0, [-18]), (60, [-30, -17])],
            [Transition(True, 60, -17)],
            id="a batch's last value against the base",
        ),
        pytest.param(
            [(0, [-10, -18]), (60, [-17.6])],
            [],
            id="a batch's last value is the base",
        ),
        pytest.param([(0, [-18]), (60, [])], [], id="an empty batch"),
    ],
)
def test_transitions_on_the_agent_clock(
    steps: list[tuple[float, list[float]]], expected: list[Transition]
) -> None:
    assert series(rule(**RISE), steps) == expected


def test_no_tick_is_needed() -> None:
    # Without readings there is no rate; silence is the stale rule's to see.
    assert (KIND.tick, KIND.availability, KIND.access) == (None, None, None)


def test_a_state_reads_back_from_json() -> None:
    state = fold(rule(**RISE), [(0, -18), (60, -17)])[-1]
    assert RateState(**json.loads(json.dumps(asdict(state)))) == state


@pytest.mark.parametrize(
    ("limits", "limit", "band"),
    [
        (RISE, 0.5, 0.01),
        (FALL, 1.0, 0.02),
        (RISE | {"deadband": 0.1}, 0.5, 0.1),
        (RISE | {"deadband": 0}, 0.5, 0.0),
    ],
)
def test_the_deadband(limits: dict[str, Any], limit: float, band: float) -> None:
    assert rule(**limits).band(limit) == pytest.approx(band)


@pytest.mark.parametrize(
    ("limits", "text"),
    [
        (RISE, "freezer-1 temperature rising faster than 0.5/min"),
        (FALL, "freezer-1 temperature falling faster than 1/min"),
        (BOTH, "freezer-1 temperature rising faster than 0.5/min or falling faster than 1/min"),
    ],
)
def test_the_default_message(limits: dict[str, Any], text: str) -> None:
    assert rule(**limits).describe() == text


GAPS = [1.0, 5.0, 30.0, 59.0, 60.0, 61.0, 300.0, 3600.0]


@settings(max_examples=300, deadline=None)
@given(
    per_min=st.sampled_from([-3.0, -0.45, 0.0, 0.2, 0.45, 0.55, 1.0, 3.0]),
    start=st.floats(-50, 50),
    gaps=st.lists(st.sampled_from(GAPS), max_size=8),
    last=st.sampled_from([g for g in GAPS if g >= 60]),
)
def test_a_steady_ramp_is_judged_by_its_slope_however_it_is_sampled(
    per_min: float, start: float, gaps: list[float], last: float
) -> None:
    times = list(accumulate([*gaps, last], initial=1_700_000_000.0))
    steps = [(t, start + per_min * (t - times[0]) / 60) for t in times]
    assert fold(rule(**RISE), steps)[-1].active is (per_min > 0.5)


FINITE = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    limits=st.sampled_from([RISE, FALL, BOTH, RISE | {"over": 0, "deadband": 0.5}]),
    steps=st.lists(st.tuples(FINITE, st.floats()), max_size=10),
)
def test_any_input_leaves_a_state_json_can_keep(limits: dict[str, Any], steps: list[Step]) -> None:
    state = [RateState(), *fold(rule(**limits), steps)][-1]
    assert RateState(**json.loads(json.dumps(asdict(state), allow_nan=False))) == state


@settings(max_examples=300, deadline=None)
@given(
    size=st.sampled_from([0.25, 0.5, 1.0, 2.0]),
    steps=st.lists(st.tuples(st.sampled_from(GAPS), st.floats(-100, 100)), max_size=10),
)
def test_a_fall_is_a_rise_mirrored(size: float, steps: list[Step]) -> None:
    times = list(accumulate([gap for gap, _ in steps]))
    rising = fold(rule(rise_per_min=size), list(zip(times, [v for _, v in steps], strict=True)))
    falling = fold(rule(fall_per_min=size), list(zip(times, [-v for _, v in steps], strict=True)))
    assert [s.active for s in rising] == [s.active for s in falling]
