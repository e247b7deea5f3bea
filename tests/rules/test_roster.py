"""Rosters: how the YAML reads, what it refuses, and who is on duty when, across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import rules.roster
from rules.roster import Handover, Roster, next_on_duty, on_duty, roster_problems
from rules.schedule import Span

LONDON = "Europe/London"
SHANGHAI = "Asia/Shanghai"
MEMBERS = ["Li", "Wang", "Zhang", "Zhao"]
DAY_NIGHT: dict[str, Any] = {
    "shifts": {"day": "08:00-20:00", "night": "20:00-08:00"},
    "weeks": [{"mon-sun": {"day": "Li", "night": "Wang"}}],
}
TWO_WEEKS: dict[str, Any] = {
    "shifts": {"day": "08:00-20:00", "night": "20:00-08:00"},
    "cycle_start": "2025-01-06",
    "weeks": [
        {"mon-fri": {"day": "Li", "night": "Wang"}, "sat-sun": {"day": "Zhang", "night": "Zhang"}},
        {"mon-fri": {"day": "Wang", "night": "Li"}, "sat-sun": {"day": "Zhang", "night": "Zhang"}},
    ],
}
# Shifts changing hands at 01:30 on the nights the clocks change (London: 30 March, 26 October).
NIGHT_OWL: dict[str, Any] = {
    "shifts": {"late": "20:00-01:30", "early": "01:30-06:00"},
    "weeks": [{"sat": {"late": "Wang"}, "sun": {"early": "Li"}}],
}
ALWAYS_LI: dict[str, Any] = {
    "shifts": {"all": "00:00-24:00"},
    "weeks": [{"mon-sun": {"all": "Li"}}],
}
PAIR: dict[str, Any] = {
    "shifts": {"all": "00:00-24:00"},
    "weeks": [{"mon-sun": {"all": ["Li", "Wang"]}}],
}
DAYS_ONLY: dict[str, Any] = {
    "shifts": {"day": "08:00-20:00"},
    "weeks": [{"mon-sun": {"day": "Li"}}],
}


def roster(base: dict[str, Any], *overrides: dict[str, Any]) -> Roster:
    return Roster.model_validate(base | {"overrides": list(overrides)})


def instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def swap(start: str, end: str, member: Any, replaces: str | None = None) -> dict[str, Any]:
    return {"start": start, "end": end, "member": member, "replaces": replaces}


def test_the_documented_roster_reads_as_written() -> None:
    text = rules.roster.__doc__ or ""
    document = yaml.safe_load(text[text.index("    roster:") :])
    parsed = Roster.model_validate(document["roster"])
    assert parsed.shifts == {"day": Span(480, 1200), "night": Span(1200, 480)}
    assert parsed.weeks[1]["wed"] == {"day": ("Wang",), "night": ("Li",)}
    assert parsed.weeks[0]["sun"] == {"day": ("Zhang",), "night": ("Zhang",)}
    assert [(o.start, o.end, o.member, o.replaces) for o in parsed.overrides] == [
        (datetime(2025, 2, 3, 8), datetime(2025, 2, 3, 20), ("Zhang",), "Li"),
        (datetime(2025, 2, 10), datetime(2025, 2, 17), (), "Wang"),
    ]


def test_a_roster_reads_back_as_it_was_written() -> None:
    written = roster(TWO_WEEKS, swap("2025-01-08 08:00", "2025-01-08 20:00", "Zhang", "Li"))
    assert Roster.model_validate(written.model_dump(mode="json")) == written


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"shifts": None}, "shifts\n  Input should be a valid dictionary", id="null"),
        pytest.param({"shifts": {}}, "at least 1 item", id="no shifts"),
        pytest.param({"weeks": []}, "at least 1 item", id="no weeks"),
        pytest.param({"shifts": {"day": "08:00-25:00"}}, "is not a time of day", id="bad time"),
        pytest.param({"shifts": {"": "08:00-20:00"}}, "at least 1 character", id="shift ''"),
        pytest.param(
            {"weeks": [{"mon": {"nite": "Li"}}]},
            r"weeks\[0\].mon: unknown shift 'nite' \(shifts: day, night\)",
            id="unknown shift",
        ),
        pytest.param(
            {"weeks": [{"mon-fri": {"day": "Li"}, "wed": {"day": "Wang"}}]},
            "wed is given twice",
            id="a day twice",
        ),
        pytest.param({"weeks": [{"mond": {"day": "Li"}}]}, "unknown weekday 'mond'", id="day"),
        pytest.param({"weeks": [{"mon": {"day": [""]}}]}, "at least 1 character", id="name ''"),
        pytest.param(
            {"weeks": [{"mon": {"day": "Li"}}, {"mon": {"day": "Wang"}}]},
            "cycle_start: a rotation of 2 weeks needs the date its first week begins",
            id="a cycle without its start",
        ),
        pytest.param(
            {"overrides": [swap("2025-01-08 20:00", "2025-01-08 08:00", "Zhang")]},
            r"ends \(2025-01-08 08:00:00\) before it starts \(2025-01-08 20:00:00\)",
            id="override backwards",
        ),
        pytest.param(
            {"overrides": [swap("2025-01-08 08:00", "2025-01-08 08:00", "Zhang")]},
            "before it starts",
            id="override empty",
        ),
        pytest.param(
            {"overrides": [swap("2025-01-08T08:00+08:00", "2025-01-08 20:00", "Zhang")]},
            "has a UTC offset: write the site's local time without one",
            id="override with an offset",
        ),
        pytest.param(
            {
                "overrides": [
                    swap("2025-01-08 08:00", "2025-01-08 20:00", "Zhang", "Li"),
                    swap("2025-01-08 12:00", "2025-01-09 12:00", "Zhao", "Li"),
                ]
            },
            r"overrides\[0\] and overrides\[1\] both replace Li from 2025-01-08 12:00:00 to "
            "2025-01-08 20:00:00: end one where the other begins",
            id="two overrides for Li at once",
        ),
        pytest.param(
            {
                "overrides": [
                    swap("2025-01-08", "2025-01-10", "Zhang"),
                    swap("2025-01-09", "2025-01-09 12:00", "Zhao"),
                ]
            },
            "both replace everyone",
            id="two whole-post overrides at once",
        ),
        pytest.param({"rotation": []}, "Extra inputs", id="unknown key"),
    ],
)
def test_a_bad_roster_is_refused_clearly(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Roster.model_validate(DAY_NIGHT | fields)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(
            [
                swap("2025-01-08", "2025-01-10", "Zhang", "Li"),
                swap("2025-01-09", "2025-01-11", "Zhao", "Wang"),
            ],
            id="for different people",
        ),
        pytest.param(
            [
                swap("2025-01-08", "2025-01-09", "Zhang", "Li"),
                swap("2025-01-09", "2025-01-10", "Zhao", "Li"),
            ],
            id="one ending where the next begins",
        ),
        pytest.param(
            [
                swap("2025-01-08", "2025-01-10", "Zhang"),
                swap("2025-01-09", "2025-01-11", "Li", "Wang"),
            ],
            id="the whole post and one person",
        ),
    ],
)
def test_overrides_that_do_not_contend_may_overlap(overrides: list[dict[str, Any]]) -> None:
    assert len(roster(DAY_NIGHT, *overrides).overrides) == 2


@pytest.mark.parametrize(
    ("members", "problems"),
    [
        pytest.param(["Li", "Wang", "Zhang", "Zhao"], [], id="all known"),
        pytest.param(
            ["Li", "Wang"],
            [
                "roster.weeks[0].sat.day: unknown member 'Zhang' (the post has Li, Wang); also "
                "in 7 more places",
                "roster.overrides[0].member: unknown member 'Zhao' (the post has Li, Wang)",
            ],
            id="one place per name",
        ),
        pytest.param(
            [],
            [
                "roster.weeks[0].mon.day: unknown member 'Li' (the post has no members); also in "
                "10 more places",
                "roster.weeks[0].mon.night: unknown member 'Wang' (the post has no members); "
                "also in 9 more places",
                "roster.weeks[0].sat.day: unknown member 'Zhang' (the post has no members); also "
                "in 7 more places",
                "roster.overrides[0].member: unknown member 'Zhao' (the post has no members)",
            ],
            id="no members",
        ),
    ],
)
def test_a_roster_names_only_members_of_its_post(members: list[str], problems: list[str]) -> None:
    written = roster(TWO_WEEKS, swap("2025-01-08", "2025-01-09", "Zhao", "Li"))
    assert roster_problems(written, members) == problems


def test_an_override_for_someone_not_in_the_post_is_named() -> None:
    written = roster(DAY_NIGHT, swap("2025-01-08", "2025-01-09", "Zhang", "Lee"))
    assert roster_problems(written, ["Li", "Wang", "Zhang"]) == [
        "roster.overrides[0].replaces: unknown member 'Lee' (the post has Li, Wang, Zhang)"
    ]


LEAVE = swap("2025-01-09 00:00", "2025-01-10 00:00", [], "Wang")
SWAP = swap("2025-01-08 08:00", "2025-01-08 20:00", "Zhang", "Li")
STAND_IN = swap("2025-01-11 08:00", "2025-01-11 12:00", ["Zhao", "Zhang"])
LOOP = [
    swap("2025-01-08 00:00", "2025-01-09 00:00", "Wang", "Li"),
    swap("2025-01-08 00:00", "2025-01-09 00:00", "Li", "Wang"),
]
CHAIN = [
    swap("2025-01-08 00:00", "2025-01-09 00:00", "Zhang", "Li"),
    swap("2025-01-08 00:00", "2025-01-09 00:00", "Zhao", "Zhang"),
]

# (roster, zone, instant in UTC, on duty)
ON_DUTY = [
    # plain day and night, end exclusive
    pytest.param(roster(DAY_NIGHT), LONDON, "2025-01-08T07:59:59Z", ["Wang"], id="night"),
    pytest.param(roster(DAY_NIGHT), LONDON, "2025-01-08T08:00:00Z", ["Li"], id="day begins"),
    pytest.param(roster(DAY_NIGHT), LONDON, "2025-01-08T19:59:59Z", ["Li"], id="day ends"),
    pytest.param(roster(DAY_NIGHT), LONDON, "2025-01-08T20:00:00Z", ["Wang"], id="night begins"),
    pytest.param(roster(DAY_NIGHT), LONDON, "2025-07-02T07:30:00Z", ["Li"], id="summer 08:30"),
    pytest.param(roster(DAYS_ONLY), LONDON, "2025-01-08T21:00:00Z", [], id="nobody at night"),
    # the days of the DST changes
    pytest.param(roster(DAY_NIGHT), LONDON, "2025-03-30T06:59:59Z", ["Wang"], id="spring 07:59"),
    pytest.param(roster(DAY_NIGHT), LONDON, "2025-03-30T07:00:00Z", ["Li"], id="spring 08:00"),
    pytest.param(roster(DAY_NIGHT), LONDON, "2025-10-25T18:59:59Z", ["Li"], id="autumn eve"),
    pytest.param(roster(DAY_NIGHT), LONDON, "2025-10-25T19:00:00Z", ["Wang"], id="autumn 20:00"),
    pytest.param(roster(DAY_NIGHT), LONDON, "2025-10-26T07:59:59Z", ["Wang"], id="autumn 07:59"),
    pytest.param(roster(DAY_NIGHT), LONDON, "2025-10-26T08:00:00Z", ["Li"], id="autumn 08:00"),
    # a handover in the skipped hour happens when the clock jumps past it
    pytest.param(roster(NIGHT_OWL), LONDON, "2025-03-30T00:59:59Z", ["Wang"], id="gap before"),
    pytest.param(roster(NIGHT_OWL), LONDON, "2025-03-30T01:00:00Z", ["Li"], id="gap jump"),
    # the repeated hour is inside a shift both times it passes
    pytest.param(roster(NIGHT_OWL), LONDON, "2025-10-26T00:29:59Z", ["Wang"], id="fold 1st in"),
    pytest.param(roster(NIGHT_OWL), LONDON, "2025-10-26T00:30:00Z", ["Li"], id="fold 1st out"),
    pytest.param(roster(NIGHT_OWL), LONDON, "2025-10-26T01:00:00Z", ["Wang"], id="fold 2nd in"),
    pytest.param(roster(NIGHT_OWL), LONDON, "2025-10-26T01:30:00Z", ["Li"], id="fold 2nd out"),
    # a rotation of two weeks from Monday 6 January, in Shanghai
    pytest.param(roster(TWO_WEEKS), SHANGHAI, "2025-01-06T01:00:00Z", ["Li"], id="week 1"),
    pytest.param(roster(TWO_WEEKS), SHANGHAI, "2025-01-13T01:00:00Z", ["Wang"], id="week 2"),
    pytest.param(roster(TWO_WEEKS), SHANGHAI, "2025-01-20T01:00:00Z", ["Li"], id="week 3 = 1"),
    pytest.param(roster(TWO_WEEKS), SHANGHAI, "2024-12-30T01:00:00Z", ["Wang"], id="before"),
    pytest.param(roster(TWO_WEEKS), SHANGHAI, "2025-01-10T14:00:00Z", ["Wang"], id="fri 22:00"),
    pytest.param(roster(TWO_WEEKS), SHANGHAI, "2025-01-11T01:00:00Z", ["Zhang"], id="saturday"),
    # Monday 07:00 of week 2 is still Sunday's night shift of week 1
    pytest.param(roster(TWO_WEEKS), SHANGHAI, "2025-01-12T23:00:00Z", ["Zhang"], id="spill"),
    pytest.param(roster(TWO_WEEKS), SHANGHAI, "2025-01-13T00:00:00Z", ["Wang"], id="week 2 day"),
    # overrides, in local time
    pytest.param(roster(DAY_NIGHT, SWAP), LONDON, "2025-01-08T07:59:59Z", ["Wang"], id="swap -"),
    pytest.param(roster(DAY_NIGHT, SWAP), LONDON, "2025-01-08T08:00:00Z", ["Zhang"], id="swap"),
    pytest.param(roster(DAY_NIGHT, SWAP), LONDON, "2025-01-08T20:00:00Z", ["Wang"], id="swap +"),
    pytest.param(roster(DAY_NIGHT, LEAVE), LONDON, "2025-01-09T03:00:00Z", [], id="no cover"),
    pytest.param(roster(DAY_NIGHT, LEAVE), LONDON, "2025-01-09T09:00:00Z", ["Li"], id="not Li"),
    pytest.param(
        roster(DAY_NIGHT, STAND_IN), LONDON, "2025-01-11T09:00:00Z", ["Zhang", "Zhao"], id="post"
    ),
    pytest.param(
        roster(DAYS_ONLY, STAND_IN), LONDON, "2025-01-11T11:59:59Z", ["Zhang", "Zhao"], id="off"
    ),
    pytest.param(roster(PAIR, *LOOP), LONDON, "2025-01-08T12:00:00Z", ["Li", "Wang"], id="loop"),
    pytest.param(roster(DAY_NIGHT, *CHAIN), LONDON, "2025-01-08T12:00:00Z", ["Zhang"], id="once"),
    pytest.param(
        roster(
            DAY_NIGHT,
            swap("2025-10-26 00:00", "2025-10-26 01:30", "Zhang"),
        ),
        LONDON,
        "2025-10-26T01:15:00Z",
        ["Zhang"],
        id="an override in the repeated hour, the second time",
    ),
]


@pytest.mark.parametrize(("written", "zone", "at", "expected"), ON_DUTY)
def test_on_duty_at_an_instant(written: Roster, zone: str, at: str, expected: list[str]) -> None:
    assert on_duty(written, MEMBERS, ZoneInfo(zone), instant(at)) == expected


@pytest.mark.parametrize(
    ("written", "members", "expected"),
    [
        pytest.param(None, MEMBERS, MEMBERS, id="no roster: everyone"),
        pytest.param(None, ["Wang", "Li", "Wang"], ["Wang", "Li"], id="each once"),
        pytest.param(None, [], [], id="nobody"),
        pytest.param(roster(PAIR), ["Wang", "Zhang", "Li"], ["Wang", "Li"], id="post's order"),
        pytest.param(roster(PAIR), ["Wang"], ["Wang"], id="names not in the post left out"),
    ],
)
def test_on_duty_names_members_of_the_post(
    written: Roster | None, members: list[str], expected: list[str]
) -> None:
    assert on_duty(written, members, ZoneInfo(LONDON), instant("2025-01-08T12:00:00Z")) == expected


def handover(at: str, *members: str) -> Handover:
    return Handover(instant(at), members)


# (roster, zone, from the instant in UTC, next handover)
NEXT = [
    pytest.param(None, LONDON, "2025-01-08T10:00:00Z", None, id="no roster"),
    pytest.param(roster(ALWAYS_LI), LONDON, "2025-01-08T10:00:00Z", None, id="always Li"),
    pytest.param(
        roster(DAY_NIGHT),
        LONDON,
        "2025-01-08T10:00:00Z",
        handover("2025-01-08T20:00:00Z", "Wang"),
        id="day to night",
    ),
    pytest.param(
        roster(DAY_NIGHT),
        LONDON,
        "2025-01-08T20:00:00Z",
        handover("2025-01-09T08:00:00Z", "Li"),
        id="strictly after",
    ),
    pytest.param(
        roster(DAYS_ONLY),
        LONDON,
        "2025-01-08T10:00:00Z",
        handover("2025-01-08T20:00:00Z"),
        id="to nobody",
    ),
    pytest.param(
        roster(DAY_NIGHT),
        LONDON,
        "2025-03-30T03:00:00Z",
        handover("2025-03-30T07:00:00Z", "Li"),
        id="spring: 08:00 BST",
    ),
    pytest.param(
        roster(DAY_NIGHT),
        LONDON,
        "2025-10-26T03:00:00Z",
        handover("2025-10-26T08:00:00Z", "Li"),
        id="autumn: 08:00 GMT",
    ),
    pytest.param(
        roster(NIGHT_OWL),
        LONDON,
        "2025-03-30T00:30:00Z",
        handover("2025-03-30T01:00:00Z", "Li"),
        id="spring: the jump over 01:30",
    ),
    pytest.param(
        roster(NIGHT_OWL),
        LONDON,
        "2025-10-26T00:15:00Z",
        handover("2025-10-26T00:30:00Z", "Li"),
        id="autumn: 01:30 BST",
    ),
    pytest.param(
        roster(NIGHT_OWL),
        LONDON,
        "2025-10-26T00:45:00Z",
        handover("2025-10-26T01:00:00Z", "Wang"),
        id="autumn: back to 01:00 GMT",
    ),
    pytest.param(
        roster(NIGHT_OWL),
        LONDON,
        "2025-10-26T01:10:00Z",
        handover("2025-10-26T01:30:00Z", "Li"),
        id="autumn: 01:30 GMT",
    ),
    pytest.param(
        roster(TWO_WEEKS),
        SHANGHAI,
        "2025-01-12T13:00:00Z",
        handover("2025-01-13T00:00:00Z", "Wang"),
        id="into the next week of the cycle",
    ),
    pytest.param(
        roster(DAY_NIGHT, SWAP),
        LONDON,
        "2025-01-08T07:00:00Z",
        handover("2025-01-08T08:00:00Z", "Zhang"),
        id="to an override",
    ),
    pytest.param(
        roster(ALWAYS_LI, swap("2025-06-01 00:00", "2025-06-02 00:00", "Zhang")),
        LONDON,
        "2025-01-08T10:00:00Z",
        handover("2025-05-31T23:00:00Z", "Zhang"),
        id="an override months ahead",
    ),
    pytest.param(
        roster(DAYS_ONLY, swap("2025-01-01 00:00", "2025-03-01 12:00", "Li")),
        LONDON,
        "2025-01-08T10:00:00Z",
        handover("2025-03-01T20:00:00Z"),
        id="an override ending inside a shift of the same person",
    ),
]


@pytest.mark.parametrize(("written", "zone", "at", "expected"), NEXT)
def test_the_next_handover(
    written: Roster | None, zone: str, at: str, expected: Handover | None
) -> None:
    assert next_on_duty(written, MEMBERS, ZoneInfo(zone), instant(at)) == expected


ZONES = [LONDON, "America/New_York", "Australia/Sydney", "Pacific/Chatham", SHANGHAI]
quarter = st.integers(0, 95).map(lambda q: q * 15)


@st.composite
def shifts(draw: st.DrawFn) -> dict[str, Any]:
    spans = [draw(st.tuples(quarter, quarter).filter(lambda s: s[0] != s[1])) for _ in range(2)]
    hours = [f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in spans]
    return {
        "shifts": {"a": hours[0], "b": hours[1]},
        "weeks": [{"mon-sun": {"a": "Li", "b": "Wang"}}],
    }


@settings(max_examples=60, deadline=None)
@given(
    written=shifts(),
    zone=st.sampled_from(ZONES),
    at=st.sampled_from(
        ["2025-03-08", "2025-03-29", "2025-04-05", "2025-09-27", "2025-10-25", "2025-11-01"]
    ),
    offset=st.floats(0, 2 * 86400),
)
def test_no_minute_before_the_next_handover_changes_who_is_on_duty(
    written: dict[str, Any], zone: str, at: str, offset: float
) -> None:
    tz, parsed = ZoneInfo(zone), Roster.model_validate(written)
    start = datetime.fromisoformat(at).replace(tzinfo=UTC).timestamp() + offset
    found = next_on_duty(parsed, MEMBERS, tz, start)
    end = start + 2 * 86400 if found is None else found.at
    # Shifts start on the quarter hour and clocks change on the minute: a change the search
    # missed would show at some whole minute before the one it found.
    minutes = range(int(start // 60) + 1, int(-(-end // 60)))
    now = tuple(on_duty(parsed, MEMBERS, tz, start))
    assert {tuple(on_duty(parsed, MEMBERS, tz, m * 60.0)) for m in minutes} <= {now}
    assert found is None or (found.at > start and found.members != now)
    assert found is None or list(found.members) == on_duty(parsed, MEMBERS, tz, found.at)


@pytest.mark.parametrize("name", rules.roster.__all__)
def test_an_exported_name_exists(name: str) -> None:
    assert getattr(rules.roster, name).__module__ == "rules.roster"


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(date(2025, 1, 6), ("Li",), id="the first day"),
        pytest.param(date(2025, 1, 12), ("Zhang",), id="its sunday"),
        pytest.param(date(2025, 1, 13), ("Wang",), id="the second week"),
        pytest.param(date(2025, 1, 20), ("Li",), id="the first again"),
        pytest.param(date(2025, 1, 5), ("Zhang",), id="the day before"),
        pytest.param(date(2024, 12, 30), ("Wang",), id="the week before"),
    ],
)
def test_a_week_of_the_cycle_is_seven_days_from_its_start(
    day: date, expected: tuple[str, ...]
) -> None:
    assert roster(TWO_WEEKS).assigned(day, "day") == expected
