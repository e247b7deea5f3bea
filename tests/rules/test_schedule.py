"""Opening hours: how the YAML reads, what it refuses, and which instants are open across DST."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rules.schedule import WEEKDAYS, OpeningHours, Schedule, Span, is_open, parse_span

LONDON = "Europe/London"
OFFICE = {"mon-fri": "07:00-19:00"}


def schedule(weekly: dict[str, Any], timezone: str = LONDON, **fields: Any) -> Schedule:
    return Schedule.model_validate({"timezone": timezone, "weekly": weekly} | fields)


def instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("07:00-19:00", Span(420, 1140)),
        ("7:00-19:00", Span(420, 1140)),
        (" 22:00 - 06:00 ", Span(1320, 360)),
        ("00:00-24:00", Span(0, 1440)),
        ("22:00-00:00", Span(1320, 0)),
        ("23:59-00:01", Span(1439, 1)),
    ],
)
def test_a_time_range_parses(text: str, expected: Span) -> None:
    assert parse_span(text) == expected


@pytest.mark.parametrize(
    ("span", "overnight"),
    [
        (Span(420, 1140), False),
        (Span(0, 1440), False),
        (Span(1320, 360), True),
        (Span(60, 0), True),
    ],
)
def test_a_range_ending_at_or_before_its_start_crosses_midnight(
    span: Span, overnight: bool
) -> None:
    assert span.overnight is overnight


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("7-19", "not a time range", id="no minutes"),
        pytest.param("07:00", "not a time range", id="one time"),
        pytest.param(700, "not a time range", id="a number"),
        pytest.param(None, "not a time range", id="null"),
        pytest.param("25:00-26:00", "is not a time of day", id="hour 25"),
        pytest.param("07:60-08:00", "is not a time of day", id="minute 60"),
        pytest.param("24:00-06:00", "is not a time of day", id="24:00 as a start"),
        pytest.param("07:00-24:30", "is not a time of day", id="past 24:00"),
        pytest.param("07:00-07:00", "ends when it starts", id="empty or all day"),
        pytest.param("00:00-00:00", "00:00-24:00 for the whole day", id="midnight to midnight"),
    ],
)
def test_a_bad_time_range_is_refused_clearly(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_span(value)


@pytest.mark.parametrize(
    ("weekly", "expected"),
    [
        pytest.param(OFFICE, dict.fromkeys(WEEKDAYS[:5], (Span(420, 1140),)), id="mon-fri"),
        pytest.param({"Monday": "07:00-19:00"}, {"mon": (Span(420, 1140),)}, id="full name"),
        pytest.param(
            {"fri-mon": "00:00-24:00"},
            dict.fromkeys(("fri", "sat", "sun", "mon"), (Span(0, 1440),)),
            id="a span across the weekend",
        ),
        pytest.param(
            {"sat": ["08:00-12:00", "22:00-02:00"]},
            {"sat": (Span(480, 720), Span(1320, 120))},
            id="two ranges",
        ),
        pytest.param({"sun": []}, {"sun": ()}, id="closed"),
    ],
)
def test_weekdays_read_as_written(weekly: dict[str, Any], expected: dict[str, Any]) -> None:
    assert schedule(weekly).weekly == expected


@pytest.mark.parametrize(
    ("holidays", "expected"),
    [
        pytest.param(["2025-12-25"], {date(2025, 12, 25): ()}, id="a date"),
        pytest.param([date(2025, 12, 25)], {date(2025, 12, 25): ()}, id="a YAML date"),
        pytest.param(
            [{"date": "2025-12-24", "hours": "07:00-12:00"}],
            {date(2025, 12, 24): (Span(420, 720),)},
            id="with hours",
        ),
        pytest.param(
            {"2025-12-24": ["07:00-12:00"]}, {date(2025, 12, 24): (Span(420, 720),)}, id="mapping"
        ),
    ],
)
def test_holidays_read_as_written(holidays: object, expected: dict[date, Any]) -> None:
    assert schedule(OFFICE, holidays=holidays).holidays == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"weekly": {"mond": "07:00-19:00"}}, "unknown weekday 'mond'", id="weekday"),
        pytest.param({"weekly": {"mon-xyz": "07:00-19:00"}}, "unknown weekday", id="span end"),
        pytest.param({"weekly": {1: "07:00-19:00"}}, "unknown weekday 1", id="a number"),
        pytest.param(
            {"weekly": {"mon-fri": "07:00-19:00", "wed": "08:00-09:00"}},
            "wed is given twice",
            id="a day twice",
        ),
        pytest.param({"weekly": {"mon": "25:00-26:00"}}, "not a time of day", id="bad time"),
        pytest.param({"weekly": {"mon": "07:00-07:00"}}, "ends when it starts", id="end == start"),
        pytest.param({"weekly": {"mon": ["07:00-19:00", 7]}}, "not a time range", id="number"),
        pytest.param({"holidays": ["2025-12-25", "2025-12-25"]}, "listed twice", id="holiday x2"),
        pytest.param(
            {"holidays": [date(2025, 12, 25), {"date": "2025-12-25"}]},
            "holiday 2025-12-25 is listed twice",
            id="the same holiday written two ways",
        ),
        pytest.param({"holidays": ["2025-02-30"]}, "valid date", id="no such date"),
        pytest.param({"holidays": [{"day": "2025-12-25"}]}, "a date or {date, hours}", id="key"),
        pytest.param({"timezone": "Mars/Olympus"}, "unknown time zone", id="zone"),
        pytest.param({"timezone": None}, "timezone", id="no zone"),
        pytest.param({"weeks": {}}, "Extra inputs", id="unknown key"),
    ],
)
def test_a_bad_schedule_is_refused_clearly(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Schedule.model_validate({"timezone": LONDON, "weekly": OFFICE} | fields)


def test_a_schedule_needs_its_time_zone() -> None:
    with pytest.raises(ValidationError, match="timezone\n  Field required"):
        Schedule.model_validate({"weekly": OFFICE})


def test_a_schedule_reads_back_as_it_was_written() -> None:
    written = schedule(
        {"mon-fri": "07:00-19:00", "sat": ["08:00-12:00", "22:00-02:00"]},
        holidays=["2025-12-25", {"date": "2025-12-24", "hours": "07:00-12:00"}],
    )
    assert Schedule.model_validate(written.model_dump(mode="json")) == written


# (weekly, holidays, zone, instant in UTC, open)
OPEN_AT = [
    # plain hours, end exclusive
    pytest.param(OFFICE, [], LONDON, "2025-01-08T06:59:59Z", False, id="before opening"),
    pytest.param(OFFICE, [], LONDON, "2025-01-08T07:00:00Z", True, id="at opening"),
    pytest.param(OFFICE, [], LONDON, "2025-01-08T18:59:59Z", True, id="before closing"),
    pytest.param(OFFICE, [], LONDON, "2025-01-08T19:00:00Z", False, id="at closing"),
    pytest.param(OFFICE, [], LONDON, "2025-01-11T12:00:00Z", False, id="a day not named"),
    pytest.param({}, [], LONDON, "2025-01-08T12:00:00Z", False, id="no hours at all"),
    pytest.param({"mon-sun": "00:00-24:00"}, [], LONDON, "2025-01-08T00:00:00Z", True, id="24h"),
    pytest.param(OFFICE, [], LONDON, "2025-07-02T18:30:00Z", False, id="summer 19:30 BST"),
    pytest.param(OFFICE, [], LONDON, "2025-07-02T06:00:00Z", True, id="summer 07:00 BST"),
    # the days of the DST changes (London: 30 March 01:00 UTC, 26 October 01:00 UTC)
    pytest.param({"sun": "07:00-19:00"}, [], LONDON, "2025-03-30T05:59:59Z", False, id="spring"),
    pytest.param({"sun": "07:00-19:00"}, [], LONDON, "2025-03-30T06:00:00Z", True, id="spring 7"),
    pytest.param({"sun": "07:00-19:00"}, [], LONDON, "2025-03-30T18:00:00Z", False, id="spring 19"),
    pytest.param({"sun": "07:00-19:00"}, [], LONDON, "2025-10-26T06:59:59Z", False, id="autumn"),
    pytest.param({"sun": "07:00-19:00"}, [], LONDON, "2025-10-26T07:00:00Z", True, id="autumn 7"),
    pytest.param({"sun": "07:00-19:00"}, [], LONDON, "2025-10-26T19:00:00Z", False, id="autumn 19"),
    # a range starting in the skipped hour opens when the clock jumps past its start
    pytest.param(
        {"sun": "01:30-02:30"}, [], LONDON, "2025-03-30T00:59:59Z", False, id="gap before"
    ),
    pytest.param({"sun": "01:30-02:30"}, [], LONDON, "2025-03-30T01:00:00Z", True, id="gap jump"),
    pytest.param({"sun": "01:30-02:30"}, [], LONDON, "2025-03-30T01:30:00Z", False, id="gap end"),
    # the repeated hour is inside the range both times
    pytest.param(
        {"sun": "01:00-02:00"}, [], LONDON, "2025-10-25T23:59:59Z", False, id="fold before"
    ),
    pytest.param({"sun": "01:00-02:00"}, [], LONDON, "2025-10-26T00:00:00Z", True, id="fold 1st"),
    pytest.param({"sun": "01:00-02:00"}, [], LONDON, "2025-10-26T01:00:00Z", True, id="fold 2nd"),
    pytest.param({"sun": "01:00-02:00"}, [], LONDON, "2025-10-26T02:00:00Z", False, id="fold end"),
    # across midnight, on the night the clocks change
    pytest.param({"sat": "22:00-06:00"}, [], LONDON, "2025-03-29T21:59:59Z", False, id="night -"),
    pytest.param({"sat": "22:00-06:00"}, [], LONDON, "2025-03-29T22:00:00Z", True, id="night in"),
    pytest.param({"sat": "22:00-06:00"}, [], LONDON, "2025-03-30T04:59:59Z", True, id="night 6-"),
    pytest.param({"sat": "22:00-06:00"}, [], LONDON, "2025-03-30T05:00:00Z", False, id="night 6"),
    # holidays
    pytest.param(OFFICE, ["2025-12-25"], LONDON, "2025-12-25T10:00:00Z", False, id="holiday"),
    pytest.param(OFFICE, ["2025-12-25"], LONDON, "2025-12-23T10:00:00Z", True, id="not holiday"),
    pytest.param(
        OFFICE,
        [{"date": "2025-12-24", "hours": "07:00-12:00"}],
        LONDON,
        "2025-12-24T11:59:59Z",
        True,
        id="holiday hours",
    ),
    pytest.param(
        OFFICE,
        [{"date": "2025-12-24", "hours": "07:00-12:00"}],
        LONDON,
        "2025-12-24T12:00:00Z",
        False,
        id="after holiday hours",
    ),
    pytest.param(
        {"sat": "10:00-14:00"},
        [{"date": "2025-12-28", "hours": "10:00-14:00"}],
        LONDON,
        "2025-12-28T11:00:00Z",
        True,
        id="a holiday opens a closed day",
    ),
    # a range belongs to the day it starts on
    pytest.param(
        {"fri": "22:00-06:00"}, ["2025-12-27"], LONDON, "2025-12-27T05:00:00Z", True, id="spill"
    ),
    pytest.param(
        {"fri": "22:00-06:00"}, ["2025-12-26"], LONDON, "2025-12-27T05:00:00Z", False, id="no fri"
    ),
    pytest.param(
        {},
        [{"date": "2025-12-31", "hours": "20:00-02:00"}, "2026-01-01"],
        LONDON,
        "2026-01-01T01:00:00Z",
        True,
        id="new year's eve into a holiday",
    ),
    pytest.param(
        {},
        [{"date": "2025-12-31", "hours": "20:00-02:00"}, "2026-01-01"],
        LONDON,
        "2026-01-01T02:00:00Z",
        False,
        id="new year's eve ends",
    ),
    # other zones
    pytest.param(
        {"mon-fri": "09:00-17:00"},
        [],
        "America/New_York",
        "2025-03-10T13:00:00Z",
        True,
        id="New York, the Monday after DST starts",
    ),
    pytest.param(
        {"mon-fri": "09:00-17:00"},
        [],
        "America/New_York",
        "2025-03-10T12:59:59Z",
        False,
        id="New York 08:59 EDT",
    ),
    pytest.param(
        {"mon-fri": "09:00-17:00"},
        [],
        "Australia/Sydney",
        "2025-04-06T23:00:00Z",
        True,
        id="Sydney, Monday after DST ends",
    ),
    pytest.param(
        {"mon-fri": "09:00-17:00"},
        [],
        "Australia/Sydney",
        "2025-04-06T22:59:59Z",
        False,
        id="Sydney 08:59 AEST",
    ),
    pytest.param(
        {"mon": "09:00-17:00"}, [], "Asia/Kolkata", "2025-07-07T03:30:00Z", True, id="+05:30"
    ),
    pytest.param(
        {"mon": "09:00-17:00"}, [], "Asia/Kolkata", "2025-07-07T03:29:59Z", False, id="+05:30 -"
    ),
]


@pytest.mark.parametrize(("weekly", "holidays", "zone", "at", "expected"), OPEN_AT)
def test_open_at_an_instant(
    weekly: dict[str, Any], holidays: list[Any], zone: str, at: str, expected: bool
) -> None:
    hours = schedule(weekly, zone, holidays=holidays)
    assert is_open(hours, ZoneInfo(zone), instant(at)) is expected
    assert hours.is_open(instant(at)) is expected


def test_opening_hours_take_the_zone_they_are_given() -> None:
    hours = OpeningHours.model_validate({"weekly": OFFICE})
    at = instant("2025-07-02T18:30:00Z")  # 18:30 in London's winter time, 19:30 in its summer
    assert (is_open(hours, ZoneInfo("UTC"), at), is_open(hours, ZoneInfo(LONDON), at)) == (
        True,
        False,
    )


@pytest.mark.parametrize("at", [float("nan"), float("inf"), 1e20])
def test_an_instant_no_calendar_holds_is_refused(at: float) -> None:
    with pytest.raises((ValueError, OverflowError, OSError)):
        schedule(OFFICE).is_open(at)


ZONES = [LONDON, "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham", "UTC"]


@settings(max_examples=300, deadline=None)
@given(
    span=st.integers(2, 1439).flatmap(lambda s: st.tuples(st.just(s), st.integers(1, s - 1))),
    day=st.integers(0, 6),
    zone=st.sampled_from(ZONES),
    at=st.floats(instant("2024-01-01T00:00:00Z"), instant("2027-01-01T00:00:00Z")),
)
def test_a_range_across_midnight_is_the_same_as_its_two_halves(
    span: tuple[int, int], day: int, zone: str, at: float
) -> None:
    start, end = span
    overnight = Span(start, end)
    halves = {WEEKDAYS[day]: [Span(start, 1440)], WEEKDAYS[(day + 1) % 7]: [Span(0, end)]}
    whole = OpeningHours.model_validate({"weekly": {WEEKDAYS[day]: [overnight]}})
    split = OpeningHours.model_validate({"weekly": halves})
    assert is_open(whole, ZoneInfo(zone), at) == is_open(split, ZoneInfo(zone), at)
