"""Durations as people write them in the site YAML, and back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.duration import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(minutes=90)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("500ms", timedelta(milliseconds=500)),
        ("1m500ms", timedelta(seconds=60.5)),
        ("1.5h", timedelta(minutes=90)),
        ("0.25s", timedelta(milliseconds=250)),
        ("0s", timedelta(0)),
        (" 10m ", timedelta(minutes=10)),
        ("1h 30m", timedelta(minutes=90)),
        (30, timedelta(seconds=30)),
        (0, timedelta(0)),
        (0.5, timedelta(milliseconds=500)),
        (90.0, timedelta(seconds=90)),
        (timedelta(minutes=3), timedelta(minutes=3)),
    ],
)
def test_a_duration_parses(text: str | int | float | timedelta, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "10 minutes",
        "10min",
        "-5s",
        "",
        "   ",
        "5x",
        "m",
        "10",
        "s10",
        ".5s",
        "5.s",
        "1h30",
        "10M",
        "1,5h",
        "99999999999d",
        True,
        False,
        -1,
        -0.5,
        float("nan"),
        float("inf"),
        pytest.param(10**400, id="10**400"),
        None,
        [30],
        {"s": 30},
    ],
)
def test_a_bad_duration_is_refused(text: object) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "message"), [("-5s", "not a duration"), (-5, "negative")])
def test_the_refusal_says_why(text: str | int, message: str) -> None:
    with pytest.raises(DurationError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=30), "30s"),
        (timedelta(minutes=10), "10m"),
        (timedelta(hours=2), "2h"),
        (timedelta(days=1), "1d"),
        (timedelta(weeks=1), "7d"),
        (timedelta(seconds=90), "90s"),
        (timedelta(minutes=90), "90m"),
        (timedelta(hours=36), "36h"),
        (timedelta(milliseconds=500), "0.5s"),
        (timedelta(microseconds=1), "0.000001s"),
        (timedelta(seconds=1_000_001), "1000001s"),
        (timedelta(0), "0s"),
    ],
)
def test_a_duration_formats(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@given(st.integers(min_value=0, max_value=10**15).map(lambda us: timedelta(microseconds=us)))
def test_a_formatted_duration_parses_back(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value
