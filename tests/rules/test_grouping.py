"""When a group's next message is due: group wait, group interval, repeat interval, and the
severities that go at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from rules.grouping import Grouping, Held, flush_at

T = 1_000_000.0
DEFAULT = Grouping()


def held(*at: float, severity: str = "high") -> list[Held]:
    return [Held(T + a, severity) for a in at]


@pytest.mark.parametrize(
    ("steps", "last", "ongoing", "repeat", "expected"),
    [
        # A new group waits 30 s after its first step; steps after it ride along.
        (held(0), None, False, False, T + 30),
        (held(0, 20), None, False, False, T + 30),
        (held(20, 0), None, False, False, T + 30),
        # A group told of alarms still active has no group wait, but 5 minutes between messages.
        (held(400), T, True, False, T + 400),
        (held(100), T, True, False, T + 300),
        # A new group after an old message: the wait, and the interval since that message.
        (held(100), T, False, False, T + 300),
        (held(1000), T, False, False, T + 1030),
        # Nothing held: a repeat 4 h after the last message, if something still calls for one.
        ([], T, True, True, T + 4 * 3600),
        ([], T, True, False, None),
        ([], None, False, True, None),
        ([], T, False, False, None),
        # Critical goes at once, and takes what waits along.
        (held(10, severity="critical"), None, False, False, T + 10),
        (held(0) + held(10, severity="critical"), None, False, False, T + 10),
        (held(10, severity="critical"), T, True, False, T + 10),
    ],
)
def test_when_a_group_message_is_due(
    steps: list[Held], last: float | None, ongoing: bool, repeat: bool, expected: float | None
) -> None:
    assert flush_at(steps, last, ongoing, repeat, DEFAULT) == expected


@pytest.mark.parametrize(
    ("settings", "steps", "last", "ongoing", "repeat", "expected"),
    [
        ({"repeat_interval": None}, [], T, True, True, None),
        ({"repeat_interval": "1h"}, [], T, True, True, T + 3600),
        ({"group_wait": "0s"}, held(0), None, False, False, T),
        ({"group_interval": "0s"}, held(10), T, True, False, T + 10),
        ({"immediate": []}, held(0, severity="critical"), None, False, False, T + 30),
        ({"immediate": ["critical", "high"]}, held(5), None, False, False, T + 5),
    ],
)
def test_the_settings_move_the_message(
    settings: dict[str, Any],
    steps: list[Held],
    last: float | None,
    ongoing: bool,
    repeat: bool,
    expected: float | None,
) -> None:
    grouping = Grouping.model_validate(settings)
    assert flush_at(steps, last, ongoing, repeat, grouping) == expected


def test_the_defaults_are_alertmanagers() -> None:
    assert (DEFAULT.group_wait, DEFAULT.group_interval, DEFAULT.repeat_interval) == (
        timedelta(seconds=30),
        timedelta(minutes=5),
        timedelta(hours=4),
    )
    assert (DEFAULT.group_by, DEFAULT.immediate) == (["post", "building"], ["critical"])


@pytest.mark.parametrize(
    ("labels", "key"),
    [
        ({"post": "cold-store", "building": "Canteen", "floor": "1"}, ("Canteen",)),
        ({"post": "cold-store"}, ("",)),
    ],
)
def test_a_group_is_its_labels_values(labels: dict[str, str], key: tuple[str, ...]) -> None:
    assert DEFAULT.key(labels) == key


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"group_wait": -1}, "cannot be negative"),
        ({"group_by": ["wing"]}, "Input should be"),
        ({"group_interval": "soon"}, "not a duration"),
        ({"wait": "1s"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_settings_are_refused_clearly(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Grouping.model_validate(settings)
