"""Night flow: hourly water from a cumulative meter, no zero hour in a day, and the minimum night
flow on the wall clock's night, across DST, resets and gaps."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rules.base import Transition
from rules.night_flow import (
    KIND,
    Hour,
    Night,
    NightFlowRule,
    NightFlowState,
    hour_start,
    night_hours,
    observe,
)

assert KIND.series is not None and KIND.load is not None
SERIES, LOAD = KIND.series, KIND.load
NAN, INF = float("nan"), float("inf")

Reading = tuple[float, tuple[float, ...]]  # (agent clock, values received together, m³)


def rule(**fields: Any) -> NightFlowRule:
    base = {"id": "leak", "type": "night_flow", "device": "water-main", "timezone": "Europe/London"}
    return NightFlowRule.model_validate(base | fields)


def instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M")


def metered(start: str, rates: list[float], every: float = 900.0) -> list[Reading]:
    """Readings every ``every`` seconds from ``start`` while the flow in its hour i is rates[i]
    L/h; the meter starts at 100 m³."""
    t0, steps = instant(start), int(len(rates) * 3600 / every)
    used = (rates[int(k * every // 3600)] * every / 3600 / 1000 for k in range(steps))
    values = accumulate(used, initial=100.0)
    return [(t0 + k * every, (v,)) for k, v in enumerate(values)]


def without(readings: list[Reading], start: str, end: str) -> list[Reading]:
    """The meter silent strictly between two instants."""
    return [r for r in readings if not instant(start) < r[0] < instant(end)]


def shifted(readings: list[Reading], start: str, by: float) -> list[Reading]:
    """The meter's values moved by ``by`` m³ from an instant on: a reset, or a jump."""
    t = instant(start)
    return [(at, tuple(v + by * (at >= t) for v in values)) for at, values in readings]


def run(r: NightFlowRule, readings: list[Reading]) -> tuple[NightFlowState, list[Transition]]:
    state, seen = KIND.initial(r, 0.0), []
    for at, values in readings:
        state, transitions = SERIES(r, state, "water", values, at)
        seen += transitions
    return state, seen


def changes(r: NightFlowRule, readings: list[Reading]) -> list[tuple[str, bool, float | None]]:
    rounded = [(t, None if t.value is None else round(t.value, 3)) for t in run(r, readings)[1]]
    return [(utc(t.at), t.active, value) for t, value in rounded]


LONDON = rule()
DAY = "2025-07-01T00:00:00+01:00"  # a Tuesday in summer time: 23:00 UTC the day before
NIGHTLY = ([0.0] + [20.0] * 23) * 3  # a zero hour each night, water the rest of the day

CONTINUOUS = [
    pytest.param(
        LONDON, metered(DAY, [20.0] * 26), [("2025-07-01T23:00", True, 20.0)], id="a day of flow"
    ),
    pytest.param(LONDON, metered(DAY, [20.0] * 23), [], id="23 hours are not a day"),
    pytest.param(LONDON, metered(DAY, NIGHTLY), [], id="a zero hour each night"),
    pytest.param(
        LONDON,
        metered(DAY, [20.0] * 26 + [0.0] + [20.0] * 2),
        [("2025-07-01T23:00", True, 20.0), ("2025-07-02T02:00", False, 0.0)],
        id="clears once a zero hour is final",
    ),
    pytest.param(LONDON, metered(DAY, ([0.5] + [20.0] * 23) * 2), [], id="under zero_below"),
    pytest.param(
        rule(zero_below=0.4),
        metered(DAY, ([0.5] + [20.0] * 23) * 2),
        [("2025-07-01T23:00", True, 0.5)],
        id="zero_below 0.4",
    ),
    pytest.param(
        LONDON,
        without(metered(DAY, [20.0] * 30), "2025-07-01T10:00+01:00", "2025-07-01T13:00+01:00"),
        [],
        id="a gap with water in it is unknown, not a day of flow",
    ),
    pytest.param(
        LONDON,
        without(metered(DAY, [20.0] * 30), "2025-07-02T01:00+01:00", "2025-07-02T04:00+01:00"),
        [("2025-07-01T23:00", True, 20.0)],
        id="a gap with water in it does not clear",
    ),
    pytest.param(
        LONDON,
        without(
            metered(DAY, [20.0] * 26 + [0.0] * 3 + [20.0] * 2),
            "2025-07-02T02:00+01:00",
            "2025-07-02T05:00+01:00",
        ),
        [("2025-07-01T23:00", True, 20.0), ("2025-07-02T04:00", False, 0.0)],
        id="a silent meter with no water in between: zero hours, spread",
    ),
    pytest.param(
        LONDON,
        shifted(metered(DAY, [20.0] * 30), "2025-07-01T12:00+01:00", -99.0),
        [],
        id="a reset is no water and leaves its hour unknown",
    ),
    pytest.param(
        LONDON,
        shifted(metered(DAY, [20.0] * 30), "2025-07-02T01:00+01:00", -99.0),
        [("2025-07-01T23:00", True, 20.0)],
        id="a reset does not clear",
    ),
    pytest.param(
        LONDON,
        shifted(metered(DAY, [20.0] * 26), "2025-07-01T12:00+01:00", 2.0),
        [("2025-07-01T23:00", True, 20.0)],
        id="a jump counts as water without max_flow",
    ),
    pytest.param(
        rule(max_flow=1000),
        shifted(metered(DAY, [20.0] * 26), "2025-07-01T12:00+01:00", 2.0),
        [],
        id="a jump past max_flow is a spike: its hour is unknown",
    ),
    pytest.param(
        LONDON,
        shifted(
            shifted(metered(DAY, [20.0] * 26), "2025-07-01T12:00+01:00", -0.0055),
            "2025-07-01T12:15+01:00",
            0.0055,
        ),
        [("2025-07-01T23:00", True, 15.0)],
        id="jitter under the last value is no reset",
    ),
    pytest.param(
        rule(timezone="Asia/Kolkata"),
        metered("2025-07-01T00:00:00+05:30", [20.0] * 25),
        [("2025-07-01T18:30", True, 20.0)],
        id="hours on a half-hour zone's clock",
    ),
]


@pytest.mark.parametrize(("r", "readings", "expected"), CONTINUOUS)
def test_no_zero_hour_in_a_day(
    r: NightFlowRule, readings: list[Reading], expected: list[tuple[str, bool, float]]
) -> None:
    assert changes(r, readings) == expected


T = instant(DAY)
HOURS = [
    pytest.param(LONDON, [(0, (100,)), (3600, (100.02,))], [(0, 20, True)], id="one hour"),
    pytest.param(
        LONDON,
        [(1800, (100,)), (5400, (100.06,))],
        [(0, 30, False), (1, 30, False)],
        id="spread in proportion to time",
    ),
    pytest.param(
        LONDON,
        [(0, (100,)), (1800, (100.01,)), (3600, (100.02,)), (5400, (100.05,)), (7200, (100.08,))],
        [(0, 20, True), (1, 60, True)],
        id="half-hourly readings",
    ),
    pytest.param(
        LONDON,
        [(0, (100,)), (3600, (100.02,)), (14400, (100.08,))],
        [(0, 20, True), (1, 0, False), (2, 0, False), (3, 0, False)],
        id="a gap with water in it is marked",
    ),
    pytest.param(
        LONDON,
        [(0, (100,)), (3600, (100,)), (14400, (100.0015,))],
        [(0, 0, True), (1, 0.5, True), (2, 0.5, True), (3, 0.5, True)],
        id="a gap under zero_below is spread",
    ),
    pytest.param(
        rule(gap="4h"),
        [(0, (100,)), (3600, (100.02,)), (14400, (100.08,))],
        [(0, 20, True), (1, 20, True), (2, 20, True), (3, 20, True)],
        id="readings within gap are spread",
    ),
    pytest.param(
        LONDON,
        [(0, (100,)), (1800, (100.01,)), (3600, (3.0,)), (7200, (3.02,))],
        [(0, 10, False), (1, 20, True)],
        id="a reset",
    ),
    pytest.param(
        LONDON,
        [(0, (100,)), (1800, (99.9995,)), (3600, (100.02,))],
        [(0, 20, True)],
        id="jitter keeps the higher base",
    ),
    pytest.param(
        rule(max_flow=100),
        [(0, (100,)), (1800, (100.5,)), (3600, (100.51,))],
        [(0, 10, False)],
        id="a spike above max_flow",
    ),
    pytest.param(
        LONDON,
        [(0, (100,)), (1800, (NAN,)), (2700, (INF, -INF)), (3600, (100.02,))],
        [(0, 20, True)],
        id="values that are no number are ignored",
    ),
    pytest.param(
        LONDON,
        [(0, (100,)), (3600, (100.01, 99.0, 99.02))],
        [(0, 0, False)],
        id="a reset inside a batch",
    ),
    pytest.param(
        LONDON,
        [(0, (100,)), (3600, (100.01, 100.015, 100.02))],
        [(0, 20, True)],
        id="a batch is one reading with the water of them all",
    ),
    pytest.param(
        LONDON,
        [(0, (100,)), (3600, (100.02,)), (7200, (100.04,)), (1800, (100.05,)), (3600, (100.06,))],
        [(0, 10, False)],
        id="the clock went back: what lies ahead is forgotten",
    ),
    pytest.param(
        LONDON,
        [(0, (100,)), (1800, (100.01,)), (1800, (100.015,)), (3600, (100.02,))],
        [(0, 20, True)],
        id="two readings at one instant",
    ),
]


@pytest.mark.parametrize(("r", "readings", "expected"), HOURS)
def test_hours(
    r: NightFlowRule, readings: list[Reading], expected: list[tuple[float, float, bool]]
) -> None:
    state = NightFlowState()
    for at, values in readings:
        state = observe(r, state, values, T + at)
    hours = [((h.start - T) / 3600, round(h.litres, 6), h.known) for h in state.hours]
    assert hours == expected


def test_hours_follow_a_half_hour_zone_s_clock() -> None:
    zone = rule(timezone="Asia/Kolkata").zone
    at = instant("2025-07-01T10:20:00+05:30")
    assert utc(hour_start(zone, at)) == "2025-07-01T04:30"


def test_the_hours_kept_are_bounded() -> None:
    state, _ = run(LONDON, metered(DAY, [20.0] * 100))
    assert len(state.hours) == 48


NIGHT_HOURS = [
    pytest.param("Europe/Berlin", "02:00-04:00", "2025-07-01", ["00:00", "01:00"], id="summer"),
    pytest.param("Europe/Berlin", "02:00-04:00", "2025-03-30", ["01:00"], id="spring forward"),
    pytest.param(
        "Europe/Berlin", "02:00-04:00", "2025-10-26", ["00:00", "01:00", "02:00"], id="fall back"
    ),
    pytest.param("Europe/London", "02:00-04:00", "2025-03-30", ["01:00", "02:00"], id="London"),
    pytest.param("Europe/London", "01:00-03:00", "2025-03-30", ["01:00"], id="London spring"),
    pytest.param(
        "Europe/London", "01:00-03:00", "2025-10-26", ["00:00", "01:00", "02:00"], id="London fall"
    ),
    pytest.param("Asia/Kolkata", "02:00-04:00", "2025-07-01", ["20:30", "21:30"], id="+05:30"),
    pytest.param(
        "Europe/London", "23:00-01:00", "2025-07-01", ["22:00", "23:00"], id="across midnight"
    ),
]


@pytest.mark.parametrize(("zone", "night", "day", "expected"), NIGHT_HOURS)
def test_the_night_window_is_read_on_the_wall_clock(
    zone: str, night: str, day: str, expected: list[str]
) -> None:
    r = rule(timezone=zone, mnf_above=30, night=night)
    starts = night_hours(r, datetime.fromisoformat(day).toordinal())
    assert [utc(s)[-5:] for s in starts] == expected


BERLIN = {"timezone": "Europe/Berlin", "continuous": False, "mnf_above": 30}
# Readings from 20:00 UTC, hour by hour: the fourth to the sixth hours are 00:00-03:00 UTC.
SPRING, AUTUMN = "2025-03-29T20:00:00+00:00", "2025-10-25T20:00:00+00:00"


def nights(*rates: float) -> list[float]:
    """London days from midnight, each night's 02:00-04:00 at its rate and the rest at 100 L/h."""
    return [x for rate in rates for x in [100.0] * 2 + [rate] * 2 + [100.0] * 20]


NIGHTS = [
    pytest.param(
        rule(**BERLIN),
        metered(SPRING, [40.0] * 4 + [5.0, 40.0, 5.0] + [40.0] * 3),
        [("2025-03-30T02:00", True, 40.0)],
        id="Berlin spring forward: one hour, 03:00-04:00",
    ),
    pytest.param(
        rule(**BERLIN | {"timezone": "Europe/London"}),
        metered(SPRING, [40.0] * 4 + [5.0, 40.0, 5.0] + [40.0] * 3),
        [],
        id="London that night: two hours",
    ),
    pytest.param(
        rule(**BERLIN),
        metered(AUTUMN, [40.0] * 4 + [40.0, 40.0, 5.0] + [40.0] * 3),
        [],
        id="Berlin fall back: three hours, the third quiet",
    ),
    pytest.param(
        rule(**BERLIN),
        metered(AUTUMN, [40.0] * 4 + [40.0, 40.0, 40.0, 5.0] + [40.0] * 2),
        [("2025-10-26T03:00", True, 40.0)],
        id="Berlin fall back: judged at 04:00 CET",
    ),
    pytest.param(
        rule(continuous=False, mnf_above=30),
        metered(DAY, nights(40, 10)),
        [("2025-07-01T03:00", True, 40.0), ("2025-07-02T03:00", False, 10.0)],
        id="a night below the limit clears",
    ),
    pytest.param(
        rule(continuous=False, mnf_above=30),
        metered(DAY, nights(30, 30)),
        [],
        id="at the limit is not above",
    ),
    pytest.param(
        rule(continuous=False, mnf_above=30, nights=3),
        metered(DAY, nights(40, 40, 40, 40)),
        [("2025-07-03T03:00", True, 40.0)],
        id="three nights in a row",
    ),
    pytest.param(
        rule(continuous=False, mnf_above=30, nights=3),
        metered(DAY, nights(40, 10, 40, 40)),
        [],
        id="a quiet night breaks the run",
    ),
    pytest.param(
        rule(continuous=False, mnf_above=30, nights=3),
        without(
            metered(DAY, nights(40, 40, 40, 40, 40)),
            "2025-07-02T01:00+01:00",
            "2025-07-02T05:00+01:00",
        ),
        [("2025-07-05T03:00", True, 40.0)],
        id="a night the meter missed is unknown and breaks the run",
    ),
    pytest.param(
        rule(continuous=False, mnf_above=30),
        without(
            metered(DAY, nights(40, 40, 40)),
            "2025-07-02T01:00+01:00",
            "2025-07-02T05:00+01:00",
        ),
        [("2025-07-01T03:00", True, 40.0)],
        id="an unknown night does not clear",
    ),
    pytest.param(
        rule(continuous=False, mnf_above=30),
        metered("2025-07-01T03:00:00+01:00", [40.0] * 21 + nights(40)),
        [("2025-07-02T03:00", True, 40.0)],
        id="a night seen in part is unknown",
    ),
    pytest.param(
        rule(continuous=False, mnf_above=30, night="23:00-01:00"),
        metered(DAY, [100.0] * 23 + [40.0] * 2 + [100.0] * 2),
        [("2025-07-02T00:00", True, 40.0)],
        id="a window across midnight",
    ),
    pytest.param(
        rule(mnf_above=30),
        metered(DAY, nights(40, 10)),
        [("2025-07-01T03:00", True, 40.0)],
        id="with continuous: the night clears, the day of flow still stands",
    ),
]


@pytest.mark.parametrize(("r", "readings", "expected"), NIGHTS)
def test_minimum_night_flow(
    r: NightFlowRule, readings: list[Reading], expected: list[tuple[str, bool, float]]
) -> None:
    assert changes(r, readings) == expected


def test_nights_kept_are_bounded() -> None:
    state, _ = run(rule(mnf_above=30, nights=2), metered(DAY, nights(40, 40, 40, 40)))
    assert [n.mnf for n in state.nights] == [pytest.approx(40.0)] * 2


def test_an_alarm_restored_active_stands_until_a_verdict() -> None:
    # The engine restores an alarm active before a restart as active alone.
    r = rule(mnf_above=30)
    readings = metered(DAY, [20.0] * 5)
    state, _ = run(r, readings)
    restored = NightFlowState(active=True, at=state.at, value=state.value, hours=state.hours)
    at, values = readings[-1]
    assert SERIES(r, restored, "water", (values[0] + 0.001,), at + 900)[1] == []


def test_no_tick_is_needed() -> None:
    # An hour is final only once a reading after it came: silence is the stale rule's.
    assert (KIND.tick, KIND.availability, KIND.access) == (None, None, None)


def dumped(state: NightFlowState) -> str:
    return json.dumps({f.name: getattr(state, f.name) for f in fields(state)}, allow_nan=False)


@pytest.mark.parametrize(
    "state",
    [
        NightFlowState(),
        run(rule(mnf_above=30), metered(DAY, nights(40, 40)))[0],
        NightFlowState(
            True, True, False, 1.0, 2.0, (Hour(0.0, 1.0, 3600.0, True),), (Night(1, None),)
        ),
    ],
    ids=["empty", "two days", "marked"],
)
def test_a_state_survives_json(state: NightFlowState) -> None:
    assert LOAD(json.loads(dumped(state))) == state


DEFAULTS = rule()


def test_the_defaults() -> None:
    assert (DEFAULTS.continuous, DEFAULTS.zero_below, DEFAULTS.mnf_above) == (True, 1.0, None)
    assert (DEFAULTS.night, DEFAULTS.nights, DEFAULTS.gap.total_seconds()) == ((120, 240), 1, 5400)
    assert (DEFAULTS.metric, DEFAULTS.reads()) == ("water", [("water-main", "water")])


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({}, "water running at water-main: no hour under 1 L/h in 24h"),
        (
            {"continuous": False, "mnf_above": 30, "nights": 3},
            "water running at water-main: night flow above 30 L/h for 3 nights",
        ),
        (
            {"mnf_above": 30},
            "water running at water-main: no hour under 1 L/h in 24h or night flow above 30 L/h",
        ),
    ],
)
def test_the_default_message(fields: dict[str, Any], text: str) -> None:
    assert rule(**fields).describe() == text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"timezone": "Mars/Olympus"}, "unknown time zone", id="zone"),
        pytest.param({"timezone": None}, "timezone", id="no zone"),
        pytest.param({"continuous": False}, "needs 'continuous: true' or 'mnf_above'", id="none"),
        pytest.param({"nights": 3}, "apply only with 'mnf_above'", id="nights alone"),
        pytest.param({"night": "01:00-05:00"}, "apply only with 'mnf_above'", id="night alone"),
        pytest.param({"mnf_above": 30, "nights": 0}, "greater than or equal to 1", id="0 nights"),
        pytest.param({"mnf_above": 30, "nights": True}, "not true or false", id="nights yes"),
        pytest.param({"mnf_above": 30, "night": "02:30-04:00"}, "on the hour", id="half hour"),
        pytest.param({"mnf_above": 30, "night": "02:00"}, "not a time range", id="bad window"),
        pytest.param({"mnf_above": -1}, "greater than or equal to 0", id="negative"),
        pytest.param({"zero_below": 0}, "greater than 0", id="zero_below 0"),
        pytest.param({"zero_below": "nan"}, "finite number", id="zero_below NaN"),
        pytest.param({"gap": "0s"}, "'gap' must be longer than 0s", id="gap 0"),
        pytest.param({"gap": "2d"}, "at most 1d", id="gap 2d"),
        pytest.param({"metric": "energy"}, "'water'", id="metric"),
        pytest.param({"leak": True}, "Extra inputs", id="unknown key"),
    ],
)
def test_a_bad_rule_is_refused_clearly(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**fields)


GAPS = [-86400.0, -3600.0, -1.0, 0.0, 1.0, 60.0, 900.0, 3600.0, 5400.0, 7200.0, 86400.0, 1e7]
ODD = st.sampled_from([NAN, INF, -INF, 1e308, -1e308, 0.0, -0.0005])
VALUES = st.lists(st.floats(-1e3, 1e6) | ODD, min_size=0, max_size=3).map(tuple)
ZONES = ["Europe/London", "Europe/Berlin", "Asia/Kolkata", "America/New_York", "UTC"]


@settings(max_examples=300, deadline=None)
@given(
    # Lord Howe moves its clock by half an hour: odd hours around its changes, bounded all the same.
    zone=st.sampled_from([*ZONES, "Australia/Lord_Howe"]),
    nights_=st.integers(1, 4),
    start=st.floats(instant("2024-01-01T00:00:00+00:00"), instant("2027-01-01T00:00:00+00:00")),
    steps=st.lists(st.tuples(st.sampled_from(GAPS), VALUES), max_size=40),
    odd_at=st.sampled_from([NAN, INF, -1.0, 1e20]),
)
def test_any_input_leaves_a_bounded_state_json_can_keep(
    zone: str,
    nights_: int,
    start: float,
    steps: list[tuple[float, tuple[float, ...]]],
    odd_at: float,
) -> None:
    r = rule(timezone=zone, mnf_above=30, nights=nights_)
    clock = accumulate((gap for gap, _ in steps), initial=start)
    readings = [(at, values) for at, (_, values) in zip(clock, steps, strict=False)]
    state, seen = run(r, [*readings, (odd_at, (1.0,))])
    assert len(state.hours) <= 48 and len(state.nights) <= nights_
    assert [h.start for h in state.hours] == sorted({h.start for h in state.hours})
    assert LOAD(json.loads(dumped(state))) == state
    assert [t.active for t in seen] == [i % 2 == 0 for i in range(len(seen))]


@settings(max_examples=100, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    start=st.floats(instant("2024-01-01T00:00:00+00:00"), instant("2027-01-01T00:00:00+00:00")),
    every=st.sampled_from([60.0, 300.0, 900.0, 1800.0]),
)
def test_a_steady_flow_raises_once_a_day_of_hours_is_final(
    zone: str, start: float, every: float
) -> None:
    r = rule(timezone=zone)
    readings = [
        (start + k * every, (100.0 + k * every / 3600 * 0.02,))
        for k in range(int(27 * 3600 / every))
    ]
    _, seen = run(r, readings)
    assert [t.active for t in seen] == [True]
    assert start + 24 * 3600 <= seen[0].at <= start + 25 * 3600 + every


@pytest.mark.parametrize(
    ("values", "at"),
    [((NAN,), T), ((), T), ((100.0,), NAN), ((100.0,), INF), ((100.0,), -1.0), ((100.0,), 1e20)],
    ids=["NaN", "nothing", "at NaN", "at infinity", "before 1970", "no calendar"],
)
def test_input_that_says_nothing_returns_the_state_as_is(
    values: tuple[float, ...], at: float
) -> None:
    # The writer saves only the states that are new objects.
    state = run(LONDON, metered(DAY, [20.0] * 2))[0]
    assert SERIES(LONDON, state, "water", values, at) == (state, [])
    assert SERIES(LONDON, state, "water", values, at)[0] is state
