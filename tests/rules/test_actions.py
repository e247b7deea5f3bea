from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.actions import (
    DESIGN_AUTHOR,
    Action,
    InvalidAction,
    Standing,
    by_design,
    check,
    standing,
)
from rules.alarm import Alarm
from rules.schedule import Schedule

T0 = 1_763_900_000.0  # 2025-11-23 12:13:20 UTC
HOUR = 3600.0


def act(kind: str, at: float, until: float | None = None, **fields: object) -> Action:
    base = {"id": f"{kind}-{at}", "kind": kind, "rule": "fridge-warm", "by": "li", "at": at}
    return Action(**(base | {"until": until} | fields))  # type: ignore[arg-type]


def alarm(active: bool = True, alarm_id: str = "a1") -> Alarm:
    return Alarm(
        id=alarm_id,
        rule="fridge-warm",
        device="fridge-1",
        metric="temperature",
        severity="high",
        post=None,
        message="warm",
        raised_at=T0,
        changed_at=T0,
        active=active,
    )


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (act("ack", T0), "ack needs the alarm it is about"),
        (act("note", T0, alarm_id="a1"), "note needs a note"),
        (act("close", T0, alarm_id="a1", note="  "), r"close needs a disposition"),
        (act("shelve", T0), "a one-shot shelve needs the alarm"),
        (act("shelve", T0, T0 + 25 * HOUR, alarm_id="a1"), "shelving is limited to 1 day"),
        (act("suppress", T0), "an operator's suppression needs an end time"),
        (act("disable", T0, T0 - 1), "the end time must be after the action"),
        (act("ack", T0, alarm_id="a1", by=" "), "say who takes the action"),
        (act("note", T0, alarm_id="a1", note="x" * 2001), "a note is at most 2000 characters"),
        (act("erase", T0), "unknown action 'erase'"),
    ],
)
def test_incomplete_actions_are_refused_with_the_reason(action: Action, reason: str) -> None:
    with pytest.raises(InvalidAction, match=reason):
        check(action)


@pytest.mark.parametrize(
    "action",
    [
        act("ack", T0, alarm_id="a1"),
        act("close", T0, alarm_id="a1", note="door left open; goods moved to fridge 2"),
        act("shelve", T0, alarm_id="a1"),
        act("shelve", T0, T0 + 24 * HOUR),
        act("suppress", T0, T0 + HOUR),
        act("disable", T0),
        act("enable", T0),
    ],
)
def test_complete_actions_pass(action: Action) -> None:
    check(action)


@pytest.mark.parametrize(
    ("log", "now", "current", "expected"),
    [
        ([], T0, alarm(), ("in_service", None)),
        ([act("shelve", T0, T0 + HOUR)], T0 + 10, None, ("shelved", T0 + HOUR)),
        ([act("shelve", T0, T0 + HOUR)], T0 + HOUR, None, ("in_service", None)),
        # Not yet taken at ``now`` (a clock behind): does not hold.
        ([act("shelve", T0, T0 + HOUR)], T0 - 1, None, ("in_service", None)),
        # One-shot: holds while the alarm it was taken on is active, at most 24 h.
        ([act("shelve", T0, alarm_id="a1")], T0 + 10, alarm(), ("shelved", T0 + 24 * HOUR)),
        ([act("shelve", T0, alarm_id="a1")], T0 + 10, alarm(active=False), ("in_service", None)),
        ([act("shelve", T0, alarm_id="a1")], T0 + 10, alarm(alarm_id="a2"), ("in_service", None)),
        ([act("shelve", T0, alarm_id="a1")], T0 + 25 * HOUR, alarm(), ("in_service", None)),
        (
            [act("shelve", T0, T0 + HOUR), act("unshelve", T0 + 60)],
            T0 + 90,
            None,
            ("in_service", None),
        ),
        (
            [act("unshelve", T0), act("shelve", T0 + 60, T0 + HOUR)],
            T0 + 90,
            None,
            ("shelved", T0 + HOUR),
        ),
        ([act("suppress", T0, T0 + HOUR)], T0 + 10, None, ("suppressed", T0 + HOUR)),
        ([act("disable", T0)], T0 + 100 * HOUR, None, ("out_of_service", None)),
        ([act("disable", T0), act("enable", T0 + 5)], T0 + 10, None, ("in_service", None)),
        ([act("disable", T0, T0 + 5)], T0 + 10, None, ("in_service", None)),
        # Precedence: out of service over suppressed over shelved.
        (
            [
                act("shelve", T0, T0 + HOUR),
                act("suppress", T0 + 1, T0 + HOUR),
                act("disable", T0 + 2),
            ],
            T0 + 10,
            None,
            ("out_of_service", None),
        ),
        (
            [act("shelve", T0, T0 + HOUR), act("suppress", T0 + 1, T0 + 60)],
            T0 + 90,
            None,
            ("shelved", T0 + HOUR),
        ),
        # Notes, acks and closes do not change the standing.
        ([act("note", T0, alarm_id="a1", note="x")], T0 + 1, alarm(), ("in_service", None)),
    ],
)
def test_the_standing_of_a_rule(
    log: list[Action], now: float, current: Alarm | None, expected: tuple[str, float | None]
) -> None:
    held = standing(log, now, current)
    assert (held.mode, held.until) == expected


def test_the_standing_names_the_action_behind_it() -> None:
    shelve = act("shelve", T0, T0 + HOUR, note="sensor being replaced")
    assert standing([shelve], T0 + 1) == Standing("shelved", T0 + HOUR, shelve)


def test_a_lower_cap_on_shelving_is_honoured() -> None:
    shelve = act("shelve", T0, T0 + 3 * HOUR)
    with pytest.raises(InvalidAction, match="limited to 2:00:00"):
        check(shelve, max_shelve=timedelta(hours=2))
    assert standing([shelve], T0 + 2.5 * HOUR, max_shelve=timedelta(hours=2)).mode == "in_service"


KINDS = ["shelve", "unshelve", "suppress", "unsuppress", "disable", "enable", "note"]


@st.composite
def logs(draw: st.DrawFn) -> list[Action]:
    count = draw(st.integers(0, 8))
    found = []
    for i in range(count):
        kind = draw(st.sampled_from(KINDS))
        at = T0 + draw(st.integers(0, 4)) * 60  # equal times: the id breaks the tie
        until = at + draw(st.integers(1, 600)) if kind in ("shelve", "suppress") else None
        found.append(act(kind, at, until, id=f"{i:02d}", alarm_id="a1", note="n"))
    return found


@given(logs(), st.randoms(), st.integers(0, 900))
def test_the_standing_does_not_depend_on_the_order_actions_arrive(
    log: list[Action], order: object, offset: int
) -> None:
    shuffled = list(log)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    now = T0 + offset
    assert standing(shuffled, now, alarm()) == standing(log, now, alarm())


def test_both_ends_agree_after_exchanging_their_actions() -> None:
    # The agent shelved offline while the hub took the rule out of service: the union is the
    # same set at both ends, whichever learnt of the other first.
    at_agent = [act("shelve", T0 + 10, T0 + HOUR, id="agent-1")]
    at_hub = [act("disable", T0 + 5, id="hub-1"), act("enable", T0 + 20, id="hub-2")]
    agent_view = [*at_agent, *at_hub]
    hub_view = [*at_hub, *at_agent]
    assert standing(agent_view, T0 + 30) == standing(hub_view, T0 + 30)
    assert standing(agent_view, T0 + 30).mode == "shelved"


DEFROST = Schedule.model_validate(
    {"timezone": "Europe/London", "weekly": {"mon-sun": "02:00-02:30"}}
)
NIGHT = T0 - 10 * HOUR + 5 * 60  # 2025-11-23 02:18:20 UTC (GMT: local time too)


def test_a_suppress_schedule_suppresses_until_its_window_closes() -> None:
    made = by_design("fridge-warm", DEFROST, set(), NIGHT)
    assert made is not None
    assert (made.kind, made.by, made.at, made.until) == (
        "suppress",
        DESIGN_AUTHOR,
        NIGHT,
        NIGHT + 700,
    )
    assert standing([made], NIGHT + 600).mode == "suppressed"
    assert standing([made], NIGHT + 700).mode == "in_service"


def test_a_suppress_schedule_takes_each_window_once() -> None:
    made = by_design("fridge-warm", DEFROST, set(), NIGHT)
    assert made is not None
    later = by_design("fridge-warm", DEFROST, {made.id}, NIGHT + 60)
    assert later is None
    # An operator who lifted it is not overruled in the same window.
    lifted = act("unsuppress", NIGHT + 30)
    assert standing([made, lifted], NIGHT + 60).mode == "in_service"


def test_a_closed_suppress_schedule_takes_nothing() -> None:
    assert by_design("fridge-warm", DEFROST, set(), T0) is None


def test_windows_of_other_days_are_other_actions() -> None:
    first = by_design("fridge-warm", DEFROST, set(), NIGHT)
    second = by_design("fridge-warm", DEFROST, set(), NIGHT + 86400)
    assert first is not None and second is not None
    assert first.id != second.id
    assert [a.until for a in (first, second)] == [NIGHT + 700, NIGHT + 86400 + 700]
