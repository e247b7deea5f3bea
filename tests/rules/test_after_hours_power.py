"""After-hours power: the mean power over closed time against a limit or the device's own
baseload, from power or a cumulative energy meter, across DST, resets and gaps."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rules.after_hours_power import (
    KIND,
    AfterHoursPowerRule,
    AfterHoursPowerState,
    Baseline,
    Point,
    baseload,
    limit,
    mean_power,
)
from rules.base import Outcome, Transition

assert KIND.series is not None and KIND.tick is not None and KIND.load is not None
SERIES, TICK, LOAD = KIND.series, KIND.tick, KIND.load
NAN, INF = float("nan"), float("inf")
LONDON = {"timezone": "Europe/London", "weekly": {"mon-fri": "07:00-19:00"}}
EVERY_DAY = {"timezone": "Europe/London", "weekly": {"mon-sun": "07:00-19:00"}}

Step = Callable[[AfterHoursPowerRule, AfterHoursPowerState], Outcome[AfterHoursPowerState]]


def rule(**fields: Any) -> AfterHoursPowerRule:
    base = {"id": "lights-on", "type": "after_hours_power", "device": "lighting-db1"}
    return AfterHoursPowerRule.model_validate(base | {"schedule": LONDON} | fields)


def instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M")


def read(at: float, *values: float) -> Step:
    return lambda r, state: SERIES(r, state, r.metric, values, at)


def tick(at: float) -> Step:
    return lambda r, state: TICK(r, state, at)


def ticks(start: str, end: str, every: float = 300.0) -> list[Step]:
    t0, t1 = instant(start), instant(end)
    return [tick(t0 + k * every) for k in range(int((t1 - t0) // every) + 1)]


def power(start: str, watts: list[float], every: float = 300.0) -> list[Step]:
    """A power reading every ``every`` seconds from ``start``, one per value."""
    t0 = instant(start)
    return [read(t0 + k * every, w) for k, w in enumerate(watts)]


def energy(start: str, watts: list[float], every: float = 900.0, at: float = 1000.0) -> list[Step]:
    """A cumulative kWh meter read every ``every`` seconds from ``start`` (at ``at`` kWh), the
    power in the interval before reading k being watts[k]."""
    t0 = instant(start)
    kwh = accumulate((w * every / 3600 / 1000 for w in watts[1:]), initial=at)
    return [read(t0 + k * every, v) for k, v in enumerate(kwh)]


def run(
    r: AfterHoursPowerRule, steps: list[Step], state: AfterHoursPowerState | None = None
) -> tuple[AfterHoursPowerState, list[Transition]]:
    state, seen = state or KIND.initial(r, 0.0), []
    for step in steps:
        state, transitions = step(r, state)
        seen += transitions
    return state, seen


def changes(r: AfterHoursPowerRule, steps: list[Step]) -> list[tuple[str, bool, float | None]]:
    rounded = [(t, None if t.value is None else round(t.value, 3)) for t in run(r, steps)[1]]
    return [(utc(t.at), t.active, value) for t, value in rounded]


WED = "2025-07-02T18:00:00+01:00"  # a Wednesday in summer time; closes at 19:00 BST (18:00 UTC)
LIMIT = rule(limit_w=500)

AGAINST_A_LIMIT = [
    pytest.param(LIMIT, power(WED, [800] * 25), [("2025-07-02T18:30", True, 800.0)], id="on"),
    pytest.param(LIMIT, power(WED, [400] * 25), [], id="under the limit"),
    pytest.param(LIMIT, power(WED, [800] * 18), [], id="less than a window closed"),
    pytest.param(
        LIMIT,
        power(WED, [800] * 25 + [0] * 12),
        [("2025-07-02T18:30", True, 800.0), ("2025-07-02T19:20", False, 400.0)],
        id="switched off",
    ),
    pytest.param(
        LIMIT,
        power(WED, [800] * 19 + [495] * 12),
        [("2025-07-02T18:30", True, 800.0)],
        id="under the limit within the deadband does not clear",
    ),
    pytest.param(
        LIMIT,
        power(WED, [800] * 160),
        [("2025-07-02T18:30", True, 800.0), ("2025-07-03T06:00", False, None)],
        id="opening hours clear it",
    ),
    pytest.param(
        LIMIT,
        [*power(WED, [800] * 145), *ticks("2025-07-03T06:55+01:00", "2025-07-03T07:05+01:00")],
        [("2025-07-02T18:30", True, 800.0), ("2025-07-03T06:00", False, None)],
        id="a tick at opening clears it",
    ),
    pytest.param(
        LIMIT,
        [*power("2025-07-02T18:55:00+01:00", [800]), *ticks(WED, "2025-07-02T19:40+01:00")],
        [("2025-07-02T18:30", True, 800.0)],
        id="power held between readings fills the window on ticks",
    ),
    pytest.param(
        LIMIT,
        [*power(WED, [800]), *ticks(WED, "2025-07-02T20:00+01:00")],
        [],
        id="power is held for a gap at most",
    ),
    pytest.param(
        LIMIT,
        power(WED, [800] * 13 + [0] * 12, every=600),
        [("2025-07-02T18:30", True, 800.0), ("2025-07-02T19:30", False, 266.667)],
        id="a rolling window",
    ),
    pytest.param(
        rule(limit_w=500, since_close=True),
        power(WED, [800] * 7 + [1000] * 3 + [0] * 12, every=600),
        [("2025-07-02T18:30", True, 933.333), ("2025-07-02T19:20", False, 475.0)],
        id="since_close: the whole closed time",
    ),
    pytest.param(
        LIMIT,
        power("2025-07-05T10:00:00+01:00", [800] * 7),
        [("2025-07-05T09:30", True, 800.0)],
        id="a Saturday is closed all day",
    ),
    pytest.param(
        rule(limit_w=500, schedule=EVERY_DAY),
        power("2025-03-30T00:00:00+00:00", [800] * 80),
        [("2025-03-30T00:30", True, 800.0), ("2025-03-30T06:00", False, None)],
        id="the morning the clocks go forward opens at 07:00 BST",
    ),
    pytest.param(
        rule(limit_w=500, schedule=EVERY_DAY),
        power("2025-10-26T00:40:00+00:00", [800] * 5 + [0] * 8, every=600),
        [("2025-10-26T01:10", True, 800.0), ("2025-10-26T01:50", False, 266.667)],
        id="the repeated hour: 30 minutes are 30 minutes",
    ),
    pytest.param(
        LIMIT,
        [*power(WED, [800] * 17), *power("2025-07-02T19:05:00+01:00", [800] * 12)],
        [("2025-07-02T18:35", True, 800.0)],
        id="the clock went back: a new window",
    ),
    pytest.param(
        LIMIT,
        [
            *power(WED, [800] * 13),
            read(instant(WED) + 3900, NAN, INF),
            *power("2025-07-02T19:10:00+01:00", [800] * 6),
        ],
        [("2025-07-02T18:30", True, 800.0)],
        id="values that are no number are ignored",
    ),
]


@pytest.mark.parametrize(("r", "steps", "expected"), AGAINST_A_LIMIT)
def test_power_against_a_limit(
    r: AfterHoursPowerRule, steps: list[Step], expected: list[tuple[str, bool, float | None]]
) -> None:
    assert changes(r, steps) == expected


METER = rule(limit_w=500, metric="energy")
DROP = "2025-07-02T19:15:00+01:00"

FROM_A_METER = [
    pytest.param(METER, energy(WED, [800] * 9), [("2025-07-02T18:30", True, 800.0)], id="on"),
    pytest.param(METER, energy(WED, [400] * 9), [], id="under"),
    pytest.param(
        METER,
        [*energy(WED, [800] * 2), *energy(DROP, [800] * 6, at=0.0)],
        [("2025-07-02T18:45", True, 800.0)],
        id="a reset: no negative power, a new window from it",
    ),
    pytest.param(
        METER,
        [*energy(WED, [800] * 9), *energy("2025-07-02T20:15:00+01:00", [800] * 3, at=999.0)],
        [("2025-07-02T18:30", True, 800.0)],
        id="a reset does not clear",
    ),
    pytest.param(
        METER,
        [*energy(WED, [800] * 3), *energy("2025-07-02T19:45:00+01:00", [800] * 3, at=1000.6)],
        [("2025-07-02T19:15", True, 800.0)],
        id="a gap is not spread: a new window after it",
    ),
    pytest.param(
        METER,
        [*energy(WED, [800] * 5), read(instant(WED) + 4000, 1000.795), *energy(WED, [800] * 9)[5:]],
        [("2025-07-02T18:30", True, 800.0)],
        id="jitter under the last value is no reset",
    ),
    pytest.param(
        METER,
        [*energy(WED, [800] * 5), *ticks("2025-07-02T19:05+01:00", "2025-07-02T19:45+01:00")],
        [],
        id="a meter's energy is not held on ticks",
    ),
    pytest.param(
        METER,
        [read(instant(WED) + 3600, 1000.0), read(instant(WED) + 5400, 1000.1, 1000.3, 1000.4)],
        [("2025-07-02T18:30", True, 800.0)],
        id="a batch counts as one reading",
    ),
]


@pytest.mark.parametrize(("r", "steps", "expected"), FROM_A_METER)
def test_a_cumulative_energy_meter(
    r: AfterHoursPowerRule, steps: list[Step], expected: list[tuple[str, bool, float | None]]
) -> None:
    assert changes(r, steps) == expected


MONDAY = "2025-06-02T00:00:00+01:00"


def days(first: str, evenings: list[float], start_hour: int = 0) -> list[Step]:
    """Half-hourly power readings, a day per evening given: 200 W at night, 1000 W while open
    (07:00-19:00) and the evening's watts from 19:00 to midnight; from ``start_hour`` on the
    first day."""
    watts = [w for evening in evenings for w in [200] * 14 + [1000] * 24 + [evening] * 10]
    t0 = instant(first) + start_hour * 3600
    return [read(t0 + k * 1800, w) for k, w in enumerate([*watts[start_hour * 2 :], 200])]


SHARE = {"baseload_share": 1.5, "schedule": EVERY_DAY}
BASELOAD = [
    pytest.param(rule(**SHARE), days(MONDAY, [200] * 10), [], id="an ordinary evening"),
    pytest.param(
        rule(**SHARE),
        days(MONDAY, [400] * 8 + [200]),
        [("2025-06-09T18:30", True, 400.0), ("2025-06-09T23:30", False, 200.0)],
        id="no alarm before 7 days of history",
    ),
    pytest.param(
        rule(**SHARE, min_days=3),
        days(MONDAY, [400] * 4 + [200]),
        [("2025-06-05T18:30", True, 400.0), ("2025-06-05T23:30", False, 200.0)],
        id="min_days 3",
    ),
    pytest.param(
        rule(**SHARE, limit_w=350),
        days(MONDAY, [400, 200]),
        [("2025-06-02T18:30", True, 400.0), ("2025-06-02T23:30", False, 200.0)],
        id="limit_w applies from the first day",
    ),
    pytest.param(
        rule(**SHARE),
        days(MONDAY, [400] * 9, start_hour=14),
        [("2025-06-10T18:30", True, 400.0)],
        id="a first day seen in part gives no baseline",
    ),
    pytest.param(
        rule(**SHARE),
        days(MONDAY, [200] * 7 + [290]),
        [],
        id="under 150% of the baseload",
    ),
]


@pytest.mark.parametrize(("r", "steps", "expected"), BASELOAD)
def test_against_the_device_s_own_baseload(
    r: AfterHoursPowerRule, steps: list[Step], expected: list[tuple[str, bool, float | None]]
) -> None:
    assert changes(r, steps) == expected


@pytest.mark.parametrize(
    ("first", "day", "halves"),
    [
        pytest.param("2025-03-29T00:00:00+00:00", "2025-03-30", 46, id="spring forward"),
        pytest.param("2025-10-25T00:00:00+01:00", "2025-10-26", 50, id="fall back"),
        pytest.param(MONDAY, "2025-06-03", 48, id="a summer day"),
    ],
)
def test_half_hours_follow_the_local_day(first: str, day: str, halves: int) -> None:
    # Readings from midnight the day before until midnight after the day: all its half-hours.
    state, _ = run(rule(**SHARE), power(first, [200.0] * (48 + halves + 1), every=1800))
    assert (state.day, state.halves) == (datetime.fromisoformat(day).toordinal(), halves)


def test_a_day_s_baseload_is_the_mean_of_its_8_lowest_half_hours() -> None:
    watts = [100] * 4 + [300] * 4 + [150] * 2 + [1000] * 38 + [500] * 2
    state, _ = run(rule(**SHARE), power(MONDAY, watts, every=1800))
    assert state.days == (Baseline(datetime(2025, 6, 2).toordinal(), 162.5),)


def test_the_baseload_is_the_median_of_the_last_days() -> None:
    r = rule(**SHARE, baseload_days=5, min_days=3)
    history = tuple(
        Baseline(d, w) for d, w in enumerate([900.0, 100.0, 300.0, 200.0, 500.0, 400.0])
    )
    state = AfterHoursPowerState(days=history[-5:])
    assert (baseload(r, state), limit(r, state)) == (300.0, 450.0)
    assert baseload(r, AfterHoursPowerState(days=history[:2])) is None


def test_days_kept_are_bounded() -> None:
    state, _ = run(rule(**SHARE, baseload_days=3, min_days=2), days(MONDAY, [200] * 6))
    assert [d.day for d in state.days] == [datetime(2025, 6, d).toordinal() for d in (4, 5, 6)]


def test_points_kept_are_bounded() -> None:
    state, _ = run(LIMIT, power(WED, [800] * 600, every=10))
    assert len(state.points) <= 32
    assert mean_power(LIMIT, state, state.at or 0.0) == pytest.approx(800.0)


def dumped(state: AfterHoursPowerState) -> str:
    return json.dumps({f.name: getattr(state, f.name) for f in fields(state)}, allow_nan=False)


@pytest.mark.parametrize(
    "state",
    [
        AfterHoursPowerState(),
        run(LIMIT, power(WED, [800] * 25))[0],
        run(rule(**SHARE, min_days=1), days(MONDAY, [400] * 2))[0],
        AfterHoursPowerState(
            True, 1.0, 2.0, 3.0, Point(1.0, 3.0), (Point(1.0, 3.0),), Point(0.0, 0.0)
        ),
    ],
    ids=["empty", "window", "baseload", "points"],
)
def test_a_state_survives_json(state: AfterHoursPowerState) -> None:
    assert LOAD(json.loads(dumped(state))) == state


def test_the_defaults() -> None:
    r = rule(limit_w=500)
    assert (r.metric, r.window.total_seconds(), r.since_close, r.gap.total_seconds()) == (
        "power",
        1800,
        False,
        3600,
    )
    assert (r.baseload_days, r.min_days, r.reads()) == (30, 7, [("lighting-db1", "power")])
    assert rule(limit_w=1, metric="energy").reads() == [("lighting-db1", "energy")]


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"limit_w": 500}, "lighting-db1 drawing above 500 W after hours (over 30m)"),
        (
            {"limit_w": 500, "baseload_share": 1.5, "since_close": True},
            "lighting-db1 drawing above 500 W or 1.5× its baseload after hours (since closing)",
        ),
    ],
)
def test_the_default_message(fields: dict[str, Any], text: str) -> None:
    assert rule(**fields).describe() == text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({}, "needs 'limit_w' or 'baseload_share'", id="no limit"),
        pytest.param({"limit_w": 0}, "greater than 0", id="limit 0"),
        pytest.param({"limit_w": "inf"}, "finite number", id="limit inf"),
        pytest.param({"baseload_share": 1}, "greater than 1", id="share 100%"),
        pytest.param({"limit_w": 5, "min_days": 3}, "apply only with 'baseload_share'", id="days"),
        pytest.param({"baseload_share": 2, "min_days": 40}, "must not exceed", id="min > days"),
        pytest.param({"baseload_share": 2, "min_days": True}, "not true or false", id="days yes"),
        pytest.param({"limit_w": 5, "window": "0s"}, "'window' must be longer", id="window 0"),
        pytest.param({"limit_w": 5, "gap": "2d"}, "'gap' must be longer", id="gap 2d"),
        pytest.param({"limit_w": 5, "metric": "water"}, "'power' or 'energy'", id="metric"),
        pytest.param({"limit_w": 5, "schedule": {"weekly": {}}}, "timezone", id="no zone"),
        pytest.param({"limit_w": 5, "lights": "on"}, "Extra inputs", id="unknown key"),
    ],
)
def test_a_bad_rule_is_refused_clearly(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**fields)


GAPS = [-86400.0, -600.0, 0.0, 1.0, 60.0, 300.0, 1800.0, 3600.0, 7200.0, 86400.0, 1e7]
ODD = st.sampled_from([NAN, INF, -INF, 1e308, -1e308, 0.0])
VALUES = st.lists(st.floats(-1e4, 1e6) | ODD, max_size=3).map(tuple)
RULES = [
    rule(limit_w=500),
    rule(limit_w=500, metric="energy", since_close=True),
    rule(baseload_share=1.5, baseload_days=3, min_days=1, window="5m", gap="1d"),
    rule(baseload_share=1.5, metric="energy", baseload_days=2, min_days=1, schedule=EVERY_DAY),
]


@settings(max_examples=300, deadline=None)
@given(
    r=st.sampled_from(RULES),
    start=st.floats(instant("2024-01-01T00:00:00+00:00"), instant("2027-01-01T00:00:00+00:00")),
    steps=st.lists(st.tuples(st.sampled_from(GAPS), VALUES, st.booleans()), max_size=60),
    odd_at=st.sampled_from([NAN, INF, -1.0, 1e20]),
)
def test_any_input_leaves_a_bounded_state_json_can_keep(
    r: AfterHoursPowerRule,
    start: float,
    steps: list[tuple[float, tuple[float, ...], bool]],
    odd_at: float,
) -> None:
    clock = accumulate((gap for gap, _, _ in steps), initial=start)
    timed = [
        {True: read(at, *values), False: tick(at)}[is_reading]
        for at, (_, values, is_reading) in zip(clock, steps, strict=False)
    ]
    state, seen = run(r, [*timed, read(odd_at, 1.0), tick(odd_at)])
    assert len(state.points) <= 32 and len(state.lows) <= 8 and len(state.days) <= r.baseload_days
    assert LOAD(json.loads(dumped(state))) == state
    assert [t.active for t in seen] == [i % 2 == 0 for i in range(len(seen))]


@settings(max_examples=100, deadline=None)
@given(
    watts=st.floats(0, 2000).filter(lambda w: abs(w - 500) > 1e-6),
    every=st.sampled_from([10.0, 60.0, 300.0, 900.0]),
    offset=st.floats(0, 3600),
)
def test_a_steady_draw_after_close_is_judged_by_its_level(
    watts: float, every: float, offset: float
) -> None:
    start = instant("2025-07-02T19:00:00+01:00") + offset
    steps = [read(start + k * every, watts) for k in range(int(3600 / every) + 1)]
    state, _ = run(LIMIT, steps)
    assert state.active is (watts > 500)


@pytest.mark.parametrize(
    "step",
    [read(instant(WED), NAN), read(NAN, 800.0), read(1e20, 800.0), tick(NAN), tick(0.0)],
    ids=["NaN", "at NaN", "no calendar", "tick NaN", "tick before the last reading"],
)
def test_input_that_says_nothing_returns_the_state_as_is(step: Step) -> None:
    # The writer saves only the states that are new objects.
    state = run(LIMIT, power(WED, [800] * 3))[0]
    assert step(LIMIT, state)[0] is state
    assert step(LIMIT, state)[1] == []


def test_a_tick_while_open_and_quiet_changes_nothing() -> None:
    state = run(LIMIT, power(WED, [800] * 3))[0]
    assert TICK(LIMIT, state, instant(WED) + 900)[0] is state


def test_an_alarm_restored_active_clears_at_opening() -> None:
    # The engine restores an alarm active before a restart as active alone.
    state = AfterHoursPowerState(active=True, at=instant(WED), value=800.0)
    assert TICK(LIMIT, state, instant(WED) + 60) == (
        AfterHoursPowerState(at=instant(WED), value=800.0),
        [Transition(False, instant(WED) + 60, None)],
    )


def test_absurd_readings_leave_no_absurd_baseload() -> None:
    r = rule(**SHARE, min_days=1)
    state, _ = run(r, power(MONDAY, [1e300, -1e300] * 24 * 3, every=1800))
    assert (state.days, state.lows) == ((), ())
    assert LOAD(json.loads(dumped(state))) == state
