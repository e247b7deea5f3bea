"""The HTML pages: log in, the dashboard of every site, acknowledge from it."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from sync.hub import actions as hub_actions
from sync.hub import auth, board
from sync.hub.errors import LoginFailed
from web.render import environment
from web.security import SESSION_COOKIE, Hub, SameOrigin, SessionUser

REFRESH_SECONDS = 10

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(env=environment())


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _page(request, "login.html", error=None, name="")


@router.post("/login", dependencies=[SameOrigin])
def login(
    request: Request,
    hubdb: Hub,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    now = time.time()
    try:
        token = auth.login(hubdb, name, password, now)
    except LoginFailed as error:
        return _page(request, "login.html", status=401, error=str(error), name=name)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(auth.SESSION_TTL),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", dependencies=[SameOrigin])
def logout(request: Request, hubdb: Hub) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.logout(hubdb, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
    return response


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, user: SessionUser, hubdb: Hub) -> Response:
    now = time.time()
    return _page(
        request,
        "dashboard.html",
        user=user,
        boards=board.dashboard(hubdb, now),
        now=now,
        refresh=REFRESH_SECONDS,
    )


@router.post("/alarms/{alarm_id}/ack", dependencies=[SameOrigin])
def acknowledge(alarm_id: str, user: SessionUser, hubdb: Hub) -> Response:
    hub_actions.acknowledge_alarm(hubdb, alarm_id, user, time.time())
    return RedirectResponse("/", status_code=303)


def _page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    response = templates.TemplateResponse(request, template, context, status_code=status)
    # The dashboard shows live state, and a shared screen must not serve it from cache after
    # logout.
    response.headers["Cache-Control"] = "no-store"
    return response
