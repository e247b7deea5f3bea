"""After-hours access: access granted outside the door's schedule, in the schedule's own zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from collector.models import AccessEvent, AccessResult, Direction
from rules.after_hours import KIND, AfterHoursAccessRule, AfterHoursState, after_hours

assert KIND.access is not None
ACCESS = KIND.access
SCHEDULE = {
    "timezone": "Europe/London",
    "weekly": {"mon-fri": "07:00-19:00"},
    "holidays": ["2025-12-25", {"date": "2025-12-24", "hours": "07:00-12:00"}],
}


def rule(**fields: Any) -> AfterHoursAccessRule:
    base = {"id": "lab-after-hours", "type": "after_hours_access", "device": "lab-reader"}
    return AfterHoursAccessRule.model_validate(base | {"schedule": SCHEDULE} | fields)


def swipe(
    when: str, result: AccessResult = "granted", direction: Direction | None = "in"
) -> AccessEvent:
    """A swipe received at ``when`` (ISO, UTC); the device's own clock is a minute fast."""
    at = datetime.fromisoformat(when).timestamp()
    return AccessEvent("lab-reader", at + 60, "card-7", result, direction, None, at)


DEFAULT = rule()
ENTRIES = rule(direction="in")

CASES = [
    pytest.param(DEFAULT, swipe("2025-07-02T12:00:00Z"), False, id="a Wednesday noon"),
    pytest.param(DEFAULT, swipe("2025-07-02T18:30:00Z"), True, id="19:30 summer time"),
    pytest.param(DEFAULT, swipe("2025-07-02T05:59:59Z"), True, id="06:59 summer time"),
    pytest.param(DEFAULT, swipe("2025-07-02T06:00:00Z"), False, id="07:00 summer time"),
    pytest.param(DEFAULT, swipe("2025-01-08T06:30:00Z"), True, id="06:30 winter time"),
    pytest.param(DEFAULT, swipe("2025-01-08T18:59:59Z"), False, id="18:59 winter time"),
    pytest.param(DEFAULT, swipe("2025-07-05T10:00:00Z"), True, id="a Saturday"),
    pytest.param(DEFAULT, swipe("2025-12-25T10:00:00Z"), True, id="a holiday"),
    pytest.param(DEFAULT, swipe("2025-12-24T11:00:00Z"), False, id="holiday hours"),
    pytest.param(DEFAULT, swipe("2025-12-24T13:00:00Z"), True, id="after holiday hours"),
    pytest.param(DEFAULT, swipe("2025-07-05T10:00:00Z", "denied"), False, id="denied"),
    pytest.param(DEFAULT, swipe("2025-07-05T10:00:00Z", direction="out"), True, id="any exit"),
    pytest.param(ENTRIES, swipe("2025-07-05T10:00:00Z"), True, id="an entry"),
    pytest.param(ENTRIES, swipe("2025-07-05T10:00:00Z", direction="out"), False, id="an exit"),
    pytest.param(
        ENTRIES, swipe("2025-07-05T10:00:00Z", direction=None), True, id="no direction given"
    ),
    pytest.param(
        rule(direction="out"), swipe("2025-07-05T10:00:00Z"), False, id="entries when exits"
    ),
    pytest.param(
        DEFAULT,
        AccessEvent("lab-reader", 0.0, "card-7", "granted", "in", None, float("nan")),
        False,
        id="a time no calendar holds",
    ),
    pytest.param(
        DEFAULT,
        AccessEvent("lab-reader", 0.0, "card-7", "granted", "in", None, 1e20),
        False,
        id="a time past year 9999",
    ),
]


@pytest.mark.parametrize(("r", "event", "expected"), CASES)
def test_after_hours(r: AfterHoursAccessRule, event: AccessEvent, expected: bool) -> None:
    assert after_hours(r, event) is expected


@pytest.mark.parametrize(
    ("r", "event", "expected"),
    [
        pytest.param(DEFAULT, swipe("2025-07-05T10:00:00Z"), [True, False], id="a pulse"),
        pytest.param(DEFAULT, swipe("2025-07-02T12:00:00Z"), [], id="nothing"),
    ],
)
def test_an_entry_after_hours_is_an_event_on_the_agent_clock(
    r: AfterHoursAccessRule, event: AccessEvent, expected: list[bool]
) -> None:
    state, transitions = ACCESS(r, AfterHoursState(), event)
    assert [t.active for t in transitions] == expected
    assert {t.at for t in transitions} <= {event.received_at}
    assert state == AfterHoursState()


def test_the_rule_reads_its_reader_only() -> None:
    assert (DEFAULT.reads(), DEFAULT.readers()) == ([], ["lab-reader"])
    assert (DEFAULT.direction, DEFAULT.schedule.timezone) == (None, "Europe/London")


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        (None, "after-hours access at lab-reader"),
        ("in", "after-hours entry at lab-reader"),
        ("out", "after-hours exit at lab-reader"),
    ],
)
def test_describe(direction: Direction | None, expected: str) -> None:
    assert rule(direction=direction).describe() == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"schedule": None}, "schedule", id="no schedule"),
        pytest.param(
            {"schedule": {"weekly": {"mon": "07:00-19:00"}}}, "timezone", id="no time zone"
        ),
        pytest.param(
            {"schedule": SCHEDULE | {"timezone": "London"}}, "unknown time zone", id="bad zone"
        ),
        pytest.param(
            {"schedule": SCHEDULE | {"weekly": {"weekdays": "07:00-19:00"}}},
            "unknown weekday 'weekdays'",
            id="weekday",
        ),
        pytest.param({"direction": "sideways"}, "'in' or 'out'", id="direction"),
        pytest.param({"metric": "contact"}, "metric", id="a metric"),
        pytest.param({"hours": "07:00-19:00"}, "Extra inputs", id="unknown key"),
    ],
)
def test_a_bad_rule_is_refused_clearly(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**fields)
