"""Who may talk to the hub: agent tokens (one site each), users with roles, API and session tokens.

Tokens are random and stored only as SHA-256 hashes (they carry 256 bits, so a fast hash is
enough); passwords are people's and get argon2id.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Connection, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from sync.hub import schema
from sync.hub.db import HubDB
from sync.hub.errors import DuplicateUser, InvalidInput, InvalidRole, InvalidToken, LoginFailed

ROLES = ("admin", "maintenance", "energy", "security")
ACK_ROLES = frozenset({"admin", "maintenance"})
SESSION_TTL = 12 * 3600.0
TokenKind = Literal["api", "session"]

_hasher = PasswordHasher()
# Verified when the user does not exist, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str

    @property
    def can_acknowledge(self) -> bool:
        return self.role in ACK_ROLES


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_agent(hubdb: HubDB, site: str, now: float | None = None) -> str:
    """Register ``site`` if it is new and return a new agent token for it (stored hashed)."""
    at = time.time() if now is None else now
    token = secrets.token_urlsafe(32)
    with hubdb.write() as conn:
        conn.execute(
            hubdb.insert(schema.sites)
            .values(id=site, name=site, quarantined=0)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        conn.execute(
            schema.agents.insert().values(site=site, token_hash=token_hash(token), created_at=at)
        )
    return token


def agent_site(hubdb: HubDB, token: str, now: float | None = None) -> str:
    """The site an agent token may write to."""
    agents = schema.agents
    query = select(agents.c.site).where(
        agents.c.token_hash == token_hash(token), live_token(time.time() if now is None else now)
    )
    with hubdb.read() as conn:
        site: str | None = conn.scalar(query)
    if site is None:
        raise InvalidToken("agent")
    return site


def revoke_agent(hubdb: HubDB, token: str, now: float) -> bool:
    agents = schema.agents
    with hubdb.write() as conn:
        done = conn.execute(
            update(agents)
            .where(agents.c.token_hash == token_hash(token), live_token(now))
            .values(revoked_at=now)
        )
    return done.rowcount > 0


def rotate_agent(hubdb: HubDB, site: str, now: float, grace: float) -> str:
    """A new token for ``site``; its other live tokens stop working ``grace`` seconds from now,
    time to put the new one in the site's configuration (a site offline meanwhile keeps
    buffering and catches up with the new token)."""
    token = create_agent(hubdb, site, now)
    agents = schema.agents
    with hubdb.write() as conn:
        conn.execute(
            update(agents)
            .where(
                agents.c.site == site,
                agents.c.token_hash != token_hash(token),
                or_(agents.c.revoked_at.is_(None), agents.c.revoked_at > now + grace),
            )
            .values(revoked_at=now + grace)
        )
    return token


def revoke_site_agents(hubdb: HubDB, site: str, now: float) -> int:
    """Revoke every live token of ``site`` now; how many there were."""
    agents = schema.agents
    with hubdb.write() as conn:
        done = conn.execute(
            update(agents).where(agents.c.site == site, live_token(now)).values(revoked_at=now)
        )
    return done.rowcount


def live_token(now: float) -> ColumnElement[bool]:
    """An agent token that works at ``now``: never revoked, or rotated away and still within its
    grace period. The one definition for signing in and for the heartbeat's watched sites."""
    return or_(schema.agents.c.revoked_at.is_(None), schema.agents.c.revoked_at > now)


def create_user(hubdb: HubDB, name: str, role: str, now: float | None = None) -> tuple[str, str]:
    """Create a user; return a generated password and an API token (both shown once)."""
    at = time.time() if now is None else now
    if role not in ROLES:
        raise InvalidRole(role, ROLES)
    if not name.strip() or name != name.strip():
        raise InvalidInput(f"user name {name!r} must be non-empty, without surrounding spaces")
    password = secrets.token_urlsafe(12)
    try:
        with hubdb.write() as conn:
            user_id: int = conn.execute(
                schema.users.insert()
                .values(name=name, role=role, password_hash=_hasher.hash(password), created_at=at)
                .returning(schema.users.c.id)
            ).scalar_one()
            token = _issue(conn, user_id, "api", at, expires_at=None)
    except IntegrityError:
        raise DuplicateUser(name) from None
    return password, token


def login(hubdb: HubDB, name: str, password: str, now: float) -> str:
    """Check a password and open a session; return the session token for the cookie."""
    users = schema.users
    with hubdb.read() as conn:
        row = conn.execute(
            select(users.c.id, users.c.password_hash).where(users.c.name == name)
        ).first()
    if not _verify(row.password_hash if row else _DUMMY_HASH, password) or row is None:
        raise LoginFailed(name)
    tokens = schema.api_tokens
    with hubdb.write() as conn:
        # Expired sessions are useless; logging in is a good moment to forget them.
        conn.execute(delete(tokens).where(tokens.c.kind == "session", tokens.c.expires_at < now))
        return _issue(conn, row.id, "session", now, expires_at=now + SESSION_TTL)


def logout(hubdb: HubDB, session_token: str) -> None:
    tokens = schema.api_tokens
    with hubdb.write() as conn:
        conn.execute(
            delete(tokens).where(
                tokens.c.hash == token_hash(session_token), tokens.c.kind == "session"
            )
        )


def user_for_token(hubdb: HubDB, token: str, kind: TokenKind, now: float) -> User:
    users, tokens = schema.users, schema.api_tokens
    query = (
        select(users.c.id, users.c.name, users.c.role)
        .join(tokens, tokens.c.user_id == users.c.id)
        .where(
            tokens.c.hash == token_hash(token),
            tokens.c.kind == kind,
            or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
        )
    )
    with hubdb.read() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise InvalidToken("session" if kind == "session" else "user API")
    return User(id=row.id, name=row.name, role=row.role)


def _issue(
    conn: Connection, user_id: int, kind: TokenKind, now: float, expires_at: float | None
) -> str:
    token = secrets.token_urlsafe(32)
    conn.execute(
        schema.api_tokens.insert().values(
            hash=token_hash(token),
            user_id=user_id,
            created_at=now,
            kind=kind,
            expires_at=expires_at,
        )
    )
    return token


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
