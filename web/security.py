"""Who is calling: agent and user bearer tokens for the API, a session cookie for the pages."""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sync.hub import auth
from sync.hub.db import HubDB
from sync.hub.errors import Forbidden, InvalidToken

SESSION_COOKIE = "fw_session"

_agent_bearer = HTTPBearer(
    scheme_name="agentToken",
    description="The token from `facilitywatch hub create-agent SITE`.",
    auto_error=False,
)
_user_bearer = HTTPBearer(
    scheme_name="userToken",
    description="The API token from `facilitywatch hub create-user NAME --role ROLE`.",
    auto_error=False,
)
Credentials = HTTPAuthorizationCredentials | None


class LoginRequired(Exception):
    """A page was asked for without a valid session; the app answers with the login form."""


def hub_db(request: Request) -> HubDB:
    hubdb: HubDB = request.app.state.hubdb
    return hubdb


Hub = Annotated[HubDB, Depends(hub_db)]


def agent_site(hubdb: Hub, credentials: Annotated[Credentials, Depends(_agent_bearer)]) -> str:
    if credentials is None:
        raise InvalidToken("agent")
    return auth.agent_site(hubdb, credentials.credentials)


def api_user(hubdb: Hub, credentials: Annotated[Credentials, Depends(_user_bearer)]) -> auth.User:
    if credentials is None:
        raise InvalidToken("user API")
    return auth.user_for_token(hubdb, credentials.credentials, "api", time.time())


def session_user(request: Request, hubdb: Hub) -> auth.User:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired
    try:
        return auth.user_for_token(hubdb, token, "session", time.time())
    except InvalidToken:
        raise LoginRequired from None


def same_origin(request: Request) -> None:
    """Refuse a form posted from another site (SameSite cookies are the first line; this the
    second, for browsers that send cookies anyway)."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden(f"form posted from {origin}, not from this hub")


AgentSite = Annotated[str, Depends(agent_site)]
ApiUser = Annotated[auth.User, Depends(api_user)]
SessionUser = Annotated[auth.User, Depends(session_user)]
SameOrigin = Depends(same_origin)
