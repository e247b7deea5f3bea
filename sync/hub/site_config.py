"""Site configuration at the hub: immutable versions, numbered per site, and what the agent reports.

An admin sends the hub-managed sections of a site's configuration (``rules.site``: devices, posts,
rules) as YAML or JSON. The hub validates them with the agent's own model — everything but whether
apprise can use a notify URL, which only the agent can tell — and stores them as the site's next
version with who sent it and when; the text is kept as sent, comments and all, and it is that text
the agent receives and validates again inside its whole configuration.

On every sync the agent reports the version it runs and the last one it refused, with the reason
(``ingest`` calls ``report``); ``due`` then answers with the newest version only when it is newer
than both, so a refused version is never sent again: a fixed one is a new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Select, func, select

from rules.site import ConfigError, Format, parse_spec, read_text
from sync.hub import schema
from sync.hub.auth import User
from sync.hub.db import HubDB
from sync.hub.errors import (
    InvalidConfig,
    NotPermitted,
    UnknownConfigVersion,
    UnknownSite,
)
from sync.protocol import MAX_REASON, ConfigRejected, ConfigVersion

__all__ = [
    "EDIT_ROLES",
    "MAX_CONFIG_BYTES",
    "ConfigStatus",
    "StoredVersion",
    "due",
    "get_version",
    "put_config",
    "report",
    "status",
    "versions",
]

EDIT_ROLES = frozenset({"admin"})
MAX_CONFIG_BYTES = 1024 * 1024
VERSIONS_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class StoredVersion:
    site: str
    version: int
    format: Format
    text: str
    created_by: str
    created_at: float


@dataclass(frozen=True, slots=True)
class ConfigStatus:
    """The site's newest version and what its agent last said (None: it has not said yet)."""

    site: str
    current: StoredVersion | None
    applied_version: int | None
    rejected_version: int | None
    error: str | None
    reported_at: float | None


def put_config(
    hubdb: HubDB, user: User, site: str, body: bytes, fmt: Format, now: float
) -> StoredVersion:
    """Validate ``body`` and store it as the site's next version (role admin)."""
    _permitted(user, "change a site's configuration")
    text = _text(body)
    try:
        parse_spec(read_text(text, fmt))
    except ConfigError as error:
        raise InvalidConfig(error.errors) from None
    configs = schema.site_configs
    with hubdb.write() as conn:
        _lock_site(conn, site)
        newest = conn.scalar(select(func.max(configs.c.version)).where(configs.c.site == site))
        stored = StoredVersion(site, (newest or 0) + 1, fmt, text, user.name, now)
        conn.execute(
            configs.insert().values(
                site=site,
                version=stored.version,
                text=text,
                format=fmt,
                created_by=user.name,
                created_at=now,
            )
        )
    return stored


def _permitted(user: User, action: str) -> None:
    # Reading too: notify URLs may carry tokens (unless written as ${VAR}, expanded on site).
    if user.role not in EDIT_ROLES:
        raise NotPermitted(user.role, action)


def _text(body: bytes) -> str:
    if len(body) > MAX_CONFIG_BYTES:
        raise InvalidConfig([f"the configuration is larger than {MAX_CONFIG_BYTES} bytes"])
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidConfig([f"the configuration is not UTF-8: {error}"]) from None
    if "\x00" in text:
        # PostgreSQL's text type cannot hold NUL, and no YAML needs one.
        raise InvalidConfig(["the configuration contains a NUL character"])
    return text


def _lock_site(conn: Connection, site: str) -> None:
    # FOR UPDATE: two versions sent at once are numbered one after the other (PostgreSQL; SQLite
    # writers are serialized already).
    sites = schema.sites
    found = conn.scalar(select(sites.c.id).where(sites.c.id == site).with_for_update())
    if found is None:
        raise UnknownSite(site)


def status(hubdb: HubDB, user: User, site: str) -> ConfigStatus:
    _permitted(user, "read a site's configuration")
    with hubdb.read() as conn:
        if conn.scalar(select(schema.sites.c.id).where(schema.sites.c.id == site)) is None:
            raise UnknownSite(site)
        current = _newest(conn, site)
        row = conn.execute(
            select(schema.site_config_status).where(schema.site_config_status.c.site == site)
        ).first()
    if row is None:
        return ConfigStatus(site, current, None, None, None, None)
    return ConfigStatus(
        site, current, row.applied_version, row.rejected_version, row.error, row.reported_at
    )


def versions(
    hubdb: HubDB, user: User, site: str, limit: int = VERSIONS_LIMIT
) -> list[StoredVersion]:
    """The site's versions, newest first."""
    _permitted(user, "read a site's configuration")
    configs = schema.site_configs
    query = _select().where(configs.c.site == site).order_by(configs.c.version.desc())
    with hubdb.read() as conn:
        if conn.scalar(select(schema.sites.c.id).where(schema.sites.c.id == site)) is None:
            raise UnknownSite(site)
        return [_stored(row) for row in conn.execute(query.limit(limit))]


def get_version(hubdb: HubDB, user: User, site: str, version: int) -> StoredVersion:
    _permitted(user, "read a site's configuration")
    configs = schema.site_configs
    query = _select().where(configs.c.site == site, configs.c.version == version)
    with hubdb.read() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise UnknownConfigVersion(site, version)
    return _stored(row)


def report(
    hubdb: HubDB,
    conn: Connection,
    site: str,
    applied: int,
    rejected: ConfigRejected | None,
    now: float,
) -> None:
    """Record what the agent said in its batch (inside the batch's transaction)."""
    values = {
        "applied_version": applied,
        "rejected_version": rejected.version if rejected else None,
        "error": rejected.reason[:MAX_REASON] if rejected else None,
        "reported_at": now,
    }
    insert = hubdb.insert(schema.site_config_status).values({"site": site} | values)
    conn.execute(insert.on_conflict_do_update(index_elements=["site"], set_=values))


def due(
    conn: Connection, site: str, applied: int, rejected: ConfigRejected | None
) -> ConfigVersion | None:
    """The version to send down: the newest, when the agent has neither run nor refused it."""
    newest = _newest(conn, site)
    seen = max(applied, rejected.version if rejected else 0)
    if newest is None or newest.version <= seen:
        return None
    return ConfigVersion(
        version=newest.version,
        format=newest.format,
        text=newest.text,
        by=newest.created_by,
        at=newest.created_at,
    )


def _select() -> Select[Any]:
    return select(schema.site_configs)


def _newest(conn: Connection, site: str) -> StoredVersion | None:
    configs = schema.site_configs
    query = _select().where(configs.c.site == site).order_by(configs.c.version.desc()).limit(1)
    row = conn.execute(query).first()
    return _stored(row) if row is not None else None


def _stored(row: Row[Any]) -> StoredVersion:
    r = row._mapping
    return StoredVersion(
        r["site"], r["version"], r["format"], r["text"], r["created_by"], r["created_at"]
    )
