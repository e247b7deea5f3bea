"""Cold-chain excursions: recorded one by one, raising on WHO single-event and cumulative triggers
(coldchain.md), on a fake agent clock."""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rules import kinds
from rules.alarm import NotClosable
from rules.base import Outcome, Transition
from rules.engine import Engine
from rules.excursion import (
    KIND,
    Excursion,
    ExcursionRule,
    ExcursionState,
    Span,
    completed,
    drained,
    ongoing,
    reset,
    settle,
)

T0 = 1_700_000_000.0
M, H, D = 60.0, 3600.0, 86400.0
NAN, INF = float("nan"), float("inf")
assert KIND.device_series is not None and KIND.tick is not None and KIND.load is not None
DEVICE_SERIES, TICK, LOAD = KIND.device_series, KIND.tick, KIND.load

Step = Callable[[ExcursionRule, ExcursionState], Outcome[ExcursionState]]

FRIDGE = {"low": 2, "high": 8}
FREEZE = {"at_or_below": -0.5, "for": "60m"}  # WHO single event
HEAT = {"above": 8, "total": "10h", "within": "30d"}  # WHO cumulative
FREEZING = FRIDGE | {"triggers": [FREEZE]}
HEATING = FRIDGE | {"triggers": [HEAT], "max_gap": "1d"}
WHO = FRIDGE | {"triggers": [FREEZE, HEAT]}
NO_DELAY = FRIDGE | {"triggers": [{"at_or_below": 0, "for": "0s"}]}
OUT = FRIDGE | {"triggers": [{"for": "30m"}]}
SHORT = FRIDGE | {"triggers": [{"above": 8, "total": "1h", "within": "2h"}], "max_gap": "30m"}


def rule(**fields: Any) -> ExcursionRule:
    base = {"id": "vaccines", "type": "excursion", "device": "fridge-1"}
    return ExcursionRule.model_validate(base | fields)


def reads(at: float, *values: float) -> Step:
    """The probe reads ``values``, received together ``at`` s after T0."""
    return lambda r, state: DEVICE_SERIES(r, state, r.device, "temperature", values, T0 + at)


def tick(at: float) -> Step:
    return lambda r, state: TICK(r, state, T0 + at)


def run_from(
    r: ExcursionRule, state: ExcursionState, steps: list[Step]
) -> tuple[ExcursionState, list[Transition]]:
    """The steps in order on the fake clock: the last state and every transition."""
    seen: list[Transition] = []
    for step in steps:
        state, transitions = step(r, state)
        seen += transitions
    return state, seen


def run(r: ExcursionRule, steps: list[Step]) -> tuple[ExcursionState, list[Transition]]:
    return run_from(r, KIND.initial(r, T0), steps)


def changes(fields: dict[str, Any], steps: list[Step]) -> list[tuple[float, bool]]:
    return [(t.at - T0, t.active) for t in run(rule(**fields), steps)[1]]


def local(excursion: Excursion) -> Excursion:
    """The excursion with its times from T0."""
    return excursion._replace(start=excursion.start - T0, end=excursion.end - T0)


# 4h + 4h warm, then warm again from the third day.
THREE_DAYS = [reads(0, 9), reads(4 * H, 5), reads(D, 9), reads(D + 4 * H, 5), reads(2 * D, 9)]
AN_HOUR_WARM = [reads(0, 9), reads(30 * M, 9), reads(H, 9), reads(90 * M, 5)]

TRANSITIONS = [
    # single event
    pytest.param(
        FREEZING, [reads(0, -1), reads(30 * M, -1), reads(H, -1)], [(H, True)], id="freeze 60 min"
    ),
    pytest.param(FREEZING, [reads(0, -0.5), reads(H, -0.5)], [(H, True)], id="-0.5 is at or below"),
    pytest.param(FREEZING, [reads(0, -0.4), reads(H, -0.4)], [], id="-0.4 is only out of range"),
    pytest.param(FREEZING, [reads(0, -1), reads(59 * M, -1)], [], id="59 min is not 60"),
    pytest.param(
        FREEZING,
        [reads(0, -1), reads(30 * M, 0), reads(40 * M, -1), reads(90 * M, -1), reads(100 * M, -1)],
        [(100 * M, True)],
        id="a warmer reading restarts the continuous time",
    ),
    pytest.param(
        FREEZING, [reads(0, -1), tick(59 * M), tick(H)], [(H, True)], id="ticks raise on time"
    ),
    pytest.param(FREEZING, [reads(0, -1), tick(2 * H)], [(2 * H, True)], id="a late tick raises"),
    pytest.param(
        FREEZING | {"max_gap": "30m"},
        [reads(0, -1), tick(H), reads(2 * H, -1), reads(2.5 * H, -1), tick(3 * H)],
        [(3 * H, True)],
        id="a silent probe stands for max_gap only",
    ),
    pytest.param(
        FREEZING | {"max_gap": "30m"},
        [reads(0, -1), reads(2 * H, -1), reads(2.5 * H, -1), reads(3 * H, -1)],
        [(3 * H, True)],
        id="a gap breaks the continuous time",
    ),
    pytest.param(
        FREEZING,
        [reads(0, -1), reads(H, -1), reads(70 * M, 5)],
        [(H, True), (70 * M, False)],
        id="clears back in range",
    ),
    pytest.param(
        FREEZING,
        [reads(0, -1), reads(H, -1), reads(70 * M, 1), reads(80 * M, 3)],
        [(H, True), (80 * M, False)],
        id="out of range but not freezing keeps it",
    ),
    pytest.param(
        FREEZING,
        [reads(0, -1), reads(H, -1), reads(70 * M, 8)],
        [(H, True), (70 * M, False)],
        id="the range includes its limits",
    ),
    pytest.param(
        FREEZING,
        [reads(0, -1), reads(H, -1, 5)],
        [(H, True), (H, False)],
        id="a batch: the time before it raises, its last value clears",
    ),
    pytest.param(NO_DELAY, [reads(0, 0), reads(10 * M, 5)], [(0, True), (10 * M, False)], id="0s"),
    pytest.param(NO_DELAY, [reads(0, 5, 0, 5)], [(0, True), (0, False)], id="a freeze in a batch"),
    pytest.param(NO_DELAY, [reads(0, 5, 0.1, 5)], [], id="0.1 is not freezing"),
    pytest.param(
        OUT,
        [reads(0, 9), reads(20 * M, 1), reads(30 * M, 1)],
        [(30 * M, True)],
        id="no limit: out of range on either side",
    ),
    pytest.param(
        {"high": -15, "triggers": [{"above": -15, "for": "30m"}]},
        [reads(0, -10), reads(30 * M, -10)],
        [(30 * M, True)],
        id="a freezer: only a high limit",
    ),
    pytest.param(
        FREEZING,
        [reads(0, -1), reads(30 * M, NAN, INF), reads(H, -1)],
        [(H, True)],
        id="NaN and infinity are no word",
    ),
    pytest.param(
        FREEZING,
        [reads(0, -1), reads(NAN, 5), tick(INF), tick(NAN), reads(H, -1)],
        [(H, True)],
        id="no clock is no time",
    ),
    pytest.param(
        FREEZING,
        [reads(2 * H, -1), reads(H, -1), reads(1.5 * H, -1), reads(2 * H, -1)],
        [(2 * H, True)],
        id="the clock went back: continuous from the earlier time",
    ),
    pytest.param(
        FREEZING, [reads(0, -1), reads(H, -1), tick(H - 1)], [(H, True)], id="a tick that raced"
    ),
    # cumulative
    pytest.param(
        HEATING,
        [*THREE_DAYS, tick(2 * D + 2 * H - 1), tick(2 * D + 2 * H)],
        [(2 * D + 2 * H, True)],
        id="10 h in total over three days",
    ),
    pytest.param(
        HEATING,
        [
            *THREE_DAYS,
            reads(2 * D + 3 * H, 5),
            reads(30 * D, 5),
            tick(30 * D + H),
            tick(30 * D + H + 1),
        ],
        [(2 * D + 3 * H, True), (30 * D + H + 1, False)],
        id="holds until the window forgets enough",
    ),
    pytest.param(
        HEATING,
        [reads(0, 9), reads(6 * H, 5), reads(31 * D, 9), tick(31 * D + 5 * H)],
        [],
        id="time older than the window does not count",
    ),
    pytest.param(
        HEATING,
        [reads(0, 9), reads(6 * H, 5), reads(29 * D, 9), tick(29 * D + 4 * H)],
        [(29 * D + 4 * H, True)],
        id="time inside the window counts",
    ),
    pytest.param(
        HEATING,
        [reads(0, 9), reads(8 * H, 5), reads(30 * D + 2 * H, 9), tick(30 * D + 4 * H)],
        [],
        id="a span the window cuts counts only its part inside",
    ),
    pytest.param(
        HEATING,
        [reads(0, 8, 8), reads(12 * H, 8)],
        [],
        id="8.0 is in range",
    ),
    pytest.param(
        SHORT | {"triggers": [{"above": 8, "total": "2h", "within": "1d"}], "max_gap": "1h"},
        [reads(0, 9), reads(3 * H, 9), reads(3.5 * H, 9), reads(4 * H, 9)],
        [(4 * H, True)],
        id="a gap counts max_gap only",
    ),
    pytest.param(
        SHORT,
        [*AN_HOUR_WARM, tick(151 * M)],
        [(H, True)],
        id="a stale value in range does not clear",
    ),
    pytest.param(
        SHORT,
        [*AN_HOUR_WARM, tick(151 * M), reads(160 * M, 5)],
        [(H, True), (160 * M, False)],
        id="a fresh value in range does",
    ),
    pytest.param(
        SHORT,
        [*AN_HOUR_WARM, reads(2 * H, 5), reads(150 * M, 5), tick(150 * M), tick(150 * M + 1)],
        [(H, True), (150 * M + 1, False)],
        id="cleared by a tick once the window slid",
    ),
    pytest.param(
        WHO | {"max_gap": "1d"},
        [reads(0, -1), reads(H, 5), reads(2 * H, 9), reads(12 * H, 9)],
        [(H, True), (H, False), (12 * H, True)],
        id="both WHO triggers",
    ),
]


@pytest.mark.parametrize(("fields", "steps", "expected"), TRANSITIONS)
def test_transitions(
    fields: dict[str, Any], steps: list[Step], expected: list[tuple[float, bool]]
) -> None:
    assert changes(fields, steps) == expected


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [reads(0, -1), reads(H, -1)],
            [Transition(True, T0 + H, -1)],
            id="raised with the reading",
        ),
        pytest.param(
            [reads(0, -1), tick(H)], [Transition(True, T0 + H, -1)], id="raised with the last value"
        ),
        pytest.param(
            [reads(0, -1), reads(H, -1), reads(2 * H, 4)],
            [Transition(True, T0 + H, -1), Transition(False, T0 + 2 * H, 4)],
            id="cleared with the value back in range",
        ),
    ],
)
def test_transition_values(steps: list[Step], expected: list[Transition]) -> None:
    assert run(rule(**FREEZING), steps)[1] == expected


EXCURSIONS = [
    pytest.param(FREEZING, [reads(0, 5), reads(H, 7)], [], [], id="in range"),
    pytest.param(
        FREEZING,
        [reads(0, 9), reads(10 * M, 9.5), reads(30 * M, 7)],
        [Excursion(0, 30 * M, 9, 9.5, "range")],
        [],
        id="from leaving the range to the reading back in it",
    ),
    pytest.param(
        FREEZING,
        [reads(0, 9), reads(10 * M, 1)],
        [],
        [Excursion(0, 10 * M, 1, 9, "")],
        id="going on, across the range",
    ),
    pytest.param(
        FREEZING,
        [reads(0, 9), tick(H)],
        [],
        [Excursion(0, 0, 9, 9, "")],
        id="a reading stands for max_gap",
    ),
    pytest.param(
        FREEZING,
        [reads(0, 9), tick(H + 1), reads(3 * H, 9)],
        [Excursion(0, H, 9, 9, "gap")],
        [Excursion(3 * H, 3 * H, 9, 9, "")],
        id="ended by a gap on a tick",
    ),
    pytest.param(
        FREEZING,
        [reads(0, 9), reads(3 * H, 9), reads(190 * M, 5)],
        [Excursion(0, H, 9, 9, "gap"), Excursion(3 * H, 190 * M, 9, 9, "range")],
        [],
        id="ended by a gap on a reading",
    ),
    pytest.param(
        FREEZING,
        [reads(0, 5, 9, 10, 5)],
        [Excursion(0, 0, 9, 10, "range")],
        [],
        id="inside a batch: 0s long",
    ),
    pytest.param(
        FREEZING,
        [reads(H, 9), reads(0, 9)],
        [Excursion(H, H, 9, 9, "gap")],
        [Excursion(0, 0, 9, 9, "")],
        id="the clock went back",
    ),
    pytest.param(
        FREEZING | {"max_unsaved": 2},
        [reads(0, 9, 5), reads(M, 1, 5), reads(2 * M, 10, 5)],
        [Excursion(M, M, 1, 1, "range"), Excursion(2 * M, 2 * M, 10, 10, "range")],
        [],
        id="at most max_unsaved wait",
    ),
]


@pytest.mark.parametrize(("fields", "steps", "done", "current"), EXCURSIONS)
def test_excursions_are_recorded(
    fields: dict[str, Any], steps: list[Step], done: list[Excursion], current: list[Excursion]
) -> None:
    state, _ = run(rule(**fields), steps)
    going_on = [local(e) for e in [ongoing(state)] if e is not None]
    assert ([local(e) for e in completed(state)], going_on) == (done, current)


def test_dropped_excursions_are_counted() -> None:
    steps = [reads(0, 9, 5), reads(M, 1, 5), reads(2 * M, 10, 5), reads(3 * M, 11, 5)]
    assert run(rule(**FREEZING | {"max_unsaved": 2}), steps)[0].dropped == 2


def test_an_excursion_has_a_duration() -> None:
    assert Excursion(T0, T0 + 90 * M, 8.5, 9.5, "range").duration == 90 * M


STEPS_WITH_THREE = [reads(0, 9, 5), reads(M, 1, 5), reads(2 * M, 10, 5)]


@pytest.mark.parametrize(
    ("count", "left"),
    [(0, [0, M, 2 * M]), (1, [M, 2 * M]), (3, []), (5, []), (-1, [0, M, 2 * M])],
)
def test_the_writer_drains_what_it_persisted(count: int, left: list[float]) -> None:
    state, _ = run(rule(**FREEZING), STEPS_WITH_THREE)
    assert [e.start - T0 for e in completed(drained(state, count))] == left


def test_draining_nothing_keeps_the_state() -> None:
    state, _ = run(rule(**FREEZING), STEPS_WITH_THREE)
    assert drained(state, 0) is state


CUMULATIVE = FRIDGE | {"triggers": [{"above": 8, "total": "1h", "within": "1d"}]}


@pytest.mark.parametrize(
    ("fields", "steps", "spans"),
    [
        pytest.param(
            CUMULATIVE,
            [reads(0, 9), reads(10 * M, 9), reads(20 * M, 9), reads(30 * M, 5)],
            [Span(0, 30 * M, 30 * M)],
            id="a run is one span",
        ),
        pytest.param(
            CUMULATIVE,
            [reads(0, 9), reads(10 * M, 5), reads(20 * M, 9), reads(30 * M, 5)],
            [Span(0, 10 * M, 10 * M), Span(20 * M, 30 * M, 10 * M)],
            id="two runs, two spans",
        ),
        pytest.param(
            CUMULATIVE,
            [reads(0, 9), reads(10 * M, 5), reads(2 * D, 9), reads(2 * D + 10 * M, 5)],
            [Span(2 * D, 2 * D + 10 * M, 10 * M)],
            id="spans out of the window are forgotten",
        ),
        pytest.param(
            CUMULATIVE | {"max_spans": 2},
            [
                reads(0, 9),
                reads(10 * M, 5),
                reads(40 * M, 9),
                reads(45 * M, 5),
                reads(50 * M, 9),
                reads(55 * M, 5),
            ],
            [Span(0, 10 * M, 10 * M), Span(40 * M, 55 * M, 10 * M)],
            id="past max_spans the closest merge, keeping their seconds",
        ),
        pytest.param(
            CUMULATIVE,
            [reads(0, 9, 5), reads(M, 5)],
            [],
            id="0s in a batch is no span",
        ),
        pytest.param(
            CUMULATIVE,
            [reads(0, 9), tick(2 * H)],
            [Span(0, H, H)],
            id="a gap ends a run at max_gap",
        ),
    ],
)
def test_cumulative_spans(fields: dict[str, Any], steps: list[Step], spans: list[Span]) -> None:
    state, _ = run(rule(**fields), steps)
    assert [s._replace(start=s.start - T0, end=s.end - T0) for s in state.spans[0]] == spans


def test_a_merged_span_cut_by_the_window_counts_no_more_than_its_seconds() -> None:
    # 0-10m and 40-50m merge into one span of 20m out within 0-50m. From 1h40m the window cuts it:
    # counted whole, it would make 30m with the new run at 1h50m; it counts what can lie inside.
    fields = FRIDGE | {"triggers": [{"above": 8, "total": "30m", "within": "1h"}], "max_spans": 1}
    steps = [reads(0, 9), reads(10 * M, 5), reads(40 * M, 9), reads(50 * M, 5)]
    steps += [reads(100 * M, 9), tick(110 * M), tick(129 * M), tick(130 * M)]
    assert changes(fields, steps) == [(130 * M, True)]


def test_a_disposition_resets_the_exposure() -> None:
    r = rule(**HEATING)
    state, _ = run(r, [reads(0, 9), reads(10 * H, 5)])
    assert state.active
    state = reset(r, state, T0 + 11 * H)
    state, transitions = run_from(r, state, [tick(11 * H), reads(12 * H, 9), reads(21 * H, 9)])
    assert (state.active, state.spans, transitions) == (False, ((),), [])


def test_after_a_reset_a_new_exposure_raises_again() -> None:
    r = rule(**HEATING)
    state, _ = run(r, [reads(0, 9), reads(10 * H, 9)])
    state = reset(r, state, T0 + 10 * H)
    _, transitions = run_from(r, state, [reads(19 * H, 9), reads(20 * H, 9)])
    assert [(t.at - T0, t.active) for t in transitions] == [(20 * H, True)]


@pytest.mark.parametrize(
    ("fields", "steps", "at"),
    [
        pytest.param(FREEZING, [reads(0, 5)], H, id="in range"),
        pytest.param(FREEZING, [reads(0, 5)], 10 * D, id="in range, long silent"),
        pytest.param(FREEZING, [reads(0, -1)], 30 * M, id="freezing, not for long yet"),
        pytest.param(FREEZING, [reads(0, -1), reads(H, -1)], 70 * M, id="raised and freezing"),
        pytest.param(FREEZING, [reads(0, -1)], -M, id="before the reading"),
        pytest.param(FREEZING, [], H, id="no reading yet"),
        pytest.param(HEATING, [reads(0, 9), reads(10 * H, 5)], 11 * H, id="cumulative holds"),
    ],
)
def test_a_tick_that_changes_nothing_returns_the_state_itself(
    fields: dict[str, Any], steps: list[Step], at: float
) -> None:
    # The writer saves only the states that are new objects, and ticks come every second.
    r = rule(**fields)
    state, _ = run(r, steps)
    new, transitions = TICK(r, state, T0 + at)
    assert (new is state, transitions, settle(r, state, T0 + at) is state) == (True, [], True)


def test_a_state_of_other_triggers_starts_afresh() -> None:
    state, _ = run(rule(**WHO), [reads(0, 9), reads(H, 9)])
    new, transitions = TICK(rule(**FREEZING), state, T0 + H)
    assert (new.since, new.spans, transitions) == ((None,), ((),), [])


INVALID = [
    pytest.param({"triggers": [FREEZE]}, "'low' or 'high'", id="no range"),
    pytest.param({"low": 8, "high": 2, "triggers": [HEAT]}, "lower than", id="low above high"),
    pytest.param(FRIDGE, "triggers", id="no triggers"),
    pytest.param(FRIDGE | {"triggers": []}, "triggers", id="an empty list"),
    pytest.param(FRIDGE | {"triggers": [{"above": 8}]}, "'for'", id="no measure"),
    pytest.param(
        FRIDGE | {"triggers": [{"for": "1h", "total": "1h", "within": "1d"}]}, "'for'", id="both"
    ),
    pytest.param(FRIDGE | {"triggers": [{"total": "1h"}]}, "'within'", id="total alone"),
    pytest.param(FRIDGE | {"triggers": [{"for": "1h", "within": "1d"}]}, "'total'", id="within"),
    pytest.param(
        FRIDGE | {"triggers": [{"total": "2h", "within": "1h"}]}, "at least", id="window too short"
    ),
    pytest.param(FRIDGE | {"triggers": [{"total": 0, "within": "1h"}]}, "0s", id="total 0"),
    pytest.param(
        FRIDGE | {"triggers": [{"above": 9, "below": 1, "for": 0}]}, "at most one", id="two limits"
    ),
    pytest.param(FRIDGE | {"triggers": [{"above": 7, "for": 0}]}, "'high'", id="above in range"),
    pytest.param(
        FRIDGE | {"triggers": [{"at_or_above": 8, "for": 0}]}, "'high'", id="at_or_above the limit"
    ),
    pytest.param(FRIDGE | {"triggers": [{"below": 3, "for": 0}]}, "'low'", id="below in range"),
    pytest.param(
        FRIDGE | {"triggers": [{"at_or_below": 2, "for": 0}]}, "'low'", id="at_or_below the limit"
    ),
    pytest.param(
        {"low": 2, "triggers": [{"above": 8, "for": 0}]}, "'high'", id="above without high"
    ),
    pytest.param(FREEZING | {"max_gap": 0}, "max_gap", id="max_gap 0"),
    pytest.param(FREEZING | {"max_spans": True}, "true or false", id="max_spans yes"),
    pytest.param(FREEZING | {"max_unsaved": 0}, "max_unsaved", id="max_unsaved 0"),
    pytest.param(FRIDGE | {"triggers": [{"above": NAN, "for": 0}]}, "above", id="NaN limit"),
    pytest.param(FREEZING | {"metric": None}, "metric", id="no metric"),
]


@pytest.mark.parametrize(("fields", "message"), INVALID)
def test_invalid_rules_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**fields)


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        (FREEZING, "fridge-1 temperature outside 2 to 8: at or below -0.5 for 1h"),
        (
            WHO,
            "fridge-1 temperature outside 2 to 8: at or below -0.5 for 1h, "
            "or above 8 for 10h in total within 30d",
        ),
        (NO_DELAY, "fridge-1 temperature outside 2 to 8: at or below 0 for 0s"),
        (OUT, "fridge-1 temperature outside 2 to 8: out of range for 30m"),
        (
            {"high": -15, "triggers": [{"at_or_above": -14.5, "for": "15m"}]},
            "fridge-1 temperature above -15: at or above -14.5 for 15m",
        ),
        (
            {"low": 2, "triggers": [{"below": 2, "for": "15m"}]},
            "fridge-1 temperature below 2: below 2 for 15m",
        ),
    ],
)
def test_the_default_message(fields: dict[str, Any], text: str) -> None:
    assert rule(**fields).describe() == text


@pytest.mark.parametrize(
    ("fields", "defaults"),
    [
        (FREEZING, ("high", "temperature", 3600.0)),
        (FREEZING | {"severity": "critical"}, ("critical", "temperature", 3600.0)),
    ],
)
def test_defaults(fields: dict[str, Any], defaults: tuple[str, str, float]) -> None:
    r = rule(**fields)
    assert (r.severity, r.metric, r.max_gap.total_seconds()) == defaults


VACCINE_FRIDGE = """
id: vaccine-fridge-1
type: excursion
device: fridge-1
low: 2
high: 8
triggers:
  - at_or_below: -0.5   # WHO freeze indicator: -0.5 C or colder for 60 min continuous
    for: 60m
  - above: 8            # WHO heat indicator: warmer than 8 C for 10 h in total
    total: 10h
    within: 30d
"""
FREEZE_SENSITIVE = """
id: hep-b-fridge
type: excursion
device: fridge-2
low: 2
high: 8
max_gap: 10m            # a probe logging every 5 min
triggers:
  - at_or_below: 0      # freezing: no on-delay
    for: 0s
  - for: 2h             # out of range either side for 2 h
"""
FOOD_FREEZER = """
id: cold-room-freezer
type: excursion
device: freezer-1
metric: temperature
high: -18
severity: medium
triggers:
  - above: -15          # sustained warmer than -15 C
    for: 30m
"""


@pytest.mark.parametrize("text", [VACCINE_FRIDGE, FREEZE_SENSITIVE, FOOD_FREEZER])
def test_the_documented_examples_validate(text: str) -> None:
    assert ExcursionRule.model_validate(yaml.safe_load(text)).type == "excursion"


def plain(value: object) -> object:
    # As rules.kinds writes states: orjson writes tuples, NamedTuples only through ``default``.
    assert isinstance(value, tuple)
    return list(value)


def through_json(state: ExcursionState) -> ExcursionState:
    return LOAD(orjson.loads(orjson.dumps(state, default=plain)))


def test_a_state_with_everything_reads_back_from_json() -> None:
    r = rule(**WHO | {"max_spans": 2})
    steps = [reads(0, 9, 5), reads(M, 9), reads(2 * M, 5), reads(3 * M, 9), reads(4 * M, -1)]
    state, _ = run(r, [*steps, reads(5 * M, -1), reads(65 * M, -1)])
    assert (state.active, len(state.done), ongoing(state) is not None) == (True, 2, True)
    assert through_json(state) == state


def test_through_the_engine_and_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # As the lead will register it in rules.kinds (a no-op once registered).
    monkeypatch.setitem(kinds.KINDS, "excursion", KIND)
    monkeypatch.setitem(kinds._BY_STATE, ExcursionState, "excursion")
    engine = Engine(rules=[rule(**WHO)], started_at=T0)  # type: ignore[list-item]
    raised = engine.on_series("fridge-1", "temperature", [-1.0], T0) + engine.on_tick(T0 + H)
    cleared = engine.on_series("fridge-1", "temperature", [5.0], T0 + 2 * H)
    state = engine.states["vaccines"]
    assert [(c.kind, c.at - T0) for c in raised + cleared] == [("raised", H), ("cleared", 2 * H)]
    assert [local(e) for e in completed(state)] == [Excursion(0, H, -1, -1, "gap")]
    assert kinds.load_state(kinds.dump_state(state)) == state


# Odd input: values of any float, instants of any float, sometimes going back, and ticks.
VALUES = st.one_of(st.floats(), st.sampled_from([-1.0, -0.5, 0.0, 2.0, 5.0, 8.0, 8.5, 12.0]))
OFFSETS = st.one_of(
    st.sampled_from([0.0, 1.0, 59.0, 600.0, 1800.0, 3600.0, 3601.0, 36000.0, 2_592_000.0]),
    st.floats(-4e6, 4e6),
)
Make = Callable[[float, list[float]], Step]  # a step at an offset from T0, with its values


def ticks_at(at: float, values: list[float]) -> Step:
    return tick(at)


def reads_at(at: float, values: list[float]) -> Step:
    return reads(at, *values)


ACTIONS = st.lists(
    st.tuples(st.sampled_from([ticks_at, reads_at]), OFFSETS, st.lists(VALUES, max_size=4)),
    max_size=30,
)
RULES = st.sampled_from(
    [
        rule(**WHO | {"max_spans": 2, "max_unsaved": 3}),
        rule(**SHORT | {"max_spans": 1, "max_unsaved": 1}),
        rule(**OUT | {"max_gap": "10m"}),
        rule(**NO_DELAY),
    ]
)


@settings(max_examples=400, deadline=None)
@given(r=RULES, actions=ACTIONS, clock=st.sampled_from([T0, 0.0, 1e11, NAN, 2e11]))
def test_any_input_leaves_a_bounded_state_json_can_keep(
    r: ExcursionRule, actions: list[tuple[Make, float, list[float]]], clock: float
) -> None:
    state, transitions = run(r, [make(clock + at - T0, vs) for make, at, vs in actions])
    assert all(len(spans) <= r.max_spans for spans in state.spans)
    assert len(state.done) <= r.max_unsaved
    assert all(e.duration >= 0 and e.lowest <= e.highest for e in state.done)
    # orjson writes NaN and infinity as null: a state equal after the trip holds neither.
    assert through_json(state) == state
    flips = [t.active for t in transitions]
    assert flips == [i % 2 == 0 for i in range(len(flips))]
    assert state.active == (len(flips) % 2 == 1)


def actives(r: ExcursionRule, steps: list[Step]) -> list[bool]:
    states = accumulate(steps, lambda state, step: step(r, state)[0], initial=KIND.initial(r, T0))
    return [state.active for state in states]


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from([ticks_at, reads_at, reads_at]),
            st.sampled_from([0.0, 1800.0, 3600.0, 10800.0]),
            st.sampled_from([[5.0], [9.0]]),
        ),
        max_size=40,
    )
)
def test_a_capped_memory_never_hides_an_alarm(steps: list[tuple[Make, float, list[float]]]) -> None:
    # Merged spans count at least the time that was out: a capped rule is active whenever an
    # uncapped one is.
    counted = FRIDGE | {"triggers": [{"above": 8, "total": "2h", "within": "6h"}], "max_gap": "2h"}
    times = accumulate(gap for _, gap, _ in steps)
    script = [make(at, vs) for at, (make, _, vs) in zip(times, steps, strict=True)]
    exact = actives(rule(**counted), script)
    capped = actives(rule(**counted | {"max_spans": 1}), script)
    assert all(c or not e for e, c in zip(exact, capped, strict=True))


def test_an_excursion_alarm_is_latched_until_a_disposition() -> None:
    engine = Engine(rules=[rule(**FREEZING)], started_at=T0)  # type: ignore[list-item]
    [raised] = engine.on_series("fridge-1", "temperature", [-1.0], T0) + engine.on_tick(T0 + H)
    [cleared] = engine.on_series("fridge-1", "temperature", [5.0], T0 + 2 * H)
    closed = engine.close(raised.alarm.id, "wang", T0 + 3 * H, "vaccines moved, 20 doses lost")
    assert (raised.alarm.latched, cleared.alarm.state) == (True, "latched")
    assert [(c.kind, c.alarm.state, c.alarm.disposition) for c in closed] == [
        ("closed", "normal", "vaccines moved, 20 doses lost")
    ]
    assert engine.alarms == {}


def test_a_cumulative_excursion_closes_with_its_exposure_forgotten() -> None:
    engine = Engine(rules=[rule(**SHORT)], started_at=T0)  # type: ignore[list-item]
    steps = [(0, 9.0), (20 * M, 9.0), (40 * M, 9.0), (61 * M, 9.0)]
    raised = [
        c for at, v in steps for c in engine.on_series("fridge-1", "temperature", [v], T0 + at)
    ]
    alarm = raised[0].alarm
    with pytest.raises(NotClosable, match="still out of range"):
        engine.close(alarm.id, "wang", T0 + 62 * M, "too early")
    engine.on_series("fridge-1", "temperature", [5.0], T0 + 63 * M)
    # Back in range, but an hour above 8 °C within two is still the condition: the person's
    # disposition puts it to rest, and the next hour warm raises a new alarm.
    assert engine.alarms["vaccines"].active
    closed = engine.close(alarm.id, "wang", T0 + 64 * M, "stock checked, released")
    again = [
        c
        for at in (70 * M, 95 * M, 120 * M, 131 * M)
        for c in engine.on_series("fridge-1", "temperature", [9.0], T0 + at)
    ]
    assert [c.kind for c in closed] == ["cleared", "closed"]
    assert [c.kind for c in again] == ["raised"]
    assert again[0].alarm.id != alarm.id
