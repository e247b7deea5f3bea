"""The hub's web application: the sync endpoint, the read API and the pages, over one database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from sync.hub import heartbeat
from sync.hub.db import open_hub
from sync.hub.errors import (
    Conflict,
    Forbidden,
    HubError,
    InvalidConfig,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from sync.hub.serve import DB_ENV, SILENT_AFTER_ENV
from web import api, pages
from web.security import LoginRequired

STATIC = Path(__file__).parent / "static"
STATUS: tuple[tuple[type[HubError], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
)


def create_app_from_env() -> FastAPI:
    """The factory ``hub serve`` hands uvicorn: the database URL comes in ``FW_HUB_DB``, the
    ``agent_silent`` delay in ``FW_HUB_AGENT_SILENT_AFTER`` (default 15m)."""
    after = os.environ.get(SILENT_AFTER_ENV, heartbeat.DEFAULT_AFTER)
    return create_app(os.environ[DB_ENV], agent_silent_after=heartbeat.parse_after(after))


def create_app(
    db_url: str,
    *,
    agent_silent_after: timedelta | None = None,
    check_interval: float = heartbeat.CHECK_INTERVAL,
) -> FastAPI:
    """Open (and migrate) the hub database at ``db_url`` and build the app around it.

    The handle is ``app.state.hubdb``; it is closed when the app shuts down. While the app runs,
    every ``check_interval`` seconds it raises ``agent_silent`` for each site that has not
    synced for ``agent_silent_after`` (None: never).
    """
    hubdb = open_hub(db_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with heartbeat.watching(hubdb, agent_silent_after, check_interval):
            yield
        hubdb.close()

    app = FastAPI(title="facilitywatch hub", version=_version(), lifespan=lifespan)
    app.state.hubdb = hubdb
    app.state.agent_silent_after = agent_silent_after
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(HubError)
    async def refused(_request: Request, error: HubError) -> Response:
        status = status_of(error)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        body: dict[str, object] = {"detail": str(error)}
        if isinstance(error, InvalidConfig):
            body["errors"] = error.errors
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(LoginRequired)
    async def to_login(_request: Request, _error: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    return app


def status_of(error: HubError) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), 400)


def _version() -> str:
    try:
        return version("facilitywatch")
    except PackageNotFoundError:
        return "0"
