import pytest

from sync.hub import query
from sync.hub.auth import User, create_agent
from sync.hub.db import HubDB
from sync.hub.errors import InvalidTime, NotPermitted
from sync.hub.ingest import apply_batch
from tests.hubfixtures import (
    DEVICES,
    T0,
    access,
    alarm,
    alarm_event,
    batch,
    meter_event,
    reading,
)

ENERGY = User(id=1, name="wu", role="energy")


@pytest.fixture
def seeded(hubdb: HubDB) -> HubDB:
    create_agent(hubdb, "school", now=T0)
    readings = [
        reading(1, ts=T0, value=-18),
        reading(2, ts=T0 + 60, value=-17),
        reading(3, ts=T0 + 30, device="main-meter", metric="power", value=900),
    ]
    events = [
        access(1, ts=T0, card="0001"),
        access(2, ts=T0 + 10, card="0002", result="denied", reason="unknown card"),
    ]
    alarms = [
        alarm_event(1, alarm("a1", at=T0)),
        alarm_event(2, alarm("a2", at=T0 + 100, active=False, changed_at=T0 + 200)),
    ]
    meters = [
        meter_event(1, ts=T0 + 20, kind="rollover", value=4, previous=99_990),
        meter_event(2, ts=T0 + 10, kind="jitter", device="water-1", metric="water"),
        meter_event(3, ts=T0 + 40, kind="gap", value=12),
    ]
    full = batch(
        readings=readings,
        access_events=events,
        alarm_events=alarms,
        meter_events=meters,
        devices=DEVICES,
    )
    apply_batch(hubdb, "clinic", full, T0 + 300)
    return hubdb


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1795000000", T0),
        ("1795000000.5", T0 + 0.5),
        ("2026-11-18T11:06:40Z", T0),
        ("2026-11-18T11:06:40.250+00:00", T0 + 0.25),
        ("2026-11-18T19:06:40+08:00", T0),
        ("2026-11-18T11:06:40", T0),
        ("2026-11-18", T0 - (11 * 3600 + 6 * 60 + 40)),
        ("", None),
        (None, None),
    ],
)
def test_times_are_iso_or_unix_seconds(text: str | None, seconds: float | None) -> None:
    assert query.parse_time("from", text) == seconds


@pytest.mark.parametrize("text", ["yesterday", "nan", "inf", "2026-13-01", "17/11/2026"])
def test_a_bad_time_names_the_parameter(text: str) -> None:
    with pytest.raises(InvalidTime, match=f"from={text!r} is not a time"):
        query.parse_time("from", text)


def test_sites_with_counts(seeded: HubDB) -> None:
    found = [(s.id, s.devices, s.open_alarms, s.last_sync_at) for s in query.sites(seeded)]
    assert found == [("clinic", 2, 2, T0 + 300), ("school", 0, 0, None)]


@pytest.mark.parametrize(
    ("filters", "seqs"),
    [
        ({}, [1, 3, 2]),
        ({"site": "clinic", "device": "freezer-1"}, [1, 2]),
        ({"metric": "power"}, [3]),
        ({"start": T0 + 30}, [3, 2]),
        ({"end": T0 + 30}, [1, 3]),
        ({"start": T0 + 1, "end": T0 + 59}, [3]),
        ({"limit": 2}, [1, 3]),
        ({"site": "school"}, []),
    ],
)
def test_readings_filter_and_run_oldest_first(
    seeded: HubDB, filters: dict[str, object], seqs: list[int]
) -> None:
    assert [r.seq for r in query.readings(seeded, **filters)] == seqs  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filters", "ids"),
    [
        ({}, ["a2", "a1"]),
        ({"state": "open"}, ["a2", "a1"]),
        ({"state": "unacknowledged"}, ["a1"]),
        ({"state": "cleared_unacknowledged"}, ["a2"]),
        ({"state": "normal"}, []),
        ({"site": "school"}, []),
        ({"limit": 1}, ["a2"]),
    ],
)
def test_alarms_filter_and_run_newest_first(
    seeded: HubDB, filters: dict[str, object], ids: list[str]
) -> None:
    assert [a.alarm.id for a in query.alarms(seeded, **filters)] == ids  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filters", "cards"),
    [
        ({}, ["0001", "0002"]),
        ({"card": "0002"}, ["0002"]),
        ({"result": "denied"}, ["0002"]),
        ({"device": "gate-north", "start": T0 + 5}, ["0002"]),
        ({"end": T0 + 5}, ["0001"]),
    ],
)
def test_access_events_filter(seeded: HubDB, filters: dict[str, object], cards: list[str]) -> None:
    found = query.access_events(seeded, **filters)  # type: ignore[arg-type]
    assert [e.card for e in found] == cards


@pytest.mark.parametrize(
    ("filters", "seqs"),
    [
        ({}, [2, 1, 3]),
        ({"site": "clinic", "device": "main-meter"}, [1, 3]),
        ({"kind": "rollover"}, [1]),
        ({"start": T0 + 20}, [1, 3]),
        ({"end": T0 + 20}, [2, 1]),
        ({"start": T0 + 11, "end": T0 + 39}, [1]),
        ({"limit": 2}, [2, 1]),
        ({"site": "school"}, []),
    ],
)
def test_meter_events_filter_and_run_oldest_first(
    seeded: HubDB, filters: dict[str, object], seqs: list[int]
) -> None:
    found = query.meter_events(seeded, ENERGY, **filters)  # type: ignore[arg-type]
    assert [e.seq for e in found] == seqs


def test_a_meter_event_has_every_field(seeded: HubDB) -> None:
    [found] = query.meter_events(seeded, ENERGY, kind="rollover")
    assert found == query.StoredMeterEvent(
        "clinic", 1, "main-meter", "energy", T0 + 20, "rollover", 4.0, 99_990.0
    )


@pytest.mark.parametrize("role", ["maintenance", "security"])
def test_meter_events_are_for_energy_managers_and_admins(seeded: HubDB, role: str) -> None:
    with pytest.raises(NotPermitted, match=f"role '{role}' may not read meter events"):
        query.meter_events(seeded, User(id=2, name="eve", role=role))
