"""Denied bursts: too many denied swipes at a reader, or by one card, in a window; bounded state."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import timedelta
from itertools import accumulate, pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from collector.models import AccessEvent, AccessResult
from rules.base import Transition
from rules.denied_burst import KIND, DeniedBurstRule, DeniedBurstState, Tally, denied

T0 = 1_700_000_000.0
assert KIND.access is not None and KIND.load is not None
ACCESS, LOAD = KIND.access, KIND.load

Swipe = tuple[float, str, AccessResult]  # (seconds after T0, card, result)


def rule(**fields: Any) -> DeniedBurstRule:
    base = {"id": "gate-burst", "type": "denied_burst", "device": "gate-reader"}
    return DeniedBurstRule.model_validate(base | fields)


def event(at: float, card: str, result: AccessResult = "denied") -> AccessEvent:
    return AccessEvent("gate-reader", T0 + at, card, result, "in", "unknown card", T0 + at)


def run_from(
    r: DeniedBurstRule, state: DeniedBurstState, swipes: list[Swipe]
) -> tuple[DeniedBurstState, list[Transition]]:
    """The swipes in order on a fake clock from T0: the last state and every transition."""
    seen: list[Transition] = []
    for at, card, result in swipes:
        state, transitions = ACCESS(r, state, event(at, card, result))
        seen += transitions
    return state, seen


def run(r: DeniedBurstRule, swipes: list[Swipe]) -> tuple[DeniedBurstState, list[Transition]]:
    return run_from(r, KIND.initial(r, T0), swipes)


def denials(times: list[float], card: str = "card-1") -> list[Swipe]:
    return [(t, card, "denied") for t in times]


def every(step: float, start: float, stop: float) -> list[float]:
    return [start + step * i for i in range(int((stop - start) / step) + 1)]


DEFAULT = rule()
PER_CARD = rule(per="card")
# Four cards tried three times each inside a minute: twelve denials, none more than three per card.
CARD_TRIER: list[Swipe] = [(2.0 * i, f"card-{i % 4}", "denied") for i in range(12)]

CASES = [
    pytest.param(DEFAULT, denials(every(10, 0, 40)), [], id="five in a minute"),
    pytest.param(DEFAULT, denials(every(10, 0, 50)), [50], id="six in a minute"),
    pytest.param(DEFAULT, denials(every(12, 0, 60)), [], id="six, the first one a window ago"),
    pytest.param(
        DEFAULT,
        [*denials(every(10, 0, 40)), (45, "card-1", "granted"), (46, "card-2", "granted")],
        [],
        id="granted swipes do not count",
    ),
    pytest.param(
        DEFAULT, denials(every(5, 0, 120)), [25, 85], id="a long burst raises once per window"
    ),
    pytest.param(
        DEFAULT,
        denials(every(10, 0, 50) + every(10, 200, 250)),
        [50, 250],
        id="a second burst raises again",
    ),
    pytest.param(
        DEFAULT,
        denials([*every(10, 0, 40), 500, *every(10, 1000, 1040)]),
        [],
        id="slow denials never burst",
    ),
    pytest.param(DEFAULT, CARD_TRIER, [10], id="a card trier at the reader"),
    pytest.param(PER_CARD, CARD_TRIER, [], id="a card trier is no card's burst"),
    pytest.param(
        PER_CARD,
        [
            *denials(every(5, 0, 20), "card-a"),
            *denials([21, 22], "card-b"),
            (25, "card-a", "denied"),
        ],
        [25],
        id="one card tried six times",
    ),
    pytest.param(
        PER_CARD,
        [*denials(every(1, 0, 5), "card-a"), *denials(every(1, 6, 11), "card-b")],
        [5, 11],
        id="each card raises its own burst",
    ),
    pytest.param(rule(count=1), denials([0, 30]), [30], id="more than one"),
    pytest.param(rule(count=1, window="10s"), denials([0, 10, 20]), [], id="window 10s"),
    pytest.param(
        DEFAULT,
        denials([*every(10, 100, 140), 50, 60]),
        [],
        id="the clock set back forgets what came after",
    ),
]


@pytest.mark.parametrize(("r", "swipes", "expected"), CASES)
def test_bursts_raise_an_event(
    r: DeniedBurstRule, swipes: list[Swipe], expected: list[float]
) -> None:
    state, seen = run(r, swipes)
    pulses = [(at, active) for at in expected for active in (True, False)]
    assert [(t.at - T0, t.active) for t in seen] == pulses
    assert not state.active


@pytest.mark.parametrize(
    ("state", "at", "expected"),
    [
        pytest.param(
            DeniedBurstState(),
            T0,
            (DeniedBurstState(tallies=(Tally("", (T0,), None),)), False),
            id="the first denial",
        ),
        pytest.param(
            DeniedBurstState(tallies=(Tally("", (T0 - 60, T0 - 30), None),)),
            T0,
            (DeniedBurstState(tallies=(Tally("", (T0 - 30, T0), None),)), False),
            id="a denial a window ago is forgotten",
        ),
        pytest.param(
            DeniedBurstState(tallies=(Tally("", (T0 - 5, T0 - 4, T0 - 3, T0 - 2, T0 - 1), None),)),
            T0,
            (
                DeniedBurstState(
                    tallies=(Tally("", (T0 - 5, T0 - 4, T0 - 3, T0 - 2, T0 - 1, T0), T0),)
                ),
                True,
            ),
            id="the sixth raises",
        ),
        pytest.param(
            DeniedBurstState(tallies=(Tally("", tuple(T0 - i for i in range(6, 0, -1)), T0 - 1),)),
            T0,
            (
                DeniedBurstState(
                    tallies=(Tally("", tuple(T0 - i for i in range(5, -1, -1)), T0 - 1),)
                ),
                False,
            ),
            id="only count + 1 times are kept",
        ),
    ],
)
def test_denied(
    state: DeniedBurstState, at: float, expected: tuple[DeniedBurstState, bool]
) -> None:
    assert denied(DEFAULT, state, "card-1", at) == expected


def test_cards_are_forgotten_least_recently_denied_first() -> None:
    r = rule(per="card", max_cards=3)
    state, _ = run(r, denials([0], "a") + denials([1], "b") + denials([2], "c") + denials([3], "a"))
    state, _ = run_from(r, state, denials([4], "d"))
    assert [t.key for t in state.tallies] == ["c", "a", "d"]


def test_cards_quiet_for_a_window_are_forgotten() -> None:
    state, _ = run(PER_CARD, denials([0], "a") + denials([30], "b") + denials([70], "c"))
    assert [t.key for t in state.tallies] == ["b", "c"]


def test_an_ignored_event_returns_the_state_as_is() -> None:
    state = DeniedBurstState(tallies=(Tally("", (T0,), None),))
    granted = ACCESS(DEFAULT, state, event(1, "card-1", "granted"))
    at_nan = ACCESS(DEFAULT, state, AccessEvent("r", 0, "c", "denied", None, None, float("nan")))
    assert (granted[0] is state, at_nan[0] is state, granted[1], at_nan[1]) == (True, True, [], [])


@pytest.mark.parametrize(
    "state",
    [
        DeniedBurstState(),
        DeniedBurstState(tallies=(Tally("a", (T0, T0 + 1), T0 + 1), Tally("b", (T0 + 2,), None))),
    ],
    ids=["empty", "two cards"],
)
def test_a_state_survives_json(state: DeniedBurstState) -> None:
    values = {f.name: getattr(state, f.name) for f in fields(state)}
    assert LOAD(json.loads(json.dumps(values))) == state


def test_the_rule_reads_its_reader_only() -> None:
    assert (DEFAULT.reads(), DEFAULT.readers()) == ([], ["gate-reader"])
    assert (DEFAULT.count, DEFAULT.window, DEFAULT.per) == (5, timedelta(minutes=1), "reader")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "more than 5 denied swipes within 1m at gate-reader"),
        (
            {"per": "card", "count": 3, "window": "30s"},
            "more than 3 denied swipes by one card within 30s at gate-reader",
        ),
    ],
)
def test_describe(fields: dict[str, Any], expected: str) -> None:
    assert rule(**fields).describe() == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"count": 0}, "greater than or equal to 1", id="count 0"),
        pytest.param({"count": True}, "not true or false", id="count yes"),
        pytest.param({"count": 2.5}, "fractional part", id="count 2.5"),
        pytest.param({"window": "0s"}, "'window' must be longer than 0s", id="window 0"),
        pytest.param({"window": "a minute"}, "not a duration", id="bad window"),
        pytest.param({"per": "door"}, "'reader' or 'card'", id="per"),
        pytest.param({"max_cards": 10}, "'max_cards' applies only to 'per: card'", id="max_cards"),
        pytest.param({"per": "card", "max_cards": 0}, "greater than or equal to 1", id="no cards"),
        pytest.param({"metric": "contact"}, "metric", id="a metric"),
        pytest.param({"cards": 3}, "Extra inputs", id="unknown key"),
    ],
)
def test_a_bad_rule_is_refused_clearly(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**fields)


SWIPES = st.lists(
    st.tuples(
        st.floats(0, 20),
        st.integers(0, 30).map(lambda n: f"card-{n}"),
        st.sampled_from(["denied", "denied", "granted"]),
    ),
    max_size=150,
)


PER: dict[str, dict[str, Any]] = {"reader": {}, "card": {"max_cards": 5}}


@settings(max_examples=200, deadline=None)
@given(swipes=SWIPES, per=st.sampled_from(sorted(PER)), count=st.integers(1, 4))
def test_memory_stays_bounded(
    swipes: list[tuple[float, str, AccessResult]], per: str, count: int
) -> None:
    r = rule(per=per, count=count, window="30s", **PER[per])
    clock = list(accumulate(gap for gap, _, _ in swipes))
    timed = [(at, card, result) for at, (_, card, result) in zip(clock, swipes, strict=True)]
    state, seen = run(r, timed)
    assert len(state.tallies) <= 5
    assert all(len(t.times) <= count + 1 for t in state.tallies)
    assert len({t.key for t in state.tallies}) == len(state.tallies)
    assert [t.active for t in seen] == [True, False] * (len(seen) // 2)


@settings(max_examples=200, deadline=None)
@given(times=st.lists(st.floats(0, 600), max_size=60).map(sorted), count=st.integers(1, 6))
def test_a_raise_needs_more_than_count_denials_in_the_window(
    times: list[float], count: int
) -> None:
    r = rule(count=count)
    _, seen = run(r, denials(times))
    raised = [t.at for t in seen[::2]]
    assert all(sum(at - 60 < T0 + x <= at for x in times) > count for at in raised)
    assert all(b - a >= 60 - 1e-6 for a, b in pairwise(raised))
