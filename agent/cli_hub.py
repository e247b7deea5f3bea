"""``facilitywatch hub serve|create-agent|rotate-agent|revoke-agent|create-user``: serve the hub
and administer its agents and users, over the hub database named by ``--db``. Thin: parse, call,
print."""

from __future__ import annotations

from datetime import timedelta

import click

from sync.hub.db import HubDB
from sync.hub.errors import HubError

__all__ = ["hub"]

DEFAULT_HUB_DB = "sqlite:///./hub-data/hub.db"


@click.group()
def hub() -> None:
    """Serve and administer the hub that every site's agent syncs to."""


db_option = click.option(
    "--db",
    "db_url",
    default=DEFAULT_HUB_DB,
    show_default=True,
    envvar="FW_HUB_DB",
    help="Hub database URL: sqlite:///path/hub.db or postgresql://user@host/db.",
)


def _silent_after(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from collector.duration import DurationError
    from sync.hub.heartbeat import parse_after

    try:
        parse_after(value)
    except DurationError as error:
        raise click.BadParameter(str(error)) from None
    return value


@hub.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--agent-silent-after",
    default="15m",
    show_default=True,
    envvar="FW_HUB_AGENT_SILENT_AFTER",
    callback=_silent_after,
    help="Raise agent_silent for a site whose agent has not synced this long (0 or off: never).",
)
def hub_serve(db_url: str, host: str, port: int, agent_silent_after: str) -> None:
    """Serve the hub's web pages, read API and sync endpoint."""
    from sync.hub.serve import serve

    serve(db_url, host, port, agent_silent_after)


@hub.command("create-agent")
@db_option
@click.argument("site")
def hub_create_agent(db_url: str, site: str) -> None:
    """Register SITE and print a new agent token (the last line)."""
    from sync.hub import auth

    hubdb = _open_hub(db_url)
    try:
        token = auth.create_agent(hubdb, site)
    except HubError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"agent token for site {site} (shown once; put it in the site's hub.token):")
    click.echo(token)


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    from collector.duration import DurationError, parse_duration

    try:
        return parse_duration(value)
    except DurationError as error:
        raise click.BadParameter(str(error)) from None


@hub.command("rotate-agent")
@db_option
@click.argument("site")
@click.option(
    "--grace",
    default="1d",
    show_default=True,
    callback=_duration,
    help="How long the site's current tokens keep working: time to deploy the new one.",
)
def hub_rotate_agent(db_url: str, site: str, grace: timedelta) -> None:
    """Print a new agent token for SITE (the last line); the old ones stop after --grace."""
    import time

    from collector.duration import format_duration
    from sync.hub import auth

    token = auth.rotate_agent(_open_hub(db_url), site, time.time(), grace.total_seconds())
    click.echo(
        f"new agent token for site {site} (shown once; the old ones stop in"
        f" {format_duration(grace)}):"
    )
    click.echo(token)


@hub.command("revoke-agent")
@db_option
@click.argument("site")
def hub_revoke_agent(db_url: str, site: str) -> None:
    """Revoke every agent token of SITE now; its agent keeps buffering until it gets a new one."""
    import time

    from sync.hub import auth

    count = auth.revoke_site_agents(_open_hub(db_url), site, time.time())
    click.echo(f"revoked {count} agent token(s) of site {site}")


@hub.command("create-user")
@db_option
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["admin", "maintenance", "energy", "security"]),
    required=True,
)
def hub_create_user(db_url: str, name: str, role: str) -> None:
    """Create a user; print the password and, as the last line, an API token."""
    from sync.hub import auth

    hubdb = _open_hub(db_url)
    try:
        password, token = auth.create_user(hubdb, name, role)
    except HubError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"user {name} ({role}) password: {password}")
    click.echo("API token (shown once):")
    click.echo(token)


def _open_hub(db_url: str) -> HubDB:
    from sync.hub import db

    try:
        return db.open_hub(db_url)
    except HubError as error:
        raise click.ClickException(str(error)) from None
