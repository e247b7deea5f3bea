"""``/api/v1/alarms`` on the real hub, over SQLite and PostgreSQL: the alarms, acknowledging and
acting on them at the hub, what the agents hear of it, and the roles that may."""

from __future__ import annotations

import httpx
import pytest

from sync.hub import auth
from sync.protocol import ACTION_KINDS, SyncAck
from tests.hubfixtures import Credentials, RunningHub, batch, bearer, push
from tests.web.api.calls import get


def test_an_alarm_has_every_field(http: httpx.Client, seeded: Credentials) -> None:
    [found] = get(http, seeded, "/api/v1/alarms").json()["items"]
    assert found == {
        "id": "a1",
        "site": "clinic",
        "rule": "freezer-warm",
        "device": "freezer-1",
        "metric": "temperature",
        "severity": "high",
        "post": "cold-store",
        "message": "freezer-1 temperature above -15",
        "state": "unacknowledged",
        "active": True,
        "value": -12.0,
        "raised_at": "2026-11-18T11:07:40.000Z",
        "changed_at": "2026-11-18T11:07:40.000Z",
        "acked_at": None,
        "acked_by": None,
        "cleared_at": None,
        "latched": False,
        "closed_at": None,
        "closed_by": None,
        "disposition": None,
        "mode": "in_service",
        "mode_until": None,
        "mode_by": None,
    }


@pytest.mark.parametrize(
    ("state", "ids"),
    [("open", ["a1"]), ("unacknowledged", ["a1"]), ("acknowledged", []), ("normal", [])],
)
def test_alarms_by_state(
    http: httpx.Client, seeded: Credentials, state: str, ids: list[str]
) -> None:
    items = get(http, seeded, "/api/v1/alarms", state=state, site="clinic").json()["items"]
    assert [a["id"] for a in items] == ids


def test_an_unknown_state_is_422(http: httpx.Client, seeded: Credentials) -> None:
    assert get(http, seeded, "/api/v1/alarms", state="closed").status_code == 422


def test_one_alarm_and_an_unknown_one(http: httpx.Client, seeded: Credentials) -> None:
    found = get(http, seeded, "/api/v1/alarms/a1")
    missing = get(http, seeded, "/api/v1/alarms/nope")
    assert (found.json()["id"], missing.status_code, missing.json()) == (
        "a1",
        404,
        {"detail": "no alarm 'nope'"},
    )


def test_acknowledge_then_the_agent_hears_of_it(http: httpx.Client, seeded: Credentials) -> None:
    response = http.post("/api/v1/alarms/a1/ack", headers=bearer(seeded.api))
    again = http.post("/api/v1/alarms/a1/ack", headers=bearer(seeded.api))
    ack = SyncAck.model_validate_json(push(http, seeded.agent, batch(after=3)).content)
    assert (response.json()["state"], response.json()["acked_by"]) == ("acknowledged", "ann")
    assert again.json() == response.json()
    assert [(a.alarm_id, a.by) for a in ack.actions] == [("a1", "ann")]


@pytest.mark.parametrize("role", ["energy", "security"])
def test_acknowledging_needs_a_maintenance_role(
    hub: RunningHub, http: httpx.Client, seeded: Credentials, role: str
) -> None:
    _, token = auth.create_user(hub.hubdb, "eve", role)
    response = http.post("/api/v1/alarms/a1/ack", headers=bearer(token))
    assert (response.status_code, response.json()["detail"]) == (
        403,
        f"role '{role}' may not act on alarms",
    )


def act(http: httpx.Client, creds: Credentials, body: dict[str, object]) -> httpx.Response:
    return http.post("/api/v1/alarms/a1/actions", json=body, headers=bearer(creds.api))


def test_a_shelve_at_the_hub_shows_and_goes_down_to_the_agent(
    http: httpx.Client, seeded: Credentials
) -> None:
    response = act(http, seeded, {"kind": "shelve", "for": "2h", "note": "<b>sensor swap</b>"})
    current = batch(after=3).model_copy(update={"action_kinds": list(ACTION_KINDS)})
    ack = SyncAck.model_validate_json(push(http, seeded.agent, current).content)
    shown = response.json()
    assert (shown["mode"], shown["mode_by"], shown["state"]) == ("shelved", "ann", "unacknowledged")
    assert [(a.action, a.rule, a.note, a.uid is not None) for a in ack.actions] == [
        ("shelve", "freezer-warm", "<b>sensor swap</b>", True)
    ]
    history = get(http, seeded, "/api/v1/alarms/a1/actions").json()["items"]
    assert [(h["kind"], h["by"], h["origin"], h["note"]) for h in history] == [
        ("shelve", "ann", "hub", "<b>sensor swap</b>")
    ]


def test_an_older_agent_gets_only_acknowledgements(http: httpx.Client, seeded: Credentials) -> None:
    act(http, seeded, {"kind": "disable", "note": "maintenance"})
    act(http, seeded, {"kind": "ack"})
    older = batch(after=3).model_copy(update={"action_kinds": None})
    ack = SyncAck.model_validate_json(push(http, seeded.agent, older).content)
    assert [a.action for a in ack.actions] == ["ack"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"kind": "shelve", "for": "25h"}, "shelving is limited to 1 day"),
        ({"kind": "suppress"}, "an operator's suppression needs an end time"),
        ({"kind": "close", "note": "done"}, "is not latched"),
        ({"kind": "note"}, "note needs a note"),
        ({"kind": "shelve", "for": "soon"}, "for: "),
    ],
)
def test_an_action_that_cannot_be_taken_is_a_clear_422(
    http: httpx.Client, seeded: Credentials, body: dict[str, object], detail: str
) -> None:
    response = act(http, seeded, body)
    assert (response.status_code, detail in response.json()["detail"]) == (422, True)
    assert get(http, seeded, "/api/v1/alarms/a1/actions").json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [{"kind": "erase"}, {"kind": "note", "note": "x" * 2001}, {"kind": "ack", "extra": 1}],
)
def test_a_malformed_action_is_refused(
    http: httpx.Client, seeded: Credentials, body: dict[str, object]
) -> None:
    assert act(http, seeded, body).status_code == 422


def test_acting_needs_a_maintenance_role(
    hub: RunningHub, http: httpx.Client, seeded: Credentials
) -> None:
    _, token = auth.create_user(hub.hubdb, "eve", "energy")
    response = http.post(
        "/api/v1/alarms/a1/actions", json={"kind": "disable"}, headers=bearer(token)
    )
    assert response.status_code == 403


def test_acknowledging_an_unknown_alarm(http: httpx.Client, seeded: Credentials) -> None:
    assert http.post("/api/v1/alarms/nope/ack", headers=bearer(seeded.api)).status_code == 404


def test_acknowledging_needs_a_token(http: httpx.Client, seeded: Credentials) -> None:
    assert http.post("/api/v1/alarms/a1/ack").status_code == 401
