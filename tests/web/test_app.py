from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync.hub import auth, errors
from sync.hub.serve import DB_ENV, SILENT_AFTER_ENV
from sync.protocol import SyncAck
from tests.hubfixtures import T0, Credentials, RunningHub, batch, bearer, push, serve_hub
from tests.support.wait import until
from tests.web.api.calls import READ_PATHS
from web.app import create_app_from_env, status_of


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidToken("agent"), 401),
        (errors.LoginFailed("ann"), 401),
        (errors.WrongSite("a", "b"), 403),
        (errors.NotPermitted("energy", "acknowledge alarms"), 403),
        (errors.UnknownAlarm("x"), 404),
        (errors.DuplicateUser("ann"), 409),
        (errors.InvalidTime("from", "x"), 422),
        (errors.InvalidBatch("x"), 422),
        (errors.HubError("x"), 400),
    ],
)
def test_each_branch_of_the_hierarchy_has_its_status(error: errors.HubError, status: int) -> None:
    assert status_of(error) == status


def test_the_database_handle_is_on_the_app(hub: RunningHub) -> None:
    assert hub.app.state.hubdb.dialect in ("sqlite", "postgresql")


@pytest.mark.parametrize(
    ("setting", "after"),
    [("15m", timedelta(minutes=15)), ("1h30m", timedelta(minutes=90)), ("off", None), ("0", None)],
)
def test_the_factory_reads_the_silence_delay_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, setting: str, after: timedelta | None
) -> None:
    monkeypatch.setenv(DB_ENV, f"sqlite:///{tmp_path}/hub.db")
    monkeypatch.setenv(SILENT_AFTER_ENV, setting)
    app = create_app_from_env()
    app.state.hubdb.close()
    assert app.state.agent_silent_after == after


def test_the_silence_delay_is_15_minutes_unless_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(DB_ENV, f"sqlite:///{tmp_path}/hub.db")
    monkeypatch.delenv(SILENT_AFTER_ENV, raising=False)
    app = create_app_from_env()
    app.state.hubdb.close()
    assert app.state.agent_silent_after == timedelta(minutes=15)


def test_a_silent_agent_is_an_alarm_people_acknowledge_and_its_sync_clears(
    hub_db_url: str,
) -> None:
    with (
        serve_hub(hub_db_url, agent_silent_after=timedelta(seconds=1), check_interval=0.05) as hub,
        httpx.Client(base_url=hub.url, verify=False) as http,
    ):
        agent = auth.create_agent(hub.hubdb, "clinic", now=T0)
        password, api = auth.create_user(hub.hubdb, "ann", "maintenance", now=T0)
        assert push(http, agent, batch()).status_code == 200
        [raised] = until(lambda: silent_alarms(http, api))
        http.post("/login", data={"name": "ann", "password": password})
        page = http.get("/").text
        acked = http.post(f"/api/v1/alarms/{raised['id']}/ack", headers=bearer(api))
        answer = SyncAck.model_validate_json(push(http, agent, batch()).content)
        after = http.get(f"/api/v1/alarms/{raised['id']}", headers=bearer(api)).json()
    assert (raised["site"], raised["device"], raised["severity"]) == ("clinic", "clinic", "high")
    assert f'data-alarm="{raised["id"]}"' in page
    assert (acked.status_code, acked.json()["state"]) == (200, "acknowledged")
    assert (answer.actions, after["state"]) == ([], "normal")


def silent_alarms(http: httpx.Client, token: str) -> list[dict[str, Any]]:
    found = http.get("/api/v1/alarms", params={"state": "open"}, headers=bearer(token)).json()
    return [a for a in found["items"] if a["rule"] == "agent_silent"]


@pytest.mark.parametrize("path", READ_PATHS)
@pytest.mark.parametrize("headers", [{}, bearer("nope")])
def test_reading_needs_a_user_token(
    http: httpx.Client, creds: Credentials, path: str, headers: dict[str, str]
) -> None:
    response = http.get(path, headers=headers)
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "unknown, revoked or expired user API token"},
    )


@pytest.mark.parametrize("path", READ_PATHS)
def test_an_agent_token_does_not_read(http: httpx.Client, creds: Credentials, path: str) -> None:
    assert http.get(path, headers=bearer(creds.agent)).status_code == 401


def test_openapi_documents_the_api(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    assert set(spec["paths"]) >= {*READ_PATHS, "/api/v1/sync", "/api/v1/alarms/{alarm_id}/ack"}
    assert http.get("/docs").status_code == 200
