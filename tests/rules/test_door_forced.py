"""Door forced open: an opening no grant at the door's reader explains is an event alarm."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from datetime import timedelta
from itertools import accumulate
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from collector.models import AccessEvent, AccessResult
from rules.base import Outcome, Transition
from rules.door_forced import KIND, DoorForcedRule, DoorForcedState, granted, settle

T0 = 1_700_000_000.0
assert KIND.series is not None and KIND.tick is not None and KIND.access is not None
SERIES, TICK, ACCESS = KIND.series, KIND.tick, KIND.access

Step = Callable[[DoorForcedRule, DoorForcedState], Outcome[DoorForcedState]]


def rule(**fields: Any) -> DoorForcedRule:
    base = {"id": "store-forced", "type": "door_forced", "device": "store-door"}
    return DoorForcedRule.model_validate(base | {"reader": "store-reader"} | fields)


def contact(at: float, *values: float) -> Step:
    return lambda r, state: SERIES(r, state, "contact", values, T0 + at)


def opens(at: float) -> Step:
    return contact(at, 1)


def closes(at: float) -> Step:
    return contact(at, 0)


def swipe(at: float, result: AccessResult = "granted") -> Step:
    event = AccessEvent("store-reader", T0 + at - 0.5, "card-7", result, "in", None, T0 + at)
    return lambda r, state: ACCESS(r, state, event)


def tick(at: float) -> Step:
    return lambda r, state: TICK(r, state, T0 + at)


def run(r: DoorForcedRule, steps: list[Step]) -> tuple[DoorForcedState, list[Transition]]:
    """The steps in order on a fake clock from T0: the last state and every transition."""
    state, seen = KIND.initial(r, T0), []
    for step in steps:
        state, transitions = step(r, state)
        seen += transitions
    return state, seen


def pulse(at: float) -> list[tuple[float, bool]]:
    return [(at, True), (at, False)]


DEFAULT = rule()
CLOSED = closes(0)

CASES = [
    pytest.param(DEFAULT, [CLOSED, swipe(1), opens(5), tick(20)], [], id="granted then opened"),
    pytest.param(DEFAULT, [CLOSED, swipe(1), opens(9), tick(20)], [], id="at the window's end"),
    pytest.param(
        DEFAULT,
        [CLOSED, swipe(1), opens(9.5), tick(11), tick(11.5), tick(20)],
        pulse(11.5),
        id="after the window, once late_grant has passed",
    ),
    pytest.param(DEFAULT, [CLOSED, opens(10), tick(11.9), tick(12)], pulse(12), id="no grant"),
    pytest.param(
        DEFAULT, [CLOSED, swipe(9, "denied"), opens(10), tick(12)], pulse(12), id="denied swipe"
    ),
    pytest.param(DEFAULT, [CLOSED, opens(10), swipe(11), tick(20)], [], id="a grant arriving late"),
    pytest.param(
        DEFAULT, [CLOSED, opens(10), swipe(12), tick(20)], pulse(12), id="a grant too late"
    ),
    pytest.param(DEFAULT, [CLOSED, opens(10), closes(15)], pulse(15), id="a reading decides"),
    pytest.param(DEFAULT, [opens(0), tick(10)], [], id="the first word is no opening"),
    pytest.param(
        DEFAULT, [CLOSED, swipe(1), opens(2), opens(20), tick(30)], [], id="repeats are no opening"
    ),
    pytest.param(
        DEFAULT,
        [CLOSED, swipe(1), opens(2), closes(4), opens(20), tick(22)],
        pulse(22),
        id="opened again after the window",
    ),
    pytest.param(
        DEFAULT,
        [CLOSED, swipe(1), opens(2), closes(4), opens(6), tick(20)],
        [],
        id="opened again inside the window",
    ),
    pytest.param(
        DEFAULT,
        [CLOSED, opens(10), closes(10.5), opens(11), tick(12), tick(13)],
        pulse(12),
        id="a bouncing latch raises once",
    ),
    pytest.param(DEFAULT, [contact(0, 0, 1), tick(2)], pulse(2), id="opened within a batch"),
    pytest.param(
        DEFAULT,
        [CLOSED, contact(5, float("nan"), 0.5, -1), tick(20)],
        [],
        id="values that are not 0 or 1 say nothing",
    ),
    pytest.param(rule(late_grant="0s"), [CLOSED, opens(10)], pulse(10), id="no late grants"),
    pytest.param(
        rule(grant_window="30s"), [CLOSED, swipe(1), opens(31), tick(40)], [], id="a long window"
    ),
    pytest.param(
        DEFAULT,
        [CLOSED, opens(10), tick(12), closes(15), opens(20), tick(22)],
        pulse(12) + pulse(22),
        id="each forced opening raises",
    ),
]


@pytest.mark.parametrize(("r", "steps", "expected"), CASES)
def test_transitions(
    r: DoorForcedRule, steps: list[Step], expected: list[tuple[float, bool]]
) -> None:
    assert [(t.at - T0, t.active) for t in run(r, steps)[1]] == expected


def test_the_alarm_is_an_event_with_the_open_contact() -> None:
    state, seen = run(DEFAULT, [CLOSED, opens(10), tick(12)])
    assert seen == [Transition(True, T0 + 12, 1.0), Transition(False, T0 + 12, 1.0)]
    assert not state.active


@pytest.mark.parametrize(
    ("state", "at", "expected"),
    [
        pytest.param(
            DoorForcedState(door=True, unexplained=T0),
            T0 + 1,
            DoorForcedState(door=True, granted_at=T0 + 1),
            id="explains an opening",
        ),
        pytest.param(
            DoorForcedState(door=True, unexplained=T0),
            T0 + 2,
            DoorForcedState(door=True, granted_at=T0 + 2, unexplained=T0),
            id="too late to explain",
        ),
        pytest.param(
            DoorForcedState(granted_at=T0 + 5), T0, DoorForcedState(granted_at=T0 + 5), id="older"
        ),
    ],
)
def test_granted(state: DoorForcedState, at: float, expected: DoorForcedState) -> None:
    assert granted(DEFAULT, state, at) == expected


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        (DoorForcedState(), T0, (DoorForcedState(), False)),
        (DoorForcedState(unexplained=T0), T0 + 1, (DoorForcedState(unexplained=T0), False)),
        (DoorForcedState(unexplained=T0), T0 + 2, (DoorForcedState(), True)),
    ],
    ids=["nothing waits", "still waiting", "forced"],
)
def test_settle(state: DoorForcedState, now: float, expected: tuple[DoorForcedState, bool]) -> None:
    assert settle(DEFAULT, state, now) == expected


@pytest.mark.parametrize(
    ("step", "state"),
    [
        (opens(20), DoorForcedState(door=True, granted_at=T0)),
        (closes(20), DoorForcedState(door=False)),
        (tick(20), DoorForcedState(door=True, unexplained=T0 + 19)),
    ],
    ids=["open again", "closed again", "waiting"],
)
def test_an_unchanged_state_is_returned_as_is(step: Step, state: DoorForcedState) -> None:
    # The writer saves only the states that are new objects.
    assert step(DEFAULT, state) == (state, [])
    assert step(DEFAULT, state)[0] is state


@pytest.mark.parametrize(
    "state",
    [DoorForcedState(), DoorForcedState(False, True, T0, T0 + 1)],
    ids=["initial", "full"],
)
def test_a_state_survives_json(state: DoorForcedState) -> None:
    values = {f.name: getattr(state, f.name) for f in fields(state)}
    assert DoorForcedState(**json.loads(json.dumps(values))) == state


def test_the_rule_reads_its_door_and_its_reader() -> None:
    assert (DEFAULT.reads(), DEFAULT.readers()) == ([("store-door", "contact")], ["store-reader"])
    assert (DEFAULT.grant_window, DEFAULT.late_grant) == (
        timedelta(seconds=8),
        timedelta(seconds=2),
    )
    assert DEFAULT.describe() == "store-door forced open (no access granted at store-reader)"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"reader": None}, "reader", id="no reader"),
        pytest.param({"grant_window": "0s"}, "'grant_window' must be longer than 0s", id="0s"),
        pytest.param(
            {"late_grant": "10s"},
            r"'late_grant' \(10s\) must not be longer than 'grant_window' \(8s\)",
            id="late grant",
        ),
        pytest.param({"grant_window": "8 sec"}, "not a duration", id="bad duration"),
        pytest.param({"metric": "battery"}, "'contact'", id="another metric"),
        pytest.param({"request_to_exit": True}, "Extra inputs", id="unknown key"),
    ],
)
def test_a_bad_rule_is_refused_clearly(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**fields)


MAKE: dict[str, Callable[[float, float], Step]] = {
    "tick": lambda at, _: tick(at),
    "contact": contact,
    "granted": lambda at, _: swipe(at),
    "denied": lambda at, _: swipe(at, "denied"),
}


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.floats(0, 10),
            st.sampled_from(sorted(MAKE)),
            st.sampled_from([0.0, 1.0, float("nan")]),
        ),
        max_size=40,
    ),
)
def test_every_alarm_is_a_pulse_and_no_opening_raises_twice(
    steps: list[tuple[float, str, float]],
) -> None:
    clock = list(accumulate(gap for gap, _, _ in steps))
    made = [MAKE[kind](at, value) for at, (_, kind, value) in zip(clock, steps, strict=True)]
    state, seen = run(DEFAULT, made)
    openings = [(kind, value) for _, kind, value in steps].count(("contact", 1.0))
    assert [t.active for t in seen] == [True, False] * (len(seen) // 2)
    assert all(a.at == b.at for a, b in zip(seen[::2], seen[1::2], strict=True))
    assert len(seen) // 2 <= openings
    assert not state.active
