"""The read routes of ``web/api/readings.py`` on the real hub, over SQLite and PostgreSQL: sites,
readings, rollups, access events, meter events and cold-chain excursions (JSON and CSV), their
filters, the roles that may read them, bad parameters and hostile strings."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

from sync.protocol import StoreReport
from tests.hubfixtures import (
    T0,
    Credentials,
    RunningHub,
    access,
    batch,
    bearer,
    excursion,
    meter_event,
    push,
    reading,
    rollup,
)
from tests.web.api.calls import get, get_excursions, get_meter_events, token

HOSTILE = '=HYPERLINK("http://x")'


def test_sites(http: httpx.Client, seeded: Credentials) -> None:
    [site] = get(http, seeded, "/api/v1/sites").json()["items"]
    assert site == {
        "id": "clinic",
        "name": "clinic",
        "timezone": None,
        "last_sync_at": site["last_sync_at"],
        "agent_version": "test",
        "quarantined": 0,
        "devices": 3,
        "open_alarms": 1,
        "store": None,  # the seed batch does not report one, as agents before #5
        # The seed batch is an agent's first: it has not measured its clock yet.
        "clock_offset": None,
        "clock_round_trip": None,
        "clock_measured_at": None,
    }
    assert site["last_sync_at"].endswith("Z")


def test_a_site_shows_its_agents_store(http: httpx.Client, creds: Credentials) -> None:
    report = StoreReport(
        size=420_000_000, max_size=500_000_000, pressure=True, thinned={"synced": 9}
    )
    assert push(http, creds.agent, batch().model_copy(update={"store": report})).status_code == 200
    [site] = get(http, creds, "/api/v1/sites").json()["items"]
    assert site["store"] == {
        "size": 420_000_000,
        "max_size": 500_000_000,
        "pressure": True,
        "thinned": {"synced": 9},
        "reported_at": site["last_sync_at"],
    }


def test_stand_in_rollups_are_listed_by_hour(http: httpx.Client, creds: Credentials) -> None:
    sent = batch(rollups=[rollup(1, replaces=(0, 40)), rollup(2, hour=T0 - 4000, device="x")])
    assert push(http, creds.agent, sent).status_code == 200
    found = get(http, creds, "/api/v1/rollups").json()["items"]
    only = get(http, creds, "/api/v1/rollups", device="freezer-1").json()["items"]
    assert [r["seq"] for r in found] == [2, 1]
    assert only == [
        {
            "site": "clinic",
            "seq": 1,
            "device": "freezer-1",
            "metric": "temperature",
            "hour": "2026-11-18T11:00:00.000Z",
            "count": 2,
            "min": -19.0,
            "max": -18.0,
            "sum": -37.0,
            "first_ts": "2026-11-18T11:00:00.000Z",
            "first": -19.0,
            "last_ts": "2026-11-18T11:05:00.000Z",
            "last": -18.0,
            "replaces_after": 0,
            "replaces_through": 40,
        }
    ]


def test_readings_render_times_in_iso_utc(http: httpx.Client, seeded: Credentials) -> None:
    first = get(http, seeded, "/api/v1/readings").json()["items"][0]
    assert first == {
        "site": "clinic",
        "seq": 1,
        "device": "freezer-1",
        "metric": "temperature",
        "ts": "2026-11-18T11:06:40.000Z",
        "value": -18.5,
        "received_at": "2026-11-18T11:06:40.000Z",
    }


@pytest.mark.parametrize(
    ("params", "seqs"),
    [
        ({}, [1, 3, 2]),
        ({"site": "clinic", "device": "freezer-1", "metric": "temperature"}, [1, 2]),
        ({"from": "2026-11-18T11:07:00Z"}, [3, 2]),
        ({"from": str(T0 + 20), "to": str(T0 + 40)}, [3]),
        ({"to": "2026-11-18T19:07:10+08:00"}, [1, 3]),
        ({"limit": 1}, [1]),
        ({"limit": 100_000}, [1, 3, 2]),
        ({"site": "school"}, []),
    ],
)
def test_readings_filters(
    http: httpx.Client, seeded: Credentials, params: dict[str, str | int], seqs: list[int]
) -> None:
    items = get(http, seeded, "/api/v1/readings", **params).json()["items"]
    assert [r["seq"] for r in items] == seqs


@pytest.mark.parametrize("name", ["from", "to"])
def test_a_bad_time_is_a_clear_422(http: httpx.Client, seeded: Credentials, name: str) -> None:
    response = get(http, seeded, "/api/v1/readings", **{name: "last tuesday"})
    detail = f"{name}='last tuesday' is not a time: give ISO 8601 (2026-11-23T08:00:00Z)"
    assert (response.status_code, response.json()["detail"]) == (422, f"{detail} or unix seconds")


@pytest.mark.parametrize(
    ("params", "cards"),
    [
        ({}, ["0001", "<script>card</script>"]),
        ({"card": "0001"}, ["0001"]),
        ({"result": "denied", "site": "clinic", "device": "gate-north"}, ["<script>card</script>"]),
        ({"from": "2026-11-18T11:06:41Z"}, ["<script>card</script>"]),
        ({"to": str(T0)}, ["0001"]),
    ],
)
def test_access_events(
    http: httpx.Client, seeded: Credentials, params: dict[str, str], cards: list[str]
) -> None:
    items = get(http, seeded, "/api/v1/access-events", **params).json()["items"]
    assert [e["card"] for e in items] == cards


def test_an_access_event_has_every_field(http: httpx.Client, seeded: Credentials) -> None:
    items = get(http, seeded, "/api/v1/access-events", result="denied").json()["items"]
    assert items == [
        {
            "site": "clinic",
            "seq": 2,
            "device": "gate-north",
            "ts": "2026-11-18T11:06:45.000Z",
            "card": "<script>card</script>",
            "result": "denied",
            "direction": None,
            "reason": "unknown",
            "received_at": "2026-11-18T11:06:45.000Z",
        }
    ]


def test_an_unknown_result_is_422(http: httpx.Client, seeded: Credentials) -> None:
    assert get(http, seeded, "/api/v1/access-events", result="maybe").status_code == 422


def test_a_large_limit_returns_everything(http: httpx.Client, creds: Credentials) -> None:
    many = [reading(i, ts=T0 + i) for i in range(1, 2001)]
    push(http, creds.agent, batch(readings=many, access_events=[access(1)]))
    items = get(http, creds, "/api/v1/readings", limit=100_000).json()["items"]
    assert (len(items), items[-1]["seq"]) == (2000, 2000)


@pytest.fixture
def with_meter_events(http: httpx.Client, creds: Credentials) -> Credentials:
    events = [
        meter_event(1, ts=T0 + 20, kind="rollover", value=4, previous=99_990),
        meter_event(2, ts=T0 + 10, kind="jitter", value=3.5, device="water-1", metric="water"),
        meter_event(3, ts=T0 + 40, kind="reset", value=12, previous=None),
    ]
    assert push(http, creds.agent, batch(meter_events=events)).status_code == 200
    return creds


@pytest.mark.usefixtures("with_meter_events")
@pytest.mark.parametrize("role", ["admin", "energy"])
def test_a_meter_event_has_every_field_in_iso_utc(
    hub: RunningHub, http: httpx.Client, role: str
) -> None:
    response = get_meter_events(http, token(hub, role), kind="rollover")
    assert (response.status_code, response.json()) == (
        200,
        {
            "items": [
                {
                    "site": "clinic",
                    "seq": 1,
                    "device": "main-meter",
                    "metric": "energy",
                    "ts": "2026-11-18T11:07:00.000Z",
                    "kind": "rollover",
                    "value": 4.0,
                    "previous": 99990.0,
                }
            ]
        },
    )


@pytest.mark.usefixtures("with_meter_events")
@pytest.mark.parametrize(
    ("params", "seqs"),
    [
        ({}, [2, 1, 3]),
        ({"site": "clinic", "device": "main-meter"}, [1, 3]),
        ({"kind": "reset"}, [3]),
        ({"kind": "replacement"}, []),
        ({"from": "2026-11-18T11:07:00Z"}, [1, 3]),
        ({"from": str(T0 + 11), "to": str(T0 + 39)}, [1]),
        ({"to": "2026-11-18T19:07:00+08:00"}, [2, 1]),
        ({"limit": 1}, [2]),
        ({"site": "school"}, []),
    ],
)
def test_meter_events_filters(
    hub: RunningHub, http: httpx.Client, params: dict[str, str | int], seqs: list[int]
) -> None:
    items = get_meter_events(http, token(hub, "energy"), **params).json()["items"]
    assert [e["seq"] for e in items] == seqs


@pytest.mark.usefixtures("with_meter_events")
@pytest.mark.parametrize("role", ["maintenance", "security"])
def test_other_roles_may_not_read_meter_events(
    hub: RunningHub, http: httpx.Client, role: str
) -> None:
    response = get_meter_events(http, token(hub, role))
    assert (response.status_code, response.json()) == (
        403,
        {"detail": f"role {role!r} may not read meter events"},
    )


@pytest.mark.parametrize("headers", [{}, bearer("nope")])
def test_meter_events_need_a_user_token(
    http: httpx.Client, with_meter_events: Credentials, headers: dict[str, str]
) -> None:
    assert get_meter_events(http, headers).status_code == 401
    assert get_meter_events(http, bearer(with_meter_events.agent)).status_code == 401


@pytest.mark.usefixtures("with_meter_events")
def test_a_bad_time_for_meter_events_is_a_clear_422(hub: RunningHub, http: httpx.Client) -> None:
    response = get_meter_events(http, token(hub, "admin"), to="last tuesday")
    assert response.status_code == 422
    assert response.json()["detail"].startswith("to='last tuesday' is not a time")


@pytest.fixture
def with_excursions(http: httpx.Client, creds: Credentials) -> Credentials:
    sent = [
        excursion(1),
        excursion(
            2,
            start=T0 + 7200,
            minutes=30,
            rule=HOSTILE,
            device="<script>alert(1)</script>",
            ended_by="gap",
            doors=[
                {"door": "-door", "at": T0 + 7300, "open": True},
                {"door": "-door", "at": T0 + 7400, "open": False},
            ],
            doors_dropped=3,
        ),
    ]
    assert push(http, creds.agent, batch(excursions=sent)).status_code == 200
    return creds


@pytest.mark.usefixtures("with_excursions")
def test_an_excursion_has_every_field_in_iso_utc(http: httpx.Client, creds: Credentials) -> None:
    response = get_excursions(http, bearer(creds.api), to=str(T0 + 3600))
    assert (response.status_code, response.json()) == (
        200,
        {
            "items": [
                {
                    "site": "clinic",
                    "seq": 1,
                    "rule": "vaccines",
                    "device": "fridge-1",
                    "metric": "temperature",
                    "started_at": "2026-11-18T11:06:40.000Z",
                    "ended_at": "2026-11-18T12:16:40.000Z",
                    "duration": 4200.0,
                    "lowest": -1.5,
                    "highest": -0.5,
                    "ended_by": "range",
                    "doors": [
                        {"door": "fridge-1-door", "at": "2026-11-18T11:07:40.000Z", "open": True}
                    ],
                    "doors_dropped": 0,
                }
            ]
        },
    )


@pytest.mark.usefixtures("with_excursions")
@pytest.mark.parametrize(
    ("params", "seqs"),
    [
        ({}, [1, 2]),
        ({"site": "clinic", "device": "fridge-1"}, [1]),
        ({"from": "2026-11-18T12:00:00Z"}, [1, 2]),
        ({"from": "2026-11-18T12:17:00Z"}, [2]),
        ({"from": str(T0 + 7200), "to": "2026-11-18T21:06:40+08:00"}, [2]),
        ({"limit": 1}, [1]),
        ({"site": "school"}, []),
        ({"device": "' OR 1=1 --"}, []),
    ],
)
def test_excursion_filters(
    http: httpx.Client, creds: Credentials, params: dict[str, str | int], seqs: list[int]
) -> None:
    items = get_excursions(http, bearer(creds.api), **params).json()["items"]
    assert [x["seq"] for x in items] == seqs


def rows(response: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.text)))


@pytest.mark.usefixtures("with_excursions")
@pytest.mark.parametrize(
    ("params", "headers"), [({"format": "csv"}, {}), ({}, {"Accept": "text/csv"})]
)
def test_excursions_as_csv_defuse_formulas(
    http: httpx.Client, creds: Credentials, params: dict[str, str], headers: dict[str, str]
) -> None:
    response = get_excursions(http, bearer(creds.api) | headers, **params)
    assert (response.status_code, response.headers["content-type"]) == (
        200,
        "text/csv; charset=utf-8",
    )
    assert response.headers["content-disposition"] == 'attachment; filename="excursions-all.csv"'
    assert rows(response) == [
        [
            "site",
            "seq",
            "rule",
            "device",
            "metric",
            "started_at",
            "ended_at",
            "duration_s",
            "lowest",
            "highest",
            "ended_by",
            "door_openings",
            "door_events",
            "doors_dropped",
        ],
        [
            "clinic",
            "1",
            "vaccines",
            "fridge-1",
            "temperature",
            "2026-11-18T11:06:40.000Z",
            "2026-11-18T12:16:40.000Z",
            "4200.0",
            "-1.5",
            "-0.5",
            "range",
            "1",
            "fridge-1-door opened 2026-11-18T11:07:40.000Z",
            "0",
        ],
        [
            "clinic",
            "2",
            "'" + HOSTILE,
            "<script>alert(1)</script>",
            "temperature",
            "2026-11-18T13:06:40.000Z",
            "2026-11-18T13:36:40.000Z",
            "1800.0",
            "-1.5",
            "-0.5",
            "gap",
            "1",
            "'-door opened 2026-11-18T13:08:20.000Z; -door closed 2026-11-18T13:10:00.000Z",
            "3",
        ],
    ]


@pytest.mark.usefixtures("with_excursions")
def test_a_hostile_site_name_cannot_steer_the_file_name(
    http: httpx.Client, creds: Credentials
) -> None:
    response = get_excursions(http, bearer(creds.api), format="csv", site='x"; y\r\nz')
    assert response.headers["content-disposition"] == (
        'attachment; filename="excursions-x___y__z.csv"'
    )


@pytest.mark.usefixtures("with_excursions")
def test_hostile_strings_come_back_as_data(http: httpx.Client, creds: Credentials) -> None:
    found = get_excursions(http, bearer(creds.api), device="<script>alert(1)</script>").json()[
        "items"
    ]
    assert [(x["rule"], x["device"]) for x in found] == [(HOSTILE, "<script>alert(1)</script>")]


@pytest.mark.usefixtures("with_excursions")
@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"from": "last tuesday"}, "from='last tuesday' is not a time"),
        ({"to": "nan"}, "to='nan' is not a time"),
        ({"limit": 0}, "limit"),
        ({"limit": "lots"}, "limit"),
        ({"format": "xlsx"}, "format"),
    ],
)
def test_bad_parameters_are_a_clear_422(
    http: httpx.Client, creds: Credentials, params: dict[str, str | int], where: str
) -> None:
    response = get_excursions(http, bearer(creds.api), **params)
    assert (response.status_code, where in json.dumps(response.json()["detail"])) == (422, True)


@pytest.mark.usefixtures("with_excursions")
@pytest.mark.parametrize("role", ["admin", "maintenance"])
def test_the_cold_chain_roles_read_excursions(
    hub: RunningHub, http: httpx.Client, role: str
) -> None:
    assert len(get_excursions(http, token(hub, role)).json()["items"]) == 2


@pytest.mark.usefixtures("with_excursions")
@pytest.mark.parametrize("role", ["energy", "security"])
def test_other_roles_may_not_read_excursions(
    hub: RunningHub, http: httpx.Client, role: str
) -> None:
    response = get_excursions(http, token(hub, role))
    assert (response.status_code, response.json()) == (
        403,
        {"detail": f"role {role!r} may not read cold-chain excursions"},
    )


@pytest.mark.parametrize("headers", [{}, bearer("nope")])
def test_excursions_need_a_user_token(
    http: httpx.Client, with_excursions: Credentials, headers: dict[str, str]
) -> None:
    assert get_excursions(http, headers).status_code == 401
    assert get_excursions(http, bearer(with_excursions.agent)).status_code == 401
