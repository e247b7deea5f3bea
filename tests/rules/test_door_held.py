"""Door held open: a debounced contact, open for longer than ``after``, raises on time."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from datetime import timedelta
from itertools import accumulate, pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rules.base import Outcome, Transition
from rules.door_held import KIND, DoorHeldRule, DoorHeldState, observe, settle

T0 = 1_700_000_000.0
assert KIND.series is not None and KIND.tick is not None
SERIES, TICK = KIND.series, KIND.tick

Step = Callable[[DoorHeldRule, DoorHeldState], Outcome[DoorHeldState]]


def rule(**fields: Any) -> DoorHeldRule:
    base = {"id": "cold-room-ajar", "type": "door_held", "device": "cold-room-door"}
    return DoorHeldRule.model_validate(base | fields)


def contact(at: float, *values: float) -> Step:
    """The contact reads ``values`` (1 open, 0 closed), received together ``at`` s after T0."""
    return lambda r, state: SERIES(r, state, "contact", values, T0 + at)


def opens(at: float) -> Step:
    return contact(at, 1)


def closes(at: float) -> Step:
    return contact(at, 0)


def tick(at: float) -> Step:
    return lambda r, state: TICK(r, state, T0 + at)


def run(r: DoorHeldRule, steps: list[Step]) -> tuple[DoorHeldState, list[Transition]]:
    """The steps in order on a fake clock from T0: the last state and every transition."""
    state, seen = KIND.initial(r, T0), []
    for step in steps:
        state, transitions = step(r, state)
        seen += transitions
    return state, seen


def changes(r: DoorHeldRule, steps: list[Step]) -> list[tuple[float, bool]]:
    return [(t.at - T0, t.active) for t in run(r, steps)[1]]


DEFAULT = rule()

CASES = [
    pytest.param(DEFAULT, [opens(0), tick(119)], [], id="open for less than after"),
    pytest.param(DEFAULT, [opens(0), tick(119), tick(120)], [(120, True)], id="open for after"),
    pytest.param(DEFAULT, [opens(0), contact(150, 1)], [(150, True)], id="a repeat sees it too"),
    pytest.param(DEFAULT, [opens(0), closes(60), tick(63), tick(300)], [], id="closed in time"),
    pytest.param(DEFAULT, [closes(0), tick(300)], [], id="a closed door"),
    pytest.param(
        DEFAULT, [opens(0), opens(60), opens(100), tick(120)], [(120, True)], id="repeats"
    ),
    pytest.param(
        DEFAULT,
        [opens(0), tick(120), closes(130), tick(132), tick(133)],
        [(120, True), (133, False)],
        id="clears once closed for the debounce",
    ),
    pytest.param(
        DEFAULT,
        [opens(0), tick(120), closes(130), opens(132), tick(200)],
        [(120, True)],
        id="a bounce of the latch does not clear",
    ),
    pytest.param(
        DEFAULT,
        [opens(0), closes(50), opens(52), tick(120)],
        [(120, True)],
        id="a bounce of the latch does not restart the time",
    ),
    pytest.param(
        DEFAULT,
        [opens(0), closes(1), opens(10), tick(129), tick(130)],
        [(130, True)],
        id="an opening shorter than the debounce is no opening",
    ),
    pytest.param(
        DEFAULT,
        [opens(0), tick(120), closes(130), opens(133), tick(252), tick(253)],
        [(120, True), (133, False), (253, True)],
        id="a close that lasted the debounce ends the opening",
    ),
    pytest.param(
        DEFAULT,
        [opens(0), closes(150), tick(153)],
        [(150, True), (153, False)],
        id="a hold no tick saw is still reported",
    ),
    pytest.param(DEFAULT, [contact(0, 1, 0), tick(300)], [], id="open and closed in one batch"),
    pytest.param(DEFAULT, [contact(0, 0, 1), tick(120)], [(120, True)], id="opened in a batch"),
    pytest.param(
        DEFAULT,
        [opens(0), contact(10, float("nan")), contact(20, 0.5, -1, 2), tick(120)],
        [(120, True)],
        id="values that are not 0 or 1 say nothing",
    ),
    pytest.param(
        rule(after="5m", debounce="5s"),
        [opens(0), tick(299), tick(300), closes(310), tick(314), tick(315)],
        [(300, True), (315, False)],
        id="after 5m, debounce 5s",
    ),
    pytest.param(
        rule(debounce="0s"),
        [opens(0), tick(120), closes(121), opens(121.5), tick(241), tick(241.5)],
        [(120, True), (121, False), (241.5, True)],
        id="no debounce",
    ),
    pytest.param(
        rule(debounce="0s"),
        [opens(0), closes(150)],
        [(150, True), (150, False)],
        id="no debounce, a hold no tick saw",
    ),
]


@pytest.mark.parametrize(("r", "steps", "expected"), CASES)
def test_transitions(
    r: DoorHeldRule, steps: list[Step], expected: list[tuple[float, bool]]
) -> None:
    assert changes(r, steps) == expected


def test_a_transition_carries_the_door_as_a_contact_value() -> None:
    _, seen = run(DEFAULT, [opens(0), tick(120), closes(130), tick(133)])
    assert [(t.active, t.value) for t in seen] == [(True, 1.0), (False, 0.0)]


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        pytest.param(DoorHeldState(), T0, DoorHeldState(), id="nothing to settle"),
        pytest.param(
            DoorHeldState(changing_since=T0), T0 + 2, DoorHeldState(changing_since=T0), id="wait"
        ),
        pytest.param(
            DoorHeldState(changing_since=T0),
            T0 + 3,
            DoorHeldState(open=True, opened_at=T0),
            id="an opening counts after the debounce, from its start",
        ),
        pytest.param(
            DoorHeldState(True, True, T0 + 200, T0),
            T0 + 203,
            DoorHeldState(),
            id="a close counts after the debounce",
        ),
        pytest.param(
            DoorHeldState(False, True, None, T0),
            T0 - 10,
            DoorHeldState(False, True, None, T0),
            id="a clock set back",
        ),
    ],
)
def test_settle(state: DoorHeldState, now: float, expected: DoorHeldState) -> None:
    assert settle(DEFAULT, state, now) == expected


@pytest.mark.parametrize(
    "state",
    [DoorHeldState(), DoorHeldState(True, True, None, T0)],
    ids=["closed", "held open"],
)
def test_an_unchanged_state_is_returned_as_is(state: DoorHeldState) -> None:
    # The writer saves only the states that are new objects.
    assert TICK(DEFAULT, state, T0 + 150)[0] is state


def test_a_repeat_does_not_restart_the_debounce() -> None:
    pending = observe(DEFAULT, DoorHeldState(), True, T0)
    assert observe(DEFAULT, pending, True, T0 + 2) == pending


@pytest.mark.parametrize(
    "state",
    [DoorHeldState(), DoorHeldState(True, True, None, T0), DoorHeldState(False, True, T0 + 5, T0)],
)
def test_a_state_survives_json(state: DoorHeldState) -> None:
    values = {f.name: getattr(state, f.name) for f in fields(state)}
    assert DoorHeldState(**json.loads(json.dumps(values))) == state


def test_the_rule_reads_its_door_contact() -> None:
    assert (DEFAULT.reads(), DEFAULT.readers()) == ([("cold-room-door", "contact")], [])
    assert (DEFAULT.after, DEFAULT.debounce) == (timedelta(minutes=2), timedelta(seconds=3))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "cold-room-door held open for more than 2m"),
        ({"after": "90s"}, "cold-room-door held open for more than 90s"),
    ],
)
def test_describe(fields: dict[str, Any], expected: str) -> None:
    assert rule(**fields).describe() == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(
            {"after": "3s"}, r"'after' \(3s\) must be longer than 'debounce' \(3s\)", id="="
        ),
        pytest.param({"after": "2s", "debounce": "5s"}, "must be longer than 'debounce'", id="<"),
        pytest.param({"after": "0s"}, "must be longer than 'debounce'", id="after 0"),
        pytest.param({"after": "2 min"}, "not a duration", id="bad duration"),
        pytest.param({"debounce": "-1s"}, "not a duration", id="negative debounce"),
        pytest.param({"metric": "temperature"}, "'contact'", id="another metric"),
        pytest.param({"held": "2m"}, "Extra inputs", id="unknown key"),
    ],
)
def test_a_bad_rule_is_refused_clearly(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**fields)


MAKE: dict[str, Callable[[float, float], Step]] = {
    "tick": lambda at, _: tick(at),
    "contact": contact,
}
STEPS = st.lists(
    st.tuples(
        st.floats(0, 30),
        st.sampled_from(sorted(MAKE)),
        st.sampled_from([0.0, 1.0, 0.5, float("nan"), float("inf")]),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(steps=STEPS, debounce=st.sampled_from(["0s", "3s"]))
def test_transitions_alternate_and_end_where_the_state_is(
    steps: list[tuple[float, str, float]], debounce: str
) -> None:
    r = rule(after="10s", debounce=debounce)
    clock = list(accumulate(gap for gap, _, _ in steps))
    made = [MAKE[kind](at, value) for at, (_, kind, value) in zip(clock, steps, strict=True)]
    state, seen = run(r, made)
    activity = [False, *(t.active for t in seen)]
    assert all(a != b for a, b in pairwise(activity))
    assert activity[-1] == state.active
    assert all(t.value == float(t.active) for t in seen)
