"""Escalation: whom an alarm reaches and when, step by step on a fake clock, and idempotence."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import rules.escalation
from rules.alarm import Alarm, AlarmChange, ChangeKind, acknowledge, clear, realarm, reraise
from rules.escalation import LEVELS, SUPERVISOR, EscalationPolicy, Intent, due
from rules.roster import Roster

LONDON = ZoneInfo("Europe/London")
T0 = datetime.fromisoformat("2025-01-08T10:00:00Z").timestamp()  # a Wednesday, Li's day shift
MEMBERS = ["Li", "Wang", "Zhang"]
POLICY = EscalationPolicy()
DAY_NIGHT = Roster.model_validate(
    {
        "shifts": {"day": "08:00-20:00", "night": "20:00-08:00"},
        "weeks": [{"mon-sun": {"day": "Li", "night": "Wang"}}],
    }
)
DAYS_ONLY = Roster.model_validate(
    {"shifts": {"day": "08:00-20:00"}, "weeks": [{"mon-sun": {"day": "Li"}}]}
)

Change = Callable[[Alarm, float], Alarm]
STEPS: dict[str, tuple[Change, ChangeKind]] = {
    "ack": (lambda a, t: acknowledge(a, "Li", t), "acked"),
    "clear": (lambda a, t: clear(a, t), "cleared"),
    "reraise": (lambda a, t: reraise(a, t, None), "reraised"),
    "realarm": (realarm, "reraised"),
}
Op = tuple[str, float]  # (what, minutes after T0)


def minutes(m: float) -> float:
    return T0 + m * 60


def history(
    severity: str = "critical", *ops: Op, alarm_id: str = "a1", at: float = 0
) -> list[AlarmChange]:
    """An alarm raised ``at`` minutes after T0, then what ``ops`` did to it."""
    first = Alarm(
        id=alarm_id,
        rule=f"warm-{alarm_id}",
        device="freezer-1",
        metric="temperature",
        severity=severity,
        post="cold-store",
        message="freezer-1 temperature above -15",
        raised_at=minutes(at),
        changed_at=minutes(at),
    )
    changes = [AlarmChange(first, "raised", first.raised_at)]
    for op, m in ops:
        change, kind = STEPS[op]
        changes.append(AlarmChange(change(changes[-1].alarm, minutes(m)), kind, minutes(m)))
    return changes


def policy(**levels: Any) -> EscalationPolicy:
    return EscalationPolicy.model_validate(levels)


Seen = tuple[float, str, str, str]  # (minutes after T0 it fell due, who, why, which alarm)


def simulate(
    histories: Sequence[list[AlarmChange]],
    until: float,
    *,
    rules: EscalationPolicy = POLICY,
    roster: Roster | None = DAY_NIGHT,
    supervisor: bool = True,
) -> list[Seen]:
    """Ask every 30 s from the first raise until ``until`` minutes, recording what is sent; each
    ask sees only the changes made by then."""
    sent: list[Intent] = []
    first = min(h[0].at for h in histories)
    for tick in range(int((T0 + until * 60 - first) // 30) + 1):
        now = first + tick * 30
        known = [[c for c in h if c.at <= now] for h in histories]
        sent += due(known, rules, roster, MEMBERS, LONDON, sent, now, supervisor=supervisor)
    return [(round((i.at - T0) / 60, 2), i.who, i.reason, i.alarm) for i in sent]


def pages(*rows: tuple[float, str, str]) -> list[Seen]:
    return [(m, who, why, "a1") for m, who, why in rows]


SUP = SUPERVISOR
CRITICAL_UNANSWERED = pages(
    (0, "Li", "raised"),
    (5, SUP, "escalated"),
    (10, "Li", "escalated"),
    (15, SUP, "escalated"),
    (20, "Li", "escalated"),
    (25, SUP, "escalated"),
    (30, "Li", "escalated"),
    (35, SUP, "escalated"),
)

SCENARIOS = [
    pytest.param([history()], 60, {}, CRITICAL_UNANSWERED, id="critical: 5m steps, 3 repeats"),
    pytest.param(
        [history("critical", ("ack", 7))],
        200,
        {},
        pages(
            (0, "Li", "raised"),
            (5, SUP, "escalated"),
            (67, "Li", "reminder"),
            (72, SUP, "reminder"),
            (127, "Li", "reminder"),
            (132, SUP, "reminder"),
            (187, "Li", "reminder"),
            (192, SUP, "reminder"),
        ),
        id="critical acknowledged: reminded every hour",
    ),
    pytest.param(
        [history("critical", ("ack", 7), ("clear", 100))],
        200,
        {},
        pages(
            (0, "Li", "raised"),
            (5, SUP, "escalated"),
            (67, "Li", "reminder"),
            (72, SUP, "reminder"),
            (100, "Li", "cleared"),
            (100, SUP, "cleared"),
        ),
        id="acknowledged, then cleared: whoever was told hears it",
    ),
    pytest.param(
        [history("high")],
        120,
        {},
        pages(
            (0, "Li", "raised"),
            (15, SUP, "escalated"),
            (30, "Li", "escalated"),
            (45, SUP, "escalated"),
            (60, "Li", "escalated"),
            (75, SUP, "escalated"),
        ),
        id="high: 15m steps, 2 repeats",
    ),
    pytest.param(
        [history("high", ("ack", 20))],
        490,
        {},
        pages(
            (0, "Li", "raised"),
            (15, SUP, "escalated"),
            (260, "Li", "reminder"),
            (275, SUP, "reminder"),
        ),
        id="high acknowledged: reminded after 4h",
    ),
    pytest.param(
        [history("medium")],
        300,
        {},
        pages((0.5, "Li", "raised"), (30.5, SUP, "escalated")),
        id="medium: after 30s, escalated once after 30m",
    ),
    pytest.param(
        [history("medium", ("clear", 0.25))], 60, {}, [], id="medium cleared within its delay"
    ),
    pytest.param([history("low")], 600, {}, pages((0.5, "Li", "raised")), id="low: told, no more"),
    pytest.param(
        [history("low", ("ack", 10))], 900, {}, pages((0.5, "Li", "raised")), id="low: no reminder"
    ),
    pytest.param(
        [history("critical", ("clear", 7))],
        60,
        {},
        pages(
            (0, "Li", "raised"), (5, SUP, "escalated"), (7, "Li", "cleared"), (7, SUP, "cleared")
        ),
        id="cleared before anyone acknowledged: the chain stops",
    ),
    pytest.param(
        [history("high", ("clear", 0), ("ack", 40))],
        300,
        {},
        pages((0, "Li", "raised"), (15, SUP, "escalated"), (30, "Li", "escalated")),
        id="an event escalates until acknowledged",
    ),
    pytest.param(
        [history("critical", ("clear", 3), ("reraise", 20))],
        40,
        {},
        pages(
            (0, "Li", "raised"),
            (3, "Li", "cleared"),
            (20, "Li", "reraised"),
            (25, SUP, "escalated"),
            (30, "Li", "escalated"),
            (35, SUP, "escalated"),
            (40, "Li", "escalated"),
        ),
        id="reraised: a new chain",
    ),
    pytest.param(
        [history("critical", ("ack", 2), ("realarm", 32))],
        50,
        {},
        pages(
            (0, "Li", "raised"),
            (32, "Li", "reraised"),
            (37, SUP, "escalated"),
            (42, "Li", "escalated"),
            (47, SUP, "escalated"),
        ),
        id="re-alarmed by its rule: a new chain",
    ),
    pytest.param(
        [history("critical", at=598)],
        620,
        {},
        pages(
            (598, "Li", "raised"),
            (603, SUP, "escalated"),
            (608, "Wang", "escalated"),
            (613, SUP, "escalated"),
            (618, "Wang", "escalated"),
        ),
        id="the night shift takes over between steps",
    ),
    pytest.param(
        [history("critical", at=660)],
        670,
        {"roster": DAYS_ONLY},
        pages((660, SUP, "raised"), (665, SUP, "escalated"), (670, SUP, "escalated")),
        id="nobody on duty: the supervisor instead",
    ),
    pytest.param(
        [history()],
        10,
        {"supervisor": False},
        pages(
            (0, "Li", "raised"),
            (5, "Li", "escalated"),
            (5, "Wang", "escalated"),
            (5, "Zhang", "escalated"),
            (10, "Li", "escalated"),
        ),
        id="no supervisor: the whole post instead",
    ),
    pytest.param(
        [history()],
        5,
        {"roster": None},
        pages(
            (0, "Li", "raised"),
            (0, "Wang", "raised"),
            (0, "Zhang", "raised"),
            (5, SUP, "escalated"),
        ),
        id="no roster: every member is on duty",
    ),
    pytest.param(
        [history()],
        20,
        {
            "rules": policy(
                critical={"steps": ["on_duty", ["next_on_duty", "supervisor"]], "repeat": 0}
            )
        },
        pages((0, "Li", "raised"), (5, "Wang", "escalated"), (5, SUP, "escalated")),
        id="next on duty",
    ),
    pytest.param(
        [history()],
        20,
        {"rules": policy(critical={"steps": ["on_duty", "post"], "repeat": 0})},
        pages(
            (0, "Li", "raised"),
            (5, "Li", "escalated"),
            (5, "Wang", "escalated"),
            (5, "Zhang", "escalated"),
        ),
        id="the whole post",
    ),
    pytest.param(
        [history("urgent")],
        10,
        {},
        pages((0, "Li", "raised"), (5, SUP, "escalated"), (10, "Li", "escalated")),
        id="an unknown severity is critical",
    ),
]


@pytest.mark.parametrize(("histories", "until", "options", "expected"), SCENARIOS)
def test_what_is_sent_on_a_fake_clock(
    histories: list[list[AlarmChange]], until: float, options: dict[str, Any], expected: list[Seen]
) -> None:
    assert simulate(histories, until, **options) == expected


# (history, asked first at minutes, intents as (minutes, who, why, run, step))
CATCH_UP = [
    pytest.param(history(), 0, [(0, "Li", "raised", 0, 0)], id="at once"),
    pytest.param(
        history(), 12, [(5, SUP, "escalated", 0, 1), (10, "Li", "escalated", 0, 2)], id="latest"
    ),
    pytest.param(
        history("critical", ("ack", 7)),
        200,
        [(187, "Li", "reminder", 3, 0), (192, SUP, "reminder", 3, 1)],
        id="the latest reminder",
    ),
    pytest.param(
        history(at=598), 601, [(598, "Li", "raised", 0, 0)], id="who was on duty when it fell due"
    ),
    pytest.param(
        history(at=598),
        609,
        [
            (598, "Li", "raised", 0, 0),
            (603, SUP, "escalated", 0, 1),
            (608, "Wang", "escalated", 0, 2),
        ],
        id="each person's latest, across a handover",
    ),
    pytest.param(history("critical", ("clear", 7)), 12, [], id="cleared before anyone was told"),
    pytest.param(history("critical", ("ack", 1)), 12, [], id="acknowledged before"),
]


@pytest.mark.parametrize(("changes", "at", "expected"), CATCH_UP)
def test_a_late_first_ask_sends_only_the_latest_step_for_each_person(
    changes: list[AlarmChange], at: float, expected: list[tuple[float, str, str, int, int]]
) -> None:
    intents = due([changes], POLICY, DAY_NIGHT, MEMBERS, LONDON, [], minutes(at))
    assert [((i.at - T0) / 60, i.who, i.reason, i.run, i.step) for i in intents] == expected


@pytest.mark.parametrize(
    ("at", "who"),
    [(0, "Li"), (5, SUP), (10, "Li"), (35, SUP)],
)
def test_a_step_falls_due_on_its_second_and_not_before(at: float, who: str) -> None:
    alarm = [history()]
    answered = due(alarm, POLICY, DAY_NIGHT, MEMBERS, LONDON, [], minutes(at) - 0.001)
    intents = due(alarm, POLICY, DAY_NIGHT, MEMBERS, LONDON, answered, minutes(at))
    assert [(i.at, i.who) for i in intents] == [(minutes(at), who)]


def test_a_step_is_not_sent_twice() -> None:
    alarm = [history()]
    first = due(alarm, POLICY, DAY_NIGHT, MEMBERS, LONDON, [], minutes(6))
    later = [
        due(alarm, POLICY, DAY_NIGHT, MEMBERS, LONDON, first, minutes(m)) for m in (6, 7, 9.99)
    ]
    assert (len(first), later) == (2, [[], [], []])


def test_a_changed_policy_does_not_send_a_sent_step_again() -> None:
    alarm = [history()]
    sent = due(alarm, POLICY, DAY_NIGHT, MEMBERS, LONDON, [], minutes(6))
    slower = policy(critical={"ack_timeout": "6m"})
    assert due(alarm, slower, DAY_NIGHT, MEMBERS, LONDON, sent, minutes(6)) == []


def burst(count: int, severity: str = "critical", every: float = 0.5) -> list[list[AlarmChange]]:
    return [history(severity, alarm_id=f"a{i:02d}", at=i * every) for i in range(count)]


FIRST_TEN = [(i / 2, "Li", "raised", f"a{i:02d}") for i in range(10)]
FLOODS = [
    pytest.param(
        burst(11),
        15,
        {},
        [
            *FIRST_TEN,
            (5.0, SUP, "flood", "a10"),
            # the flood ends at 13:00, when a window holds fewer than 5
            (13.0, "Li", "escalated", "a06"),
            (13.5, "Li", "escalated", "a07"),
            (14.0, "Li", "escalated", "a08"),
            (14.5, "Li", "escalated", "a09"),
            (15.0, SUP, "escalated", "a00"),
            (15.0, "Li", "escalated", "a10"),
        ],
        id="the 11th in 10 minutes: one message to the supervisor, then nothing until it ends",
    ),
    pytest.param(
        [*burst(11), history("high", alarm_id="a11", at=13.5)],
        13.5,
        {},
        [
            *FIRST_TEN,
            (5.0, SUP, "flood", "a10"),
            (13.0, "Li", "escalated", "a06"),
            (13.5, "Li", "escalated", "a07"),
            (13.5, "Li", "raised", "a11"),
        ],
        id="after the flood, a new alarm is paged again",
    ),
    pytest.param(
        burst(10),
        4.5,
        {},
        FIRST_TEN,
        id="ten are not a flood",
    ),
    pytest.param(
        burst(11, every=1.0),
        10,
        {},
        sorted(
            [(i, "Li", "raised", f"a{i:02d}") for i in range(11)]
            + [(i + 5, SUP, "escalated", f"a{i:02d}") for i in range(6)]
            + [(10.0, "Li", "escalated", "a00")],
            key=lambda seen: (seen[0], seen[3]),
        ),
        id="11 in 10 minutes and not within them",
    ),
    pytest.param(
        burst(11, "low"),
        6,
        {"rules": policy(flood=None)},
        [(i / 2 + 0.5, "Li", "raised", f"a{i:02d}") for i in range(11)],
        id="no flood guard",
    ),
    pytest.param(
        burst(11, "low"),
        6,
        {"rules": policy(flood={"notify": ["on_duty", "supervisor"]})},
        # a09's page would fall due at 5:00, when the flood begins
        [(i / 2 + 0.5, "Li", "raised", f"a{i:02d}") for i in range(9)]
        + [(5.0, "Li", "flood", "a10"), (5.0, SUP, "flood", "a10")],
        id="the flood told to the person on duty as well",
    ),
]


@pytest.mark.parametrize(("histories", "until", "options", "expected"), FLOODS)
def test_a_flood_is_one_message(
    histories: list[list[AlarmChange]], until: float, options: dict[str, Any], expected: list[Seen]
) -> None:
    assert simulate(histories, until, **options) == expected


def test_a_flood_names_the_alarms_in_it() -> None:
    intents = due(burst(11), POLICY, DAY_NIGHT, MEMBERS, LONDON, [], minutes(5))
    flood = [i for i in intents if i.reason == "flood"]
    assert flood == [
        Intent(
            SUP,
            "flood",
            minutes(5),
            "a10",
            1,
            "cold-store",
            alarms=tuple(f"a{i:02d}" for i in range(11)),
        )
    ]


def test_the_defaults_are_the_reference_numbers() -> None:
    assert POLICY.model_dump(mode="json") == {
        "critical": {
            "steps": [["on_duty"], ["supervisor"]],
            "ack_timeout": "5m",
            "repeat": 3,
            "delay": "0s",
            "reminder": "1h",
        },
        "high": {
            "steps": [["on_duty"], ["supervisor"]],
            "ack_timeout": "15m",
            "repeat": 2,
            "delay": "0s",
            "reminder": "4h",
        },
        "medium": {
            "steps": [["on_duty"], ["supervisor"]],
            "ack_timeout": "30m",
            "repeat": 0,
            "delay": "30s",
            "reminder": "4h",
        },
        "low": {
            "steps": [["on_duty"]],
            "ack_timeout": "15m",
            "repeat": 0,
            "delay": "30s",
            "reminder": None,
        },
        "flood": {"more_than": 10, "within": "10m", "ends_below": 5, "notify": ["supervisor"]},
    }


def test_the_documented_policy_reads_as_written() -> None:
    text = rules.escalation.__doc__ or ""
    document = yaml.safe_load(text[text.index("    escalation:") :])
    parsed = EscalationPolicy.model_validate(document["escalation"])
    assert (parsed.critical.ack_timeout, parsed.critical.steps) == (
        timedelta(minutes=3),
        (("on_duty",), ("on_duty", "supervisor")),
    )
    assert (parsed.critical.repeat, parsed.critical.reminder) == (3, timedelta(hours=1))
    assert (parsed.low.steps, parsed.low.reminder) == ((("on_duty",),), timedelta(hours=8))
    assert parsed.high == POLICY.high
    assert parsed.flood is not None
    assert parsed.flood.notify == ("on_duty", "supervisor")


def test_a_policy_reads_back_as_it_was_written() -> None:
    written = policy(
        critical={"ack_timeout": "3m", "repeat": 5}, low={"reminder": "8h"}, flood=None
    )
    assert EscalationPolicy.model_validate(written.model_dump(mode="json")) == written


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        pytest.param({"critical": {"repeat": 6}}, "less than or equal to 5", id="repeat > 5"),
        pytest.param({"critical": {"repeat": -1}}, "greater than or equal to 0", id="repeat < 0"),
        pytest.param({"high": {"ack_timeout": "0s"}}, "must be longer than 0s", id="no timeout"),
        pytest.param({"high": {"reminder": "0m"}}, "must be longer than 0s", id="no reminder"),
        pytest.param({"high": {"delay": "-1m"}}, "not a duration", id="negative delay"),
        pytest.param({"medium": {"steps": []}}, "at least 1 item", id="no steps"),
        pytest.param({"medium": {"steps": [[]]}}, "at least 1 item", id="an empty step"),
        pytest.param(
            {"low": {"steps": ["boss"]}},
            "'on_duty', 'next_on_duty', 'post' or 'supervisor'",
            id="unknown target",
        ),
        pytest.param({"flood": {"ends_below": 11}}, r"ends_below \(11\) is above", id="flood"),
        pytest.param({"flood": {"within": "0s"}}, "must be longer than 0s", id="flood window"),
        pytest.param({"urgent": {}}, "Extra inputs", id="unknown severity"),
        pytest.param({"low": {"timeout": "5m"}}, "Extra inputs", id="unknown field"),
    ],
)
def test_a_bad_policy_is_refused_clearly(levels: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        policy(**levels)


def test_a_severity_left_out_keeps_its_defaults() -> None:
    written = policy(critical={"ack_timeout": "3m"})
    assert written.critical.model_dump(mode="json") == {
        **LEVELS["critical"],
        "ack_timeout": "3m",
        "delay": "0s",
        "steps": [["on_duty"], ["supervisor"]],
    }
    assert (written.high, written.medium, written.low) == (POLICY.high, POLICY.medium, POLICY.low)


# Lifecycles drawn at random: each operation is applied only where the alarm allows it.
ALLOWED: dict[str, Callable[[Alarm], bool]] = {
    "ack": lambda a: a.acked_at is None,
    "clear": lambda a: a.active,
    "reraise": lambda a: not a.active and a.acked_at is None,
    "realarm": lambda a: a.active and a.acked_at is not None,
}


def lifecycle(
    severity: str, alarm_id: str, at: float, ops: list[tuple[str, float]]
) -> list[AlarmChange]:
    changes = history(severity, alarm_id=alarm_id, at=at)
    t = at
    for op, wait in ops:
        t += wait
        change, kind = STEPS[op]
        alarm = changes[-1].alarm
        allowed = ALLOWED[op](alarm)
        changes += [AlarmChange(change(alarm, minutes(t)), kind, minutes(t))] if allowed else []
    return changes


alarms = st.lists(
    st.tuples(
        st.sampled_from(["critical", "high", "medium", "low"]),
        st.floats(0, 60),
        st.lists(st.tuples(st.sampled_from(sorted(STEPS)), st.floats(0, 90)), max_size=6),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=200, deadline=None)
@given(
    drawn=alarms,
    now=st.floats(0, 600),
    roster=st.sampled_from([None, DAY_NIGHT, DAYS_ONLY]),
    supervisor=st.booleans(),
    earlier=st.floats(0, 600),
    kept=st.integers(0, 20),
)
def test_due_is_idempotent(
    drawn: list[tuple[str, float, list[tuple[str, float]]]],
    now: float,
    roster: Roster | None,
    supervisor: bool,
    earlier: float,
    kept: int,
) -> None:
    histories = [lifecycle(s, f"a{i:02d}", at, ops) for i, (s, at, ops) in enumerate(drawn)]

    def ask(sent: list[Intent], at: float) -> list[Intent]:
        known = [[c for c in h if c.at <= minutes(at)] for h in histories]
        return due(known, POLICY, roster, MEMBERS, LONDON, sent, minutes(at), supervisor=supervisor)

    before = ask([], min(earlier, now))  # what an earlier ask sent
    answer = ask(before, now)
    assert ask(before, now) == answer
    assert ask(before + answer, now) == []
    assert ask(before + answer[:kept], now) == answer[kept:]
    assert all(i.at <= minutes(now) for i in answer)
    assert len({i.key for i in before + answer}) == len(before + answer)


@pytest.mark.parametrize("name", rules.escalation.__all__)
def test_an_exported_name_exists(name: str) -> None:
    assert hasattr(rules.escalation, name)
