"""Deviation: a local day's (or week's) consumption against the same weekday's baseline, across
resets, gaps, DST days and too little history."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from rules import deviation
from rules.base import Transition
from rules.deviation import KIND, DeviationRule, DeviationState, Done, Part, baseline
from rules.engine import Engine
from rules.kinds import dump_state, load_state
from rules.spec import Rule

assert KIND.series is not None and KIND.load is not None
SERIES, LOAD = KIND.series, KIND.load
NAN, INF = float("nan"), float("inf")
HOUR = 3600.0

Reading = tuple[float, tuple[float, ...]]  # (agent clock, values received together, kWh)


def rule(**fields: Any) -> DeviationRule:
    base = {
        "id": "wards-day",
        "type": "deviation",
        "device": "meter-wards",
        "above_percent": 20,
        "timezone": "Europe/London",
    }
    return DeviationRule.model_validate(base | fields)


def instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M")


def midnight(day: date, zone: str) -> float:
    return datetime.combine(day, time(), ZoneInfo(zone)).timestamp()


def daily(first: str, kwhs: list[float], zone: str = "Europe/London") -> list[Reading]:
    """Hourly readings from local midnight of ``first`` while local day i uses kwhs[i] evenly
    over its hours (23 or 25 on the days the clocks change); the meter starts at 5,000 kWh."""
    day = date.fromisoformat(first)
    start = midnight(day, zone)
    per_hour = []
    for i, kwh in enumerate(kwhs):
        hours = round(
            (midnight(day + timedelta(i + 1), zone) - midnight(day + timedelta(i), zone)) / HOUR
        )
        per_hour += [kwh / hours] * hours
    values = accumulate(per_hour, initial=5000.0)
    return [(start + k * HOUR, (v,)) for k, v in enumerate(values)]


def shifted(readings: list[Reading], start: str, by: float) -> list[Reading]:
    """The meter's values moved by ``by`` kWh from an instant on: a reset, or a jump."""
    t = instant(start)
    return [(at, tuple(v + by * (at >= t) for v in values)) for at, values in readings]


def without(readings: list[Reading], start: str, end: str) -> list[Reading]:
    """The meter silent strictly between two instants."""
    return [r for r in readings if not instant(start) < r[0] < instant(end)]


def run(r: DeviationRule, readings: list[Reading]) -> tuple[DeviationState, list[Transition]]:
    state, seen = KIND.initial(r, 0.0), []
    for at, values in readings:
        state, transitions = SERIES(r, state, r.metric, values, at)
        seen += transitions
    return state, seen


def changes(r: DeviationRule, readings: list[Reading]) -> list[tuple[str, bool, float | None]]:
    return [
        (utc(t.at), t.active, None if t.value is None else round(t.value, 1))
        for t in run(r, readings)[1]
    ]


MONDAY = "2025-06-02"  # four weeks of history, then Monday 30 June
WEEKS = [100.0] * 28
JUNE_30 = "2025-06-30T23:00"  # its end: midnight in London, summer time
JULY_1 = "2025-07-01T23:00"
OFFICE = ([100.0] * 5 + [50.0] * 2) * 4  # weekdays and weekends

CASES = [
    pytest.param(
        rule(), daily(MONDAY, [*WEEKS, 130.0]), [(JUNE_30, True, 130.0)], id="a day above"
    ),
    pytest.param(rule(), daily(MONDAY, [*WEEKS, 120.0]), [], id="at the limit is not above"),
    pytest.param(
        rule(above_percent=10),
        daily(MONDAY, [*WEEKS, 111.0]),
        [(JUNE_30, True, 111.0)],
        id="above_percent 10",
    ),
    pytest.param(
        rule(), daily(MONDAY, [*WEEKS, 130.0])[:-1], [], id="judged once a reading ends the day"
    ),
    pytest.param(
        rule(),
        without(
            daily(MONDAY, [*WEEKS, 130.0, 100.0]),
            "2025-06-30T23:00+01:00",
            "2025-07-01T01:00+01:00",
        ),
        # The two hours from 23:00 are shared between the days: Monday's 5.4 and Tuesday's 4.2
        # kWh an hour make 4.8 in each.
        [("2025-07-01T00:00", True, 129.4), (JULY_1, False, 100.6)],
        id="judged at the first reading after the day",
    ),
    pytest.param(
        rule(), daily("2025-06-16", [100.0] * 14 + [130.0]), [], id="two weeks are too little"
    ),
    pytest.param(
        rule(min_weeks=2),
        daily("2025-06-16", [100.0] * 14 + [130.0]),
        [(JUNE_30, True, 130.0)],
        id="min_weeks 2",
    ),
    pytest.param(
        rule(weeks=1),
        daily("2025-06-23", [100.0] * 7 + [130.0]),
        [(JUNE_30, True, 130.0)],
        id="weeks 1: the same day last week",
    ),
    pytest.param(
        rule(),
        daily(MONDAY, [*WEEKS[:7], 300.0, *WEEKS[8:], 130.0]),
        [(JUNE_30, True, 130.0)],
        id="the median: one odd Monday does not move it",
    ),
    pytest.param(
        rule(baseline="mean"),
        daily(MONDAY, [*WEEKS[:7], 300.0, *WEEKS[8:], 130.0]),
        [],
        id="the mean: it does",
    ),
    pytest.param(
        rule(),
        daily(MONDAY, [*WEEKS, 130.0, 100.0]),
        [(JUNE_30, True, 130.0), (JULY_1, False, 100.0)],
        id="a normal day clears",
    ),
    pytest.param(
        rule(),
        daily(MONDAY, [*WEEKS, 130.0, 119.0, 117.0]),
        [(JUNE_30, True, 130.0), ("2025-07-02T23:00", False, 117.0)],
        id="clears under the limit by the deadband",
    ),
    pytest.param(
        rule(),
        daily(MONDAY, [*OFFICE, 100.0, 100.0, 100.0, 100.0, 100.0, 55.0, 55.0]),
        [],
        id="weekdays against weekdays, weekends against weekends",
    ),
    pytest.param(
        rule(),
        daily(MONDAY, [*OFFICE, 100.0, 100.0, 100.0, 100.0, 100.0, 65.0]),
        [("2025-07-05T23:00", True, 65.0)],
        id="a weekend day above its own",
    ),
    pytest.param(
        rule(),
        shifted(daily(MONDAY, [*WEEKS, 130.0]), "2025-06-30T12:00+01:00", -4000.0),
        [],
        id="a reset leaves the day unknown",
    ),
    pytest.param(
        rule(),
        shifted(daily(MONDAY, [*WEEKS, 100.0]), "2025-06-30T12:00+01:00", 500.0),
        [(JUNE_30, True, 600.0)],
        id="a jump is consumption: spikes are quarantined before the rules",
    ),
    pytest.param(
        rule(),
        without(daily(MONDAY, [*WEEKS, 130.0]), "2025-06-30T09:00+01:00", "2025-06-30T12:00+01:00"),
        [],
        id="a gap leaves the day unknown",
    ),
    pytest.param(
        rule(),
        without(
            daily(MONDAY, [*WEEKS, 130.0, 100.0, 100.0]),
            "2025-07-01T09:00+01:00",
            "2025-07-01T12:00+01:00",
        ),
        [(JUNE_30, True, 130.0), ("2025-07-02T23:00", False, 100.0)],
        id="an unknown day does not clear",
    ),
    pytest.param(
        rule(min_weeks=4),
        daily(MONDAY, [*WEEKS, 130.0])[12:],
        [],
        id="a day seen in part is no baseline",
    ),
    pytest.param(
        rule(min_weeks=4),
        daily(MONDAY, [*WEEKS, 130.0]),
        [(JUNE_30, True, 130.0)],
        id="four whole Mondays are",
    ),
    pytest.param(
        rule(),
        daily("2025-09-28", [100.0] * 28 + [100.0 * 25 / 24]),
        [],
        id="the day the clocks go back: 25 hours, a day's total",
    ),
    pytest.param(
        rule(),
        daily("2025-09-28", [100.0] * 28 + [130.0]),
        [("2025-10-27T00:00", True, 130.0)],
        id="the day the clocks go back ends at midnight GMT",
    ),
    pytest.param(
        rule(),
        daily("2025-03-02", [100.0] * 28 + [130.0]),
        [("2025-03-30T23:00", True, 130.0)],
        id="the day the clocks go forward ends at midnight BST",
    ),
    pytest.param(
        rule(timezone="Asia/Shanghai"),
        daily(MONDAY, [*WEEKS, 130.0], zone="Asia/Shanghai"),
        [("2025-06-30T16:00", True, 130.0)],
        id="days of the zone",
    ),
    pytest.param(
        rule(period="week"),
        daily(MONDAY, [100.0] * 28 + [130.0] * 7 + [0.0]),
        [("2025-07-06T23:00", True, 910.0)],
        id="a week above the last weeks",
    ),
    pytest.param(
        rule(period="week"),
        daily(MONDAY, [100.0] * 14 + [130.0] * 7 + [0.0]),
        [],
        id="two weeks of weeks are too little",
    ),
    pytest.param(
        rule(),
        daily(MONDAY, [0.0] * 28 + [0.5]),
        [(JUNE_30, True, 0.5)],
        id="above nothing is above",
    ),
    pytest.param(
        rule(min_excess=1),
        daily(MONDAY, [0.0] * 28 + [0.5]),
        [],
        id="min_excess",
    ),
]


@pytest.mark.parametrize(("r", "readings", "expected"), CASES)
def test_deviation(
    r: DeviationRule, readings: list[Reading], expected: list[tuple[str, bool, float | None]]
) -> None:
    assert changes(r, readings) == expected


@pytest.mark.parametrize(
    ("r", "done", "key", "expected"),
    [
        (rule(), [Done(k, 100.0) for k in range(1, 30)], 29, 100.0),
        (rule(), [Done(22, 90.0), Done(15, 110.0), Done(8, 300.0), Done(1, 50.0)], 29, 100.0),
        (rule(baseline="mean"), [Done(22, 90.0), Done(15, 110.0), Done(8, 300.0)], 29, 500 / 3),
        (rule(), [Done(22, 90.0), Done(15, 110.0)], 29, None),
        (rule(), [Done(22, 90.0), Done(15, 110.0), Done(1, 300.0)], 29, 110.0),
        (
            rule(),
            [Done(21, 90.0), Done(15, 500.0), Done(14, 110.0), Done(7, 300.0), Done(0, 100.0)],
            28,
            105.0,
        ),
        (rule(period="week"), [Done(3, 700.0), Done(2, 800.0), Done(1, 600.0)], 4, 700.0),
    ],
    ids=["steady", "median of four", "mean", "two", "five weeks back", "other weekday", "weeks"],
)
def test_the_baseline(r: DeviationRule, done: list[Done], key: int, expected: float | None) -> None:
    assert baseline(r, done, key) == (None if expected is None else pytest.approx(expected))


def test_the_days_kept_are_bounded() -> None:
    state, _ = run(rule(weeks=2), daily(MONDAY, [100.0] * 40))
    assert len(state.done) == 14
    assert [d.key for d in state.done] == list(range(state.done[0].key, state.done[0].key + 14))


def test_an_alarm_restored_active_stands_until_a_verdict() -> None:
    # The engine restores an alarm active before a restart as active alone.
    r = rule()
    state, _ = run(r, daily(MONDAY, [100.0] * 2))
    restored = DeviationState(True, state.at, state.value, state.open, state.done)
    assert SERIES(r, restored, "energy", (5300.0,), instant("2025-06-04T01:00+01:00"))[1] == []


def test_no_tick_is_needed() -> None:
    # A period is judged only once a reading after it came: silence is the stale rule's.
    assert (KIND.tick, KIND.availability, KIND.access, KIND.device_series) == (None,) * 4


def dumped(state: DeviationState) -> str:
    return json.dumps({f.name: getattr(state, f.name) for f in fields(state)}, allow_nan=False)


@pytest.mark.parametrize(
    "state",
    [
        DeviationState(),
        run(rule(), daily(MONDAY, [*WEEKS, 130.0]))[0],
        DeviationState(True, 1.0, 2.0, Part(739_432, 1.7e9, 3.0, 4.0, True), (Done(739_431, 5.0),)),
    ],
    ids=["empty", "four weeks", "marked"],
)
def test_a_state_survives_json_and_the_store(state: DeviationState) -> None:
    assert LOAD(json.loads(dumped(state))) == state
    assert load_state(dump_state(state)) == state


def test_the_defaults() -> None:
    r = rule()
    assert (r.metric, r.period, r.baseline, r.weeks, r.min_weeks, r.needed) == (
        "energy",
        "day",
        "median",
        4,
        None,
        3,
    )
    assert (r.min_excess, r.gap.total_seconds()) == (0.0, 7200.0)
    assert (rule(weeks=2).needed, rule(weeks=6, min_weeks=5).needed) == (2, 5)
    assert rule(metric="water").reads() == [("meter-wards", "water")]


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({}, "meter-wards energy of the day more than 20% above its baseline"),
        (
            {"metric": "water", "period": "week", "above_percent": 12.5},
            "meter-wards water of the week more than 12.5% above its baseline",
        ),
    ],
)
def test_the_default_message(fields: dict[str, Any], text: str) -> None:
    assert rule(**fields).describe() == text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"above_percent": None}, "above_percent\n  Input should be", id="no limit"),
        pytest.param({"above_percent": 0}, "greater than 0", id="0%"),
        pytest.param({"above_percent": "inf"}, "finite number", id="inf%"),
        pytest.param({"period": "month"}, "'day' or 'week'", id="month"),
        pytest.param({"baseline": "p90"}, "'median' or 'mean'", id="baseline"),
        pytest.param({"weeks": 0}, "greater than or equal to 1", id="0 weeks"),
        pytest.param({"weeks": 53}, "less than or equal to 52", id="53 weeks"),
        pytest.param({"weeks": True}, "not true or false", id="weeks yes"),
        pytest.param(
            {"min_weeks": 5}, r"'min_weeks' \(5\) must not exceed 'weeks' \(4\)", id="min"
        ),
        pytest.param({"min_excess": -1}, "greater than or equal to 0", id="min_excess"),
        pytest.param({"timezone": "Mars/Olympus"}, "unknown time zone", id="zone"),
        pytest.param({"timezone": None}, "timezone", id="no zone"),
        pytest.param({"gap": "0s"}, "'gap' must be longer than 0s", id="gap 0"),
        pytest.param({"gap": "2d"}, "at most 1d", id="gap 2d"),
        pytest.param({"metric": "temperature"}, "'energy' or 'water'", id="metric"),
        pytest.param({"above": 20}, "Extra inputs", id="unknown key"),
    ],
)
def test_a_bad_rule_is_refused_clearly(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**fields)


def test_through_the_engine_a_high_day_raises_and_a_restart_keeps_the_history() -> None:
    rules: list[Rule] = TypeAdapter(list[Rule]).validate_python(
        [
            {
                "id": "water-day",
                "type": "deviation",
                "device": "water-main",
                "metric": "water",
                "above_percent": 25,
                "timezone": "Europe/London",
                "post": "plumber",
            }
        ]
    )
    readings = daily(MONDAY, [*WEEKS, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 130.0])
    engine = Engine(rules, readings[0][0], new_id=lambda: "a1")
    half = len(readings) // 2
    for at, values in readings[:half]:
        assert engine.on_series("water-main", "water", values, at) == []
    restored = Engine.restore(
        rules,
        readings[half][0],
        {k: load_state(dump_state(v)) for k, v in engine.states.items()},
        engine.alarms.values(),
    )
    raised = [
        change
        for at, values in readings[half:]
        for change in restored.on_series("water-main", "water", values, at)
    ]
    assert [(c.kind, c.alarm.device, c.alarm.post, utc(c.at)) for c in raised] == [
        ("raised", "water-main", "plumber", "2025-07-07T23:00")
    ]
    assert raised[0].alarm.value == pytest.approx(130.0)


GAPS = [-86400.0, -1.0, 0.0, 1.0, 900.0, 3600.0, 7200.0, 86400.0, 40 * 86400.0]
ODD = st.sampled_from([NAN, INF, -INF, 1e308, -1e308, 0.0])
VALUES = st.lists(st.floats(-1e3, 1e9) | ODD, min_size=0, max_size=3).map(tuple)


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(["Europe/London", "Asia/Kolkata", "America/New_York", "UTC"]),
    period=st.sampled_from(["day", "week"]),
    weeks=st.integers(1, 3),
    start=st.floats(instant("2024-01-01T00:00:00+00:00"), instant("2027-01-01T00:00:00+00:00")),
    steps=st.lists(st.tuples(st.sampled_from(GAPS), VALUES), max_size=60),
)
def test_any_input_leaves_a_bounded_state_json_can_keep(
    zone: str, period: str, weeks: int, start: float, steps: list[tuple[float, tuple[float, ...]]]
) -> None:
    r = rule(timezone=zone, period=period, weeks=weeks, min_weeks=1)
    clock = accumulate((gap for gap, _ in steps), initial=start)
    state, seen = run(r, [(at, values) for at, (_, values) in zip(clock, steps, strict=False)])
    assert len(state.done) <= r.step * weeks
    assert [d.key for d in state.done] == sorted({d.key for d in state.done})
    assert LOAD(json.loads(dumped(state))) == state
    assert [t.active for t in seen] == [i % 2 == 0 for i in range(len(seen))]


@pytest.mark.parametrize(
    ("values", "at"),
    [((NAN,), 1.75e9), ((), 1.75e9), ((5100.0,), NAN), ((5100.0,), -1.0), ((5100.0,), 1e20)],
    ids=["NaN", "nothing", "at NaN", "before 1970", "no calendar"],
)
def test_input_that_says_nothing_returns_the_state_as_is(
    values: tuple[float, ...], at: float
) -> None:
    # The writer saves only the states that are new objects.
    state = run(rule(), daily(MONDAY, [100.0]))[0]
    assert SERIES(rule(), state, "energy", values, at)[0] is state


def test_the_exports_exist() -> None:
    assert [name for name in deviation.__all__ if not hasattr(deviation, name)] == []
