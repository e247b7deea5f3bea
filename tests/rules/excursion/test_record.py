"""Excursion records (coldchain.md: start, end, duration, min, max, the door events during it),
taken from the rule's state by the kind's ``records``, on a fake agent clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rules import kinds
from rules.engine import Engine
from rules.excursion import (
    KIND,
    DoorEvent,
    ExcursionRecord,
    ExcursionRule,
    ExcursionState,
    completed,
    ongoing,
    take,
)
from tests.rules.test_excursion import (
    FREEZE,
    FRIDGE,
    HEAT,
    T0,
    D,
    H,
    M,
    Step,
    reads,
    run,
    run_from,
    tick,
)
from tests.rules.test_excursion import (
    rule as plain_rule,
)

DOORED = FRIDGE | {"triggers": [FREEZE, HEAT], "doors": ["door-1", "door-2"]}


def rule(**fields: Any) -> ExcursionRule:
    return plain_rule(**DOORED | fields)


def record(
    start: float, end: float, lowest: float, highest: float, **fields: Any
) -> ExcursionRecord:
    base = {"rule": "vaccines", "device": "fridge-1", "metric": "temperature", "ended_by": "range"}
    return ExcursionRecord(
        **base | fields, start=T0 + start, end=T0 + end, lowest=lowest, highest=highest
    )


def opened(at: float, door: str = "door-1") -> DoorEvent:
    return DoorEvent(door, T0 + at, True)


def closed(at: float, door: str = "door-1") -> DoorEvent:
    return DoorEvent(door, T0 + at, False)


def contact(at: float, *values: float, door: str = "door-1") -> Step:
    assert KIND.device_series is not None
    series = KIND.device_series
    return lambda r, state: series(r, state, door, "contact", values, T0 + at)


def records(r: ExcursionRule, steps: list[Step]) -> tuple[ExcursionRecord, ...]:
    found, left = take(r, run(r, steps)[0])
    assert completed(left) == ()
    return found


def test_a_single_event_excursion_is_recorded() -> None:
    steps = [reads(0, -1), reads(30 * M, -2), reads(H, -1.5), reads(70 * M, 4)]
    r = rule()
    state, transitions = run(r, steps)
    assert [(t.at - T0, t.active) for t in transitions] == [(H, True), (70 * M, False)]
    found, left = take(r, state)
    assert found == (record(0, 70 * M, -2, -1),)
    assert (found[0].duration, completed(left), take(r, left)[0]) == (70 * M, (), ())


def test_cumulative_excursions_are_recorded_one_by_one() -> None:
    # WHO cumulative style, shortened: above 8 for 5 h in total within 30 days.
    r = rule(triggers=[{"above": 8, "total": "5h", "within": "30d"}], max_gap="1d")
    steps = [reads(0, 9), reads(4 * H, 5), reads(D, 9.5), tick(D + H), reads(D + 4 * H, 5)]
    state, transitions = run(r, steps)
    assert [(t.at - T0, t.active) for t in transitions] == [(D + H, True)]
    assert take(r, state)[0] == (record(0, 4 * H, 9, 9), record(D, D + 4 * H, 9.5, 9.5))


START, END = 10 * M, 50 * M  # the excursion: out of range from START, back at END
AROUND = [(0.0, 5.0), (START, 9.0), (30 * M, 10.0), (END, 5.0)]
AROUND_STEPS = [reads(at, value) for at, value in AROUND]
Contact = tuple[float, tuple[float, ...], str]  # at, values, door


def timeline(contacts: list[Contact]) -> list[Step]:
    """The readings around the excursion and the contacts' readings, in time order."""
    moments = [(at, 0, reads(at, value)) for at, value in AROUND]
    moments += [(at, 1, contact(at, *values, door=door)) for at, values, door in contacts]
    return [step for _, _, step in sorted(moments, key=lambda m: (m[0], m[1]))]


DOORS = [
    pytest.param([], [], id="no door events"),
    pytest.param(
        [(M, (1,), "door-1"), (2 * M, (0,), "door-1")], [], id="opened and closed before: none"
    ),
    pytest.param(
        [(5 * M, (1,), "door-1"), (20 * M, (0,), "door-1")],
        [opened(5 * M), closed(20 * M)],
        id="open when it began: kept with its opening",
    ),
    pytest.param(
        [(15 * M, (1,), "door-1"), (16 * M, (0,), "door-1"), (40 * M, (1, 0), "door-1")],
        [opened(15 * M), closed(16 * M), opened(40 * M), closed(40 * M)],
        id="inside, a batch in order",
    ),
    pytest.param(
        [(15 * M, (1,), "door-1"), (60 * M, (0,), "door-1"), (70 * M, (1,), "door-1")],
        [opened(15 * M)],
        id="after it ended: none",
    ),
    pytest.param(
        [(15 * M, (1,), "door-1"), (17 * M, (1,), "door-1"), (20 * M, (0, 0), "door-1")],
        [opened(15 * M), closed(20 * M)],
        id="a repeated state is no event",
    ),
    pytest.param([(15 * M, (0,), "door-1")], [], id="a first closed says nothing happened"),
    pytest.param(
        [(12 * M, (1,), "door-2"), (15 * M, (1,), "door-1"), (18 * M, (0,), "door-2")],
        [opened(12 * M, "door-2"), opened(15 * M), closed(18 * M, "door-2")],
        id="two doors",
    ),
    pytest.param(
        [(15 * M, (1,), "door-9"), (16 * M, (float("nan"),), "door-1")],
        [],
        id="another door, a NaN",
    ),
]


@pytest.mark.parametrize(("contacts", "doors"), DOORS)
def test_door_events_during_an_excursion(contacts: list[Contact], doors: list[DoorEvent]) -> None:
    found = records(rule(), timeline(contacts))
    assert found == (record(START, END, 9, 10, doors=tuple(doors)),)


def test_door_events_past_the_cap_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rules.excursion.doors.MAX_DOOR_EVENTS", 3)
    flapping = [contact(START + i, i % 2) for i in range(1, 8)]
    found = records(rule(), [reads(0, 5), reads(START, 9), *flapping, reads(END, 5)])
    assert (len(found[0].doors), found[0].doors_dropped) == (3, 4)


def test_a_gap_ends_the_excursion_before_a_later_door_event() -> None:
    steps = [reads(0, 9), contact(10 * M, 1), contact(2 * H, 0)]
    assert records(rule(), steps) == (record(0, H, 9, 9, ended_by="gap", doors=(opened(10 * M),)),)


def through_the_store(state: ExcursionState) -> ExcursionState:
    restored: ExcursionState = kinds.load_state(kinds.dump_state(state))
    return restored


FIRST = [reads(0, 5), contact(5 * M, 1), reads(START, 9), contact(12 * M, 0), reads(20 * M, -1)]
SECOND = [tick(21 * M), contact(25 * M, 1), reads(30 * M, 10), reads(END, 5), contact(55 * M, 0)]


def test_an_excursion_spanning_a_restart_is_recorded_once_and_whole() -> None:
    r = rule()
    before, _ = run(r, FIRST)
    assert ongoing(before) is not None and completed(before) == ()
    after, _ = run_from(r, through_the_store(before), SECOND)
    found, left = take(r, after)
    doors = (opened(5 * M), closed(12 * M), opened(25 * M))
    assert found == (record(START, END, -1, 10, doors=doors),)
    assert found == take(r, run(r, FIRST + SECOND)[0])[0]
    assert take(r, through_the_store(left))[0] == ()


def test_a_completed_excursion_not_yet_taken_survives_a_restart() -> None:
    r = rule()
    state, _ = run(r, AROUND_STEPS)
    assert take(r, through_the_store(state))[0] == (record(START, END, 9, 10),)


def test_a_state_saved_before_doors_still_loads() -> None:
    old = {
        "kind": "excursion",
        "active": False,
        "at": T0,
        "value": 9.0,
        "since": [None],
        "spans": [[]],
        "current": [T0, T0, 9.0, 9.0, ""],
        "done": [[T0 - H, T0 - M, 9.0, 9.5, "range"]],
        "dropped": 0,
    }
    state = kinds.load_state(json.dumps(old))
    going_on = ongoing(state)
    assert going_on is not None
    assert (state.open_doors, going_on.doors, completed(state)[0].doors) == ((), (), ())


def test_the_engine_routes_doors_and_hands_over_records() -> None:
    r = rule()
    engine = Engine(rules=[r], started_at=T0)
    engine.on_series("fridge-1", "temperature", [9.0], T0)
    engine.on_series("door-2", "contact", [1.0], T0 + M)
    engine.on_series("door-3", "contact", [0.0], T0 + 2 * M)
    engine.on_series("fridge-1", "temperature", [5.0], T0 + 3 * M)
    assert engine.take_records(["vaccines", "unknown"]) == [
        record(0, 3 * M, 9, 9, doors=(opened(M, "door-2"),))
    ]
    assert (engine.take_records(["vaccines"]), completed(engine.states["vaccines"])) == ([], ())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"doors": ["door-1", "door-1"]}, "'doors' names a door twice"),
        ({"metric": "contact"}, "an excursion of door contacts cannot have doors"),
    ],
)
def test_bad_doors_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rule(**fields)


def test_a_rule_reads_its_doors_contacts() -> None:
    assert rule().reads() == [
        ("fridge-1", "temperature"),
        ("door-1", "contact"),
        ("door-2", "contact"),
    ]
