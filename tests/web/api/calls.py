"""Calling the hub's API as the tests do: the read routes, a GET with a user's token, the token of
a new user of a role."""

from __future__ import annotations

import httpx

from sync.hub import auth
from tests.hubfixtures import T0, Credentials, RunningHub, bearer

READ_PATHS = [
    "/api/v1/sites",
    "/api/v1/readings",
    "/api/v1/alarms",
    "/api/v1/access-events",
    "/api/v1/meter-events",
    "/api/v1/rollups",
]


def get(http: httpx.Client, creds: Credentials, path: str, **params: str | int) -> httpx.Response:
    return http.get(path, params=params, headers=bearer(creds.api))


def token(hub: RunningHub, role: str) -> dict[str, str]:
    _, api = auth.create_user(hub.hubdb, f"user-{role}", role, now=T0)
    return bearer(api)


def get_meter_events(
    http: httpx.Client, headers: dict[str, str], **params: str | int
) -> httpx.Response:
    return http.get("/api/v1/meter-events", params=params, headers=headers)


def get_excursions(
    http: httpx.Client, headers: dict[str, str], **params: str | int
) -> httpx.Response:
    return http.get("/api/v1/excursions", params=params, headers=headers)
