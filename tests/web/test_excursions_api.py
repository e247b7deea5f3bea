"""``GET /api/v1/excursions`` on the real hub, over SQLite and PostgreSQL: JSON and CSV, the
cold-chain roles, bad parameters and hostile strings."""

from __future__ import annotations

import csv
import gzip
import io
import json

import httpx
import pytest

from sync.hub import auth
from tests.hubfixtures import T0, Credentials, RunningHub, batch, bearer, excursion, push

PATH = "/api/v1/excursions"
HOSTILE = '=HYPERLINK("http://x")'


@pytest.fixture
def seeded(http: httpx.Client, creds: Credentials) -> Credentials:
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


def token(hub: RunningHub, role: str) -> dict[str, str]:
    _, api = auth.create_user(hub.hubdb, f"user-{role}", role, now=T0)
    return bearer(api)


def get(http: httpx.Client, headers: dict[str, str], **params: str | int) -> httpx.Response:
    return http.get(PATH, params=params, headers=headers)


@pytest.mark.usefixtures("seeded")
def test_an_excursion_has_every_field_in_iso_utc(http: httpx.Client, creds: Credentials) -> None:
    response = get(http, bearer(creds.api), to=str(T0 + 3600))
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


@pytest.mark.usefixtures("seeded")
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
    items = get(http, bearer(creds.api), **params).json()["items"]
    assert [x["seq"] for x in items] == seqs


def rows(response: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.text)))


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("params", "headers"), [({"format": "csv"}, {}), ({}, {"Accept": "text/csv"})]
)
def test_excursions_as_csv_defuse_formulas(
    http: httpx.Client, creds: Credentials, params: dict[str, str], headers: dict[str, str]
) -> None:
    response = get(http, bearer(creds.api) | headers, **params)
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


@pytest.mark.usefixtures("seeded")
def test_a_hostile_site_name_cannot_steer_the_file_name(
    http: httpx.Client, creds: Credentials
) -> None:
    response = get(http, bearer(creds.api), format="csv", site='x"; y\r\nz')
    assert response.headers["content-disposition"] == (
        'attachment; filename="excursions-x___y__z.csv"'
    )


@pytest.mark.usefixtures("seeded")
def test_hostile_strings_come_back_as_data(http: httpx.Client, creds: Credentials) -> None:
    found = get(http, bearer(creds.api), device="<script>alert(1)</script>").json()["items"]
    assert [(x["rule"], x["device"]) for x in found] == [(HOSTILE, "<script>alert(1)</script>")]


@pytest.mark.usefixtures("seeded")
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
    response = get(http, bearer(creds.api), **params)
    assert (response.status_code, where in json.dumps(response.json()["detail"])) == (422, True)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", ["admin", "maintenance"])
def test_the_cold_chain_roles_read_excursions(
    hub: RunningHub, http: httpx.Client, role: str
) -> None:
    assert len(get(http, token(hub, role)).json()["items"]) == 2


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", ["energy", "security"])
def test_other_roles_may_not_read_excursions(
    hub: RunningHub, http: httpx.Client, role: str
) -> None:
    response = get(http, token(hub, role))
    assert (response.status_code, response.json()) == (
        403,
        {"detail": f"role {role!r} may not read cold-chain excursions"},
    )


@pytest.mark.parametrize("headers", [{}, bearer("nope")])
def test_excursions_need_a_user_token(
    http: httpx.Client, seeded: Credentials, headers: dict[str, str]
) -> None:
    assert get(http, headers).status_code == 401
    assert get(http, bearer(seeded.agent)).status_code == 401


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"rule": "r" * 201}, "excursions.items.1.rule"),
        ({"device": ""}, "excursions.items.1.device"),
        ({"ended_by": "x" * 21}, "excursions.items.1.ended_by"),
        (
            {"doors": [{"door": "d", "at": T0, "open": "sometimes"}]},
            "excursions.items.1.doors.0.open",
        ),
        ({"doors_dropped": -1}, "excursions.items.1.doors_dropped"),
        ({"highest": float("inf")}, "excursions.items.1.highest"),
        ({"doors": [{"door": "d", "at": float("nan"), "open": True}]}, "items.1.doors.0.at"),
    ],
)
def test_a_hostile_excursion_is_refused_whole_and_stores_nothing(
    http: httpx.Client, creds: Credentials, change: dict[str, object], reason: str
) -> None:
    good = excursion(1).model_dump()
    body = {
        "site": "clinic",
        "sent_at": T0,
        "readings": {
            "after": 0,
            "through": 1,
            "items": [
                {
                    "seq": 1,
                    "device": "d",
                    "metric": "temperature",
                    "ts": T0,
                    "value": 1,
                    "received_at": T0,
                }
            ],
        },
        "excursions": {"after": 0, "through": 2, "items": [good, good | change | {"seq": 2}]},
    }
    headers = bearer(creds.agent) | {"Content-Encoding": "gzip"}
    response = http.post(
        "/api/v1/sync", content=gzip.compress(json.dumps(body).encode()), headers=headers
    )
    readings = http.get("/api/v1/readings", headers=bearer(creds.api)).json()["items"]
    assert (response.status_code, reason in response.json()["detail"], readings) == (422, True, [])
    assert get(http, bearer(creds.api)).json()["items"] == []


def test_an_older_agent_without_excursions_syncs(http: httpx.Client, creds: Credentials) -> None:
    old = {"site": "clinic", "sent_at": T0, "readings": {"after": 0, "through": 0, "items": []}}
    response = http.post("/api/v1/sync", content=json.dumps(old), headers=bearer(creds.agent))
    assert (response.status_code, response.json()["acked"]["excursions"]) == (200, 0)
