"""A cumulative meter's consumption: what counts between two readings and what never does, and the
local calendar periods it is summed over."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter, ValidationError

from rules import meter
from rules.meter import (
    Base,
    Interval,
    Period,
    TimeZone,
    fold,
    period_index,
    period_start,
    read,
    split,
    within,
)

NAN, INF = float("nan"), float("inf")
T = 1_750_000_000.0
LONDON = ZoneInfo("Europe/London")


def instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(
    ("base", "values", "expected"),
    [
        (100.0, (101.0, 102.5), (2.5, 102.5, False)),
        (100.0, (99.995, 101.0), (1.0, 101.0, False)),
        (100.0, (3.0, 4.0), (1.0, 4.0, True)),
        (99_999.9, (0.2,), (0.0, 0.2, True)),
        (100.0, (), (0.0, 100.0, False)),
    ],
    ids=["rises", "jitter keeps the higher base", "a reset", "a rollover", "nothing"],
)
def test_fold(base: float, values: tuple[float, ...], expected: tuple[float, float, bool]) -> None:
    assert fold(base, values, 0.01) == pytest.approx(expected)


READS = [
    pytest.param(None, (5.0, 6.0), T, (Base(T, 6.0), None), id="the first reading"),
    pytest.param(
        Base(T, 5.0),
        (6.0,),
        T + 3600,
        (Base(T + 3600, 6.0), Interval(T, T + 3600, 1.0, True)),
        id="an hour",
    ),
    pytest.param(
        Base(T, 5.0),
        (6.0, 7.0),
        T,
        (Base(T, 7.0), Interval(T, T, 2.0, True)),
        id="at the same instant",
    ),
    pytest.param(
        Base(T, 5.0),
        (9.0,),
        T + 7201,
        (Base(T + 7201, 9.0), Interval(T, T + 7201, 0.0, False)),
        id="a gap",
    ),
    pytest.param(
        Base(T, 5.0),
        (1.0,),
        T + 60,
        (Base(T + 60, 1.0), Interval(T, T + 60, 0.0, False)),
        id="a reset",
    ),
    pytest.param(
        Base(T, 5.0),
        (4.995,),
        T + 60,
        (Base(T + 60, 5.0), Interval(T, T + 60, 0.0, True)),
        id="jitter",
    ),
    pytest.param(Base(T, 5.0), (9.0,), T - 1, (Base(T - 1, 9.0), None), id="clock back"),
    pytest.param(
        Base(T, 5.0),
        (NAN, 6.0, INF),
        T + 60,
        (Base(T + 60, 6.0), Interval(T, T + 60, 1.0, True)),
        id="NaN and infinity skipped",
    ),
]


@pytest.mark.parametrize(("base", "values", "at", "expected"), READS)
def test_read(
    base: Base | None,
    values: tuple[float, ...],
    at: float,
    expected: tuple[Base | None, Interval | None],
) -> None:
    assert read(base, values, at, jitter=0.01, gap=7200.0) == expected


@pytest.mark.parametrize(
    ("values", "at"),
    [((NAN,), T), ((), T), ((6.0,), NAN), ((6.0,), -1.0), ((6.0,), 1e20)],
    ids=["NaN", "nothing", "at NaN", "before 1970", "no calendar"],
)
def test_input_that_says_nothing_keeps_the_base(values: tuple[float, ...], at: float) -> None:
    base = Base(T, 5.0)
    new, interval = read(base, values, at, jitter=0.01, gap=7200.0)
    assert (new, interval) == (base, None) and new is base


PERIODS = [
    ("day", "2025-03-30T00:00:00+00:00", "2025-03-30T00:00", "2025-03-30T23:00"),  # 23 hours
    ("day", "2025-10-26T12:00:00+00:00", "2025-10-25T23:00", "2025-10-27T00:00"),  # 25 hours
    ("week", "2025-07-06T22:59:59+00:00", "2025-06-29T23:00", "2025-07-06T23:00"),
    ("week", "2025-07-06T23:00:00+00:00", "2025-07-06T23:00", "2025-07-13T23:00"),
    ("month", "2025-10-15T00:00:00+00:00", "2025-09-30T23:00", "2025-11-01T00:00"),
    ("month", "2025-12-31T23:59:00+00:00", "2025-12-01T00:00", "2026-01-01T00:00"),
]


@pytest.mark.parametrize(("period", "at", "start", "end"), PERIODS)
def test_periods_are_the_wall_clock_s(period: Period, at: str, start: str, end: str) -> None:
    index = period_index(LONDON, period, instant(at))
    assert utc(period_start(LONDON, period, index)) == start
    assert utc(period_start(LONDON, period, index + 1)) == end
    assert period_index(LONDON, period, period_start(LONDON, period, index)) == index


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (
            Interval(
                instant("2025-07-31T23:30+01:00"), instant("2025-08-01T00:30+01:00"), 4.0, True
            ),
            [(1800.0, 2.0), (1800.0, 2.0)],
        ),
        (
            Interval(
                instant("2025-07-31T22:00+01:00"), instant("2025-08-01T00:00+01:00"), 4.0, True
            ),
            [(7200.0, 4.0)],
        ),
        (
            Interval(
                instant("2025-08-01T00:00+01:00"), instant("2025-08-01T00:00+01:00"), 4.0, True
            ),
            [(0.0, 4.0)],
        ),
    ],
    ids=["across midnight", "ending on it", "an instant"],
)
def test_split_shares_in_proportion_to_time(
    interval: Interval, expected: list[tuple[float, float]]
) -> None:
    assert [(s, u) for _, s, u in split(LONDON, "month", interval)] == expected


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (Interval(100.0, 200.0, 4.0, True), (50.0, 2.0)),
        (Interval(160.0, 200.0, 4.0, True), (40.0, 4.0)),
        (Interval(0.0, 100.0, 4.0, True), (0.0, 0.0)),
        (Interval(150.0, 150.0, 4.0, True), (0.0, 4.0)),
        (Interval(250.0, 250.0, 4.0, True), (0.0, 0.0)),
    ],
    ids=["across the start", "inside", "before", "an instant inside", "an instant after"],
)
def test_within_one_period(interval: Interval, expected: tuple[float, float]) -> None:
    assert within(interval, 150.0, 250.0) == expected


def test_a_share_of_the_largest_float_does_not_overflow() -> None:
    interval = Interval(
        instant("2025-07-31T23:00+01:00"), instant("2025-08-01T01:00+01:00"), 1e308, True
    )
    assert [u for _, _, u in split(LONDON, "day", interval)] == [5e307, 5e307]


@pytest.mark.parametrize(
    ("zone", "message"),
    [("Mars/Olympus", "unknown time zone 'Mars/Olympus'"), ("", "at least 1 character")],
)
def test_a_zone_must_be_known(zone: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TypeAdapter(TimeZone).validate_python(zone)


def test_the_exports_exist() -> None:
    assert [name for name in meter.__all__ if not hasattr(meter, name)] == []
