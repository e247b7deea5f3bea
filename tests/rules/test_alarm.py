"""The alarm life cycle (ISA-18.2) and the merge of an agent's and the hub's copies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import accumulate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.alarm import (
    Alarm,
    AlarmState,
    NotClosable,
    acknowledge,
    clear,
    close,
    merge,
    realarm,
    reraise,
)

Step = Callable[[Alarm], Alarm]
RAISED = Alarm(
    id="a1",
    rule="freezer-warm",
    device="freezer-1",
    metric="temperature",
    severity="high",
    post="cold-store",
    message="freezer-1 temperature above -15",
    raised_at=100.0,
    changed_at=100.0,
    value=-14.0,
)


def ack(by: str, at: float) -> Step:
    return lambda alarm: acknowledge(alarm, by, at)


def cleared(at: float, value: float | None = -18.0) -> Step:
    return lambda alarm: clear(alarm, at, value)


def reraised(at: float, value: float | None = -13.0) -> Step:
    return lambda alarm: reraise(alarm, at, value)


def run(steps: list[Step]) -> list[Alarm]:
    return list(accumulate(steps, lambda alarm, step: step(alarm), initial=RAISED))


@pytest.mark.parametrize(
    ("steps", "states"),
    [
        pytest.param(
            [ack("li", 110.0), cleared(200.0)],
            ["unacknowledged", "acknowledged", "normal"],
            id="acked then cleared",
        ),
        pytest.param(
            [cleared(200.0), ack("li", 210.0)],
            ["unacknowledged", "cleared_unacknowledged", "normal"],
            id="cleared then acked",
        ),
        pytest.param(
            [cleared(200.0), reraised(300.0), ack("li", 310.0), cleared(400.0)],
            [
                "unacknowledged",
                "cleared_unacknowledged",
                "unacknowledged",
                "acknowledged",
                "normal",
            ],
            id="reraised before anyone acked",
        ),
        pytest.param(
            [ack("li", 110.0), ack("wang", 120.0)],
            ["unacknowledged", "acknowledged", "acknowledged"],
            id="acked twice",
        ),
        pytest.param(
            [cleared(200.0), cleared(300.0)],
            ["unacknowledged", "cleared_unacknowledged", "cleared_unacknowledged"],
            id="cleared twice",
        ),
    ],
)
def test_the_life_cycle(steps: list[Step], states: list[AlarmState]) -> None:
    assert [alarm.state for alarm in run(steps)] == states


@pytest.mark.parametrize(
    ("steps", "is_open"),
    [
        pytest.param([], True, id="unacknowledged"),
        pytest.param([ack("li", 110.0)], True, id="acknowledged"),
        pytest.param([cleared(200.0)], True, id="cleared_unacknowledged"),
        pytest.param([cleared(200.0), ack("li", 210.0)], False, id="normal"),
    ],
)
def test_only_normal_is_closed(steps: list[Step], is_open: bool) -> None:
    assert run(steps)[-1].is_open is is_open


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [ack("li", 110.0)],
            replace(RAISED, acked_at=110.0, acked_by="li"),
            id="an ack does not change the condition",
        ),
        pytest.param(
            [ack("li", 110.0), ack("wang", 120.0)],
            replace(RAISED, acked_at=110.0, acked_by="li"),
            id="the first ack stays",
        ),
        pytest.param(
            [cleared(200.0, -18.0)],
            replace(RAISED, active=False, cleared_at=200.0, changed_at=200.0, value=-18.0),
            id="a clear records when and the value",
        ),
        pytest.param(
            [cleared(200.0, -18.0), cleared(300.0, -20.0)],
            replace(RAISED, active=False, cleared_at=200.0, changed_at=200.0, value=-18.0),
            id="the first clear stays",
        ),
        pytest.param(
            [cleared(200.0), reraised(300.0, -13.0)],
            replace(RAISED, changed_at=300.0, value=-13.0, activations=2),
            id="a reraise keeps the id and when it was first raised",
        ),
    ],
)
def test_a_transition_sets_its_fields(steps: list[Step], expected: Alarm) -> None:
    assert run(steps)[-1] == expected


CLEARED = replace(RAISED, active=False, cleared_at=200.0, changed_at=200.0, value=-18.0)


@pytest.mark.parametrize(
    ("ours", "theirs", "expected"),
    [
        pytest.param(RAISED, RAISED, RAISED, id="identical"),
        pytest.param(
            replace(RAISED, acked_at=110.0, acked_by="li"),
            RAISED,
            replace(RAISED, acked_at=110.0, acked_by="li"),
            id="one side acked",
        ),
        pytest.param(
            replace(RAISED, acked_at=120.0, acked_by="li"),
            replace(RAISED, acked_at=110.0, acked_by="wang"),
            replace(RAISED, acked_at=110.0, acked_by="wang"),
            id="earliest ack wins",
        ),
        pytest.param(
            replace(RAISED, acked_at=110.0, acked_by="wang"),
            replace(RAISED, acked_at=110.0, acked_by="li"),
            replace(RAISED, acked_at=110.0, acked_by="li"),
            id="simultaneous acks: the name that sorts first",
        ),
        pytest.param(RAISED, CLEARED, CLEARED, id="the later clear wins"),
        pytest.param(
            replace(RAISED, acked_at=150.0, acked_by="li"),
            CLEARED,
            replace(CLEARED, acked_at=150.0, acked_by="li"),
            id="acked here, cleared there: normal",
        ),
        pytest.param(
            CLEARED,
            replace(RAISED, changed_at=300.0, value=-13.0),
            replace(RAISED, changed_at=300.0, value=-13.0),
            id="the later reraise wins",
        ),
        pytest.param(
            replace(RAISED, changed_at=200.0),
            replace(CLEARED, acked_at=210.0, acked_by="li"),
            replace(CLEARED, acked_at=210.0, acked_by="li"),
            id="at the same instant the clear wins",
        ),
    ],
)
def test_merge_in_either_order(ours: Alarm, theirs: Alarm, expected: Alarm) -> None:
    assert (merge(ours, theirs), merge(theirs, ours)) == (expected, expected)


CHANGES = st.lists(
    st.tuples(st.floats(1.0, 1000.0), st.none() | st.floats(-50.0, 50.0)), max_size=6
)
ACKS = st.none() | st.tuples(st.sampled_from(["li", "wang"]), st.floats(100.0, 5000.0))


@st.composite
def replicas(draw: st.DrawFn, count: int) -> list[Alarm]:
    """Copies of one alarm: each has seen some prefix of the agent's condition changes, and
    perhaps an acknowledgement of its own."""

    def change(alarm: Alarm, step: tuple[float, float | None]) -> Alarm:
        at = alarm.changed_at + step[0]
        return clear(alarm, at, step[1]) if alarm.active else reraise(alarm, at, step[1])

    history = list(accumulate(draw(CHANGES), change, initial=RAISED))
    copies = [history[draw(st.integers(0, len(history) - 1))] for _ in range(count)]
    acks = [draw(ACKS) for _ in range(count)]
    return [acknowledge(c, *a) if a else c for c, a in zip(copies, acks, strict=True)]


@given(replicas(2))
def test_merge_is_commutative(copies: list[Alarm]) -> None:
    assert merge(copies[0], copies[1]) == merge(copies[1], copies[0])


@given(replicas(3))
def test_merge_is_associative(copies: list[Alarm]) -> None:
    a, b, c = copies
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


@given(replicas(1))
def test_merge_is_idempotent(copies: list[Alarm]) -> None:
    assert merge(copies[0], copies[0]) == copies[0]


def test_reraise_counts_activations() -> None:
    again = reraise(clear(RAISED, 110.0), 120.0, -13.0)
    assert (again.activations, again.state) == (2, "unacknowledged")


def test_an_ack_of_an_earlier_activation_does_not_carry_over() -> None:
    acked_when_cleared = acknowledge(clear(RAISED, 110.0), "li", 130.0)
    reraised_meanwhile = reraise(clear(RAISED, 110.0), 120.0, -13.0)
    merged = merge(acked_when_cleared, reraised_meanwhile)
    assert (merged.state, merged.acked_at, merged.activations) == ("unacknowledged", None, 2)
    assert merge(reraised_meanwhile, acked_when_cleared) == merged


def test_a_realarm_is_a_new_unacknowledged_activation_everywhere() -> None:
    acked = acknowledge(RAISED, "li", 110.0)
    again = realarm(acked, 2_000.0)
    assert (again.state, again.activations, again.changed_at) == ("unacknowledged", 2, 2_000.0)
    # The hub still holds the acknowledged copy: merged either way, the re-alarm stands.
    assert merge(acked, again) == merge(again, acked) == again


LATCHED = replace(RAISED, latched=True)
CLOSES = st.none() | st.tuples(st.sampled_from(["li", "wang"]), st.floats(100.0, 5000.0))


def disposed(alarm: Alarm, closing: tuple[str, float] | None) -> Alarm:
    latched = replace(alarm, latched=True)
    if closing is None or latched.active:
        return latched
    return close(latched, closing[0], closing[1], f"checked by {closing[0]}")


@st.composite
def latched_replicas(draw: st.DrawFn, count: int) -> list[Alarm]:
    """Copies of one latched alarm, some closed with a disposition where it had cleared."""
    copies = draw(replicas(count))
    return [disposed(c, draw(CLOSES)) for c in copies]


@given(latched_replicas(3))
def test_merge_of_dispositions_is_order_free(copies: list[Alarm]) -> None:
    a, b, c = copies
    assert merge(a, b) == merge(b, a)
    assert merge(merge(a, b), c) == merge(a, merge(b, c))
    assert merge(a, a) == a


def test_a_latched_alarm_stays_open_until_closed() -> None:
    cleared = clear(LATCHED, 200.0, -18.0)
    acked = acknowledge(cleared, "li", 210.0)
    closed = close(acked, "wang", 300.0, "door seal replaced; stock checked, none lost")
    assert [a.state for a in (LATCHED, cleared, acked, closed)] == [
        "unacknowledged",
        "latched",
        "latched",
        "normal",
    ]
    assert (closed.acked_by, closed.closed_by, closed.disposition) == (
        "li",
        "wang",
        "door seal replaced; stock checked, none lost",
    )


def test_a_disposition_acknowledges_too() -> None:
    closed = close(clear(LATCHED, 200.0), "wang", 300.0, "ok")
    assert (closed.acked_at, closed.acked_by, closed.is_open) == (300.0, "wang", False)


@pytest.mark.parametrize(
    ("alarm", "reason"),
    [
        (LATCHED, "still active"),
        (clear(RAISED, 200.0), "not latched"),
    ],
)
def test_only_a_cleared_latched_alarm_takes_a_disposition(alarm: Alarm, reason: str) -> None:
    with pytest.raises(NotClosable, match=reason):
        close(alarm, "li", 300.0, "ok")


def test_a_disposition_of_an_earlier_activation_does_not_carry_over() -> None:
    closed = close(clear(LATCHED, 200.0), "li", 300.0, "ok")
    again = reraise(clear(LATCHED, 200.0), 400.0, -5.0)
    merged = merge(closed, again)
    assert (merged.state, merged.closed_at, merged.disposition) == ("unacknowledged", None, None)
