"""Monthly budget: consumption so far projected to the local month's end, for one meter or a
department's several, across resets, gaps, spikes, DST months and the turn of the month."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from rules import budget
from rules.base import Transition
from rules.budget import KIND, BudgetRule, BudgetState, Metered, projection, used
from rules.engine import Engine
from rules.kinds import dump_state, load_state
from rules.spec import Rule

assert KIND.device_series is not None and KIND.tick is not None and KIND.load is not None
SERIES, TICK, LOAD = KIND.device_series, KIND.tick, KIND.load
NAN, INF = float("nan"), float("inf")
HOUR = 3600.0

Reading = tuple[str, float, tuple[float, ...]]  # (meter, agent clock, values received together)


def rule(**fields: Any) -> BudgetRule:
    base = {
        "id": "wards-month",
        "type": "budget",
        "device": "meter-wards",
        "budget": 7000,
        "timezone": "Europe/London",
    }
    return BudgetRule.model_validate(base | fields)


def instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M")


def metered(start: str, hours: int, kw: float = 10.0, meter: str = "meter-wards") -> list[Reading]:
    """Hourly readings of a meter drawing ``kw`` from ``start``; it starts at 5,000 kWh."""
    return profile(start, [kw] * hours, meter)


def profile(start: str, kws: list[float], meter: str = "meter-wards") -> list[Reading]:
    """Hourly readings of a meter drawing kws[i] in its hour i; it starts at 5,000 kWh."""
    t0 = instant(start)
    values = accumulate(kws, initial=5000.0)
    return [(meter, t0 + k * HOUR, (v,)) for k, v in enumerate(values)]


def shifted(readings: list[Reading], start: str, by: float) -> list[Reading]:
    """The values moved by ``by`` from an instant on: a reset, a rollover, or a jump."""
    t = instant(start)
    return [(m, at, tuple(v + by * (at >= t) for v in values)) for m, at, values in readings]


def without(readings: list[Reading], start: str, end: str) -> list[Reading]:
    """The meter silent strictly between two instants."""
    return [r for r in readings if not instant(start) < r[1] < instant(end)]


def run(r: BudgetRule, readings: list[Reading]) -> tuple[BudgetState, list[Transition]]:
    state, seen = KIND.initial(r, 0.0), []
    for meter, at, values in sorted(readings, key=lambda x: x[1]):
        state, transitions = SERIES(r, state, meter, "energy", values, at)
        seen += transitions
    return state, seen


def changes(r: BudgetRule, readings: list[Reading]) -> list[tuple[str, bool, float | None]]:
    return [
        (utc(t.at), t.active, None if t.value is None else round(t.value, 1))
        for t in run(r, readings)[1]
    ]


JULY = "2025-07-01T00:00:00+01:00"  # July in London: 744 hours, 7,440 kWh at 10 kW
WEEK_IN = "2025-07-07T23:00"  # a week of July's readings: the projection is first judged

CASES = [
    pytest.param(rule(budget=8000), metered(JULY, 240), [], id="on track"),
    pytest.param(
        rule(), metered(JULY, 240), [(WEEK_IN, True, 7440.0)], id="projected past the budget"
    ),
    pytest.param(rule(), metered(JULY, 167), [], id="not before a week of readings"),
    pytest.param(
        rule(min_elapsed="3d"),
        metered(JULY, 100),
        [("2025-07-03T23:00", True, 7440.0)],
        id="min_elapsed 3d",
    ),
    pytest.param(
        rule(budget=500),
        metered(JULY, 60),
        [("2025-07-03T02:00", True, 510.0)],
        id="past the budget already: raised in the first days",
    ),
    pytest.param(
        rule(),
        profile(JULY, [10.0] * 168 + [0.0] * 20),
        # 1,680 kWh in 183 h projects 6,830 kWh: under 7,000 by the 2% deadband. From 179 h
        # (6,983 kWh) it is under the budget, but not by the deadband.
        [(WEEK_IN, True, 7440.0), ("2025-07-08T14:00", False, 6830.2)],
        id="clears under the budget by the deadband",
    ),
    pytest.param(
        rule(deadband=0),
        profile(JULY, [10.0] * 168 + [0.0] * 20),
        [(WEEK_IN, True, 7440.0), ("2025-07-08T10:00", False, 6982.8)],
        id="deadband 0",
    ),
    pytest.param(
        rule(),
        metered("2025-07-20T00:00:00+01:00", 300),
        [("2025-07-26T23:00", True, 7440.0), ("2025-07-31T23:00", False, None)],
        id="the next month clears",
    ),
    pytest.param(
        rule(budget=7500),
        shifted(metered(JULY, 240), "2025-07-04T12:00+01:00", -5000.0),
        [],
        id="a reset is no consumption",
    ),
    pytest.param(
        rule(),
        shifted(metered(JULY, 240), "2025-07-04T12:00+01:00", -5000.0),
        [("2025-07-08T00:00", True, 7440.0)],
        id="a reset: its hour is unknown, projected at the month's rate",
    ),
    pytest.param(
        rule(budget=7500),
        shifted(metered(JULY, 240), "2025-07-04T12:00+01:00", -99_999.0),
        [],
        id="a rollover to near zero is no consumption",
    ),
    pytest.param(
        rule(budget=7500),
        shifted(
            without(metered(JULY, 240), "2025-07-04T12:00+01:00", "2025-07-04T18:00+01:00"),
            "2025-07-04T18:00+01:00",
            3000.0,
        ),
        [],
        id="a gap's rise is not counted",
    ),
    pytest.param(
        rule(budget=7500),
        shifted(metered(JULY, 240), "2025-07-04T12:00+01:00", 3000.0),
        [("2025-07-07T23:00", True, 20725.7)],
        id="a jump is consumption: spikes are quarantined before the rules",
    ),
    pytest.param(
        rule(budget=7445),
        metered(JULY, 240),
        [],
        id="July: 744 hours",
    ),
    pytest.param(
        rule(budget=7445),
        metered("2025-10-01T00:00:00+01:00", 240),
        [("2025-10-07T23:00", True, 7450.0)],
        id="October in London: 745 hours, the clocks go back",
    ),
    pytest.param(
        rule(budget=7435, timezone="UTC"),
        metered("2025-03-01T00:00:00+00:00", 240),
        [("2025-03-08T00:00", True, 7440.0)],
        id="March in UTC: 744 hours",
    ),
    pytest.param(
        rule(budget=7435),
        metered("2025-03-01T00:00:00+00:00", 240),
        [],
        id="March in London: 743 hours, the clocks go forward",
    ),
    pytest.param(
        rule(timezone="Asia/Shanghai"),
        metered("2025-07-20T00:00:00+08:00", 300),
        [("2025-07-26T16:00", True, 7440.0), ("2025-07-31T16:00", False, None)],
        id="the month turns at the zone's midnight",
    ),
    pytest.param(
        rule(budget=7000, meters=["meter-outpatient"]),
        metered(JULY, 240, kw=5.0) + metered(JULY, 240, kw=5.0, meter="meter-outpatient"),
        [(WEEK_IN, True, 7440.0)],
        id="a department: its meters summed",
    ),
    pytest.param(
        rule(budget=7000, meters=["meter-outpatient"]),
        metered(JULY, 240, kw=5.0)
        + metered("2025-07-03T00:00:00+01:00", 200, kw=5.0, meter="meter-outpatient"),
        [("2025-07-09T23:00", True, 7440.0)],
        id="a department waits for each meter's week",
    ),
    pytest.param(
        rule(budget=7000, meters=["meter-outpatient"]),
        metered(JULY, 240, kw=10.0),
        [],
        id="a department's silent meter: no projection",
    ),
]


@pytest.mark.parametrize(("r", "readings", "expected"), CASES)
def test_budget(
    r: BudgetRule, readings: list[Reading], expected: list[tuple[str, bool, float | None]]
) -> None:
    assert changes(r, readings) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2025-07-31T15:59:59+00:00", []),
        ("2025-07-31T16:00:00+00:00", [False]),
    ],
    ids=["before midnight in Shanghai", "at it"],
)
def test_a_tick_at_the_next_month_clears_a_silent_meter(now: str, expected: list[bool]) -> None:
    r = rule(timezone="Asia/Shanghai")
    state, _ = run(r, metered("2025-07-20T00:00:00+08:00", 200))
    new, transitions = TICK(r, state, instant(now))
    assert [t.active for t in transitions] == expected
    assert used(r, new) == (0.0 if expected else pytest.approx(2000.0))


def test_the_next_month_keeps_the_base_and_counts_from_its_start() -> None:
    r = rule()
    state, _ = run(r, metered("2025-07-31T23:00:00+01:00", 0))
    state = TICK(r, state, instant("2025-08-01T00:00:00+01:00"))[0]
    # 15 kWh in the hour and a half to 00:30: a third of it is August's.
    at = instant("2025-08-01T00:30:00+01:00")
    state = SERIES(r, state, "meter-wards", "energy", (5015.0,), at)[0]
    assert state.meters == (Metered("meter-wards", at, 5015.0, 5.0, 1800.0),)


def test_a_meter_no_longer_in_the_rule_is_forgotten() -> None:
    readings = metered(JULY, 3) + metered(JULY, 3, meter="meter-outpatient")
    state, _ = run(rule(meters=["meter-outpatient"]), readings)
    at = instant(JULY) + 4 * HOUR
    state = SERIES(rule(), state, "meter-wards", "energy", (5040.0,), at)[0]
    assert [m.device for m in state.meters] == ["meter-wards"]


def test_a_meter_the_rule_does_not_read_changes_nothing() -> None:
    state, _ = run(rule(), metered(JULY, 3))
    assert SERIES(rule(), state, "meter-kitchen", "energy", (1.0,), instant(JULY) + 4 * HOUR) == (
        state,
        [],
    )


def test_an_alarm_restored_active_stands_until_a_verdict() -> None:
    # The engine restores an alarm active before a restart as active alone.
    r = rule()
    state, _ = run(r, metered(JULY, 10))
    restored = BudgetState(True, state.month, state.starts, state.ends, state.meters)
    assert (
        SERIES(r, restored, "meter-wards", "energy", (5100.0,), instant(JULY) + 10 * HOUR)[1] == []
    )


def test_the_projection_is_the_run_rate_over_the_covered_time() -> None:
    r = rule(meters=["meter-outpatient"])
    state, _ = run(
        r,
        metered(JULY, 200, kw=4.0)
        + without(
            metered(JULY, 200, kw=6.0, meter="meter-outpatient"),
            "2025-07-02T00:00+01:00",
            "2025-07-03T00:00+01:00",
        ),
    )
    # 4 kW and 6 kW over all of July's 744 hours, the silent day at the meter's own rate.
    assert projection(r, state) == pytest.approx(7440.0)
    assert used(r, state) == pytest.approx(800.0 + 6.0 * (200 - 24))


def dumped(state: BudgetState) -> str:
    return json.dumps({f.name: getattr(state, f.name) for f in fields(state)}, allow_nan=False)


@pytest.mark.parametrize(
    "state",
    [
        BudgetState(),
        run(rule(meters=["meter-outpatient"]), metered(JULY, 200))[0],
        BudgetState(True, 24306, 1.6e9, 1.7e9, (Metered("a", 1.0, 2.0, 3.0, 4.0),)),
    ],
    ids=["empty", "a week", "active"],
)
def test_a_state_survives_json_and_the_store(state: BudgetState) -> None:
    assert LOAD(json.loads(dumped(state))) == state
    assert load_state(dump_state(state)) == state


def test_the_defaults() -> None:
    r = rule()
    assert (r.metric, r.meters, r.deadband, r.band) == ("energy", (), None, 140.0)
    assert (r.min_elapsed.days, r.gap.total_seconds()) == (7, 7200.0)
    assert r.reads() == [("meter-wards", "energy")]
    assert rule(meters=["b", "c"], metric="water").reads() == [
        ("meter-wards", "water"),
        ("b", "water"),
        ("c", "water"),
    ]


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({}, "meter-wards energy projected past the monthly budget of 7000 kWh"),
        (
            {"metric": "water", "budget": 1200.5, "meters": ["w2"]},
            "meter-wards, w2 water projected past the monthly budget of 1200.5 m³",
        ),
    ],
)
def test_the_default_message(fields: dict[str, Any], text: str) -> None:
    assert rule(**fields).describe() == text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"budget": None}, "budget\n  Input should be a valid number", id="no budget"),
        pytest.param({"budget": 0}, "greater than 0", id="budget 0"),
        pytest.param({"budget": "nan"}, "finite number", id="budget NaN"),
        pytest.param({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'", id="zone"),
        pytest.param({"timezone": ""}, "at least 1 character", id="empty zone"),
        pytest.param({"meters": ["b", "b"]}, "'meters' names b twice", id="a meter twice"),
        pytest.param(
            {"meters": ["meter-wards"]}, "'meters' names meter-wards twice", id="device in meters"
        ),
        pytest.param({"deadband": 7000}, "deadband must be smaller than the budget", id="band"),
        pytest.param({"deadband": -1}, "greater than or equal to 0", id="negative band"),
        pytest.param({"min_elapsed": "29d"}, "between 0s and 28d", id="min_elapsed 29d"),
        pytest.param({"min_elapsed": "a week"}, "not a duration", id="min_elapsed words"),
        pytest.param({"gap": "0s"}, "'gap' must be longer than 0s", id="gap 0"),
        pytest.param({"gap": "2d"}, "at most 1d", id="gap 2d"),
        pytest.param({"max_rate": 50}, "Extra inputs", id="max_rate: the meter's counter"),
        pytest.param({"metric": "power"}, "'energy' or 'water'", id="metric"),
        pytest.param({"monthly": 7000}, "Extra inputs", id="unknown key"),
    ],
)
def test_a_bad_rule_is_refused_clearly(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**fields)


def test_through_the_engine_a_department_raises_once_and_the_month_clears() -> None:
    rules: list[Rule] = TypeAdapter(list[Rule]).validate_python(
        [
            {
                "id": "east-wing",
                "type": "budget",
                "device": "meter-wards",
                "meters": ["meter-outpatient"],
                "budget": 7000,
                "timezone": "Europe/London",
                "post": "electrician",
                "severity": "low",
            }
        ]
    )
    engine = Engine(rules, instant(JULY), new_id=lambda: "a1")
    readings = metered(JULY, 200, kw=5.0) + metered(JULY, 200, kw=5.0, meter="meter-outpatient")
    raised = [
        change
        for meter, at, values in sorted(readings, key=lambda x: x[1])
        for change in engine.on_series(meter, "energy", values, at)
    ]
    assert [(c.kind, c.alarm.device, c.alarm.post, utc(c.at)) for c in raised] == [
        ("raised", "meter-wards", "electrician", WEEK_IN)
    ]
    assert raised[0].alarm.value == pytest.approx(7440.0)
    restored = Engine.restore(
        rules,
        instant(JULY),
        {k: load_state(dump_state(v)) for k, v in engine.states.items()},
        engine.alarms.values(),
    )
    cleared = restored.on_tick(instant("2025-08-01T00:00:00+01:00"))
    assert [(c.kind, c.alarm.value) for c in cleared] == [("cleared", None)]


GAPS = [-86400.0, -1.0, 0.0, 1.0, 900.0, 3600.0, 7200.0, 86400.0, 40 * 86400.0]
ODD = st.sampled_from([NAN, INF, -INF, 1e308, -1e308, 0.0])
VALUES = st.lists(st.floats(-1e3, 1e9) | ODD, min_size=0, max_size=3).map(tuple)


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(["Europe/London", "Asia/Kolkata", "America/New_York", "UTC"]),
    start=st.floats(instant("2024-01-01T00:00:00+00:00"), instant("2027-01-01T00:00:00+00:00")),
    steps=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(GAPS), VALUES), max_size=40
    ),
    odd_at=st.sampled_from([NAN, INF, -1.0, 1e20]),
)
def test_any_input_leaves_a_bounded_state_json_can_keep(
    zone: str, start: float, steps: list[tuple[str, float, tuple[float, ...]]], odd_at: float
) -> None:
    r = rule(device="a", meters=["b"], timezone=zone, budget=100, min_elapsed="1h")
    clock = accumulate((gap for _, gap, _ in steps), initial=start)
    state, seen = KIND.initial(r, 0.0), []
    for at, (meter, _, values) in zip(clock, steps, strict=False):
        state, transitions = SERIES(r, state, meter, "energy", values, at)
        seen += transitions
        state, transitions = TICK(r, state, odd_at)
        seen += transitions
    assert sorted(m.device for m in state.meters) == sorted({m.device for m in state.meters})
    assert {m.device for m in state.meters} <= {"a", "b"}
    assert all(m.used >= 0 and m.covered >= 0 for m in state.meters)
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
    state = run(rule(), metered(JULY, 3))[0]
    assert SERIES(rule(), state, "meter-wards", "energy", values, at)[0] is state
    assert TICK(rule(), state, at)[0] is state


def test_the_exports_exist() -> None:
    assert [name for name in budget.__all__ if not hasattr(budget, name)] == []
