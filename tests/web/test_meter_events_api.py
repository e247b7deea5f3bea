"""``GET /api/v1/meter-events`` on the real hub, over SQLite and PostgreSQL."""

from __future__ import annotations

import json

import httpx
import pytest

from sync.hub import auth
from tests.hubfixtures import T0, Credentials, RunningHub, batch, bearer, meter_event, push


@pytest.fixture
def seeded(http: httpx.Client, creds: Credentials) -> Credentials:
    events = [
        meter_event(1, ts=T0 + 20, kind="rollover", value=4, previous=99_990),
        meter_event(2, ts=T0 + 10, kind="jitter", value=3.5, device="water-1", metric="water"),
        meter_event(3, ts=T0 + 40, kind="reset", value=12, previous=None),
    ]
    assert push(http, creds.agent, batch(meter_events=events)).status_code == 200
    return creds


def token(hub: RunningHub, role: str) -> dict[str, str]:
    _, api = auth.create_user(hub.hubdb, f"user-{role}", role, now=T0)
    return bearer(api)


def get(http: httpx.Client, headers: dict[str, str], **params: str | int) -> httpx.Response:
    return http.get("/api/v1/meter-events", params=params, headers=headers)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", ["admin", "energy"])
def test_a_meter_event_has_every_field_in_iso_utc(
    hub: RunningHub, http: httpx.Client, role: str
) -> None:
    response = get(http, token(hub, role), kind="rollover")
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


@pytest.mark.usefixtures("seeded")
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
    items = get(http, token(hub, "energy"), **params).json()["items"]
    assert [e["seq"] for e in items] == seqs


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", ["maintenance", "security"])
def test_other_roles_may_not_read_meter_events(
    hub: RunningHub, http: httpx.Client, role: str
) -> None:
    response = get(http, token(hub, role))
    assert (response.status_code, response.json()) == (
        403,
        {"detail": f"role {role!r} may not read meter events"},
    )


@pytest.mark.parametrize("headers", [{}, bearer("nope")])
def test_meter_events_need_a_user_token(
    http: httpx.Client, seeded: Credentials, headers: dict[str, str]
) -> None:
    assert get(http, headers).status_code == 401
    assert get(http, bearer(seeded.agent)).status_code == 401


@pytest.mark.usefixtures("seeded")
def test_a_bad_time_is_a_clear_422(hub: RunningHub, http: httpx.Client) -> None:
    response = get(http, token(hub, "admin"), to="last tuesday")
    assert response.status_code == 422
    assert response.json()["detail"].startswith("to='last tuesday' is not a time")


def test_an_older_agent_without_meter_events_syncs(http: httpx.Client, creds: Credentials) -> None:
    old = {"site": "clinic", "sent_at": T0, "readings": {"after": 0, "through": 0, "items": []}}
    response = http.post("/api/v1/sync", content=json.dumps(old), headers=bearer(creds.agent))
    assert (response.status_code, response.json()["acked"]["meter_events"]) == (200, 0)


def test_a_resent_batch_stores_meter_events_once(
    hub: RunningHub, http: httpx.Client, creds: Credentials
) -> None:
    sent = batch(meter_events=[meter_event(1), meter_event(2, ts=T0 + 5)])
    acks = [push(http, creds.agent, sent).json()["acked"]["meter_events"] for _ in range(2)]
    items = get(http, token(hub, "admin")).json()["items"]
    assert (acks, [e["seq"] for e in items]) == ([2, 2], [1, 2])
