"""The hub's own alarm ``agent_silent``: a site whose agent has stopped syncing (issue 4).

Every sync is a heartbeat (``sites.last_sync_at``); when a site's is older than ``after``, the
hub raises one alarm for it (alarms.md: a watchdog whose absence raises an alarm catches a
silent agent): one of the hub's own alarms (``sync.hub.hub_alarms``), raised when the site falls
silent, cleared when it syncs again (at ingest, or at the next check). No agent holds it, so
acknowledging one sends nothing down.

A site is watched from its first sync, while it has an agent token that is not revoked: a site
registered with ``hub create-agent`` whose agent was never started has no heartbeat to lose (the
dashboard says "never synced"), and one whose tokens are all revoked is retired. Nor is a site
silent before the hub has listened for ``after``: a hub that was down heard nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, exists, select

from collector.duration import parse_duration
from rules.alarm import Alarm, AlarmChange
from sync.hub import hub_alarms, schema
from sync.hub.auth import live_token
from sync.hub.db import HubDB

__all__ = [
    "CHECK_INTERVAL",
    "DEFAULT_AFTER",
    "RULE",
    "Heartbeat",
    "check_silent_agents",
    "parse_after",
    "silent_since",
    "synced",
    "transition",
    "watching",
]

RULE = "agent_silent"
SEVERITY = "high"
DEFAULT_AFTER = "15m"
CHECK_INTERVAL = 30.0

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    site: str
    last_sync_at: float | None
    # At least one agent token that is not revoked.
    watched: bool


def parse_after(text: str) -> timedelta | None:
    """``15m``, ``1h30m``, ... as ``collector.duration`` reads them; ``0`` or ``off``: no check.

    Raises ``DurationError`` for anything else.
    """
    if text.strip().lower() in ("0", "off"):
        return None
    after = parse_duration(text)
    return after if after > timedelta(0) else None


def silent_since(
    beat: Heartbeat, now: float, after: timedelta, listening_since: float | None = None
) -> float | None:
    """The last sync of a site that has been silent for ``after`` at ``now``, else None."""
    last = beat.last_sync_at
    if not beat.watched or last is None:
        return None
    heard = last if listening_since is None else max(last, listening_since)
    return last if now - heard >= after.total_seconds() else None


def transition(
    held: Alarm | None, site: str, since: float | None, now: float, new_id: str
) -> AlarmChange | None:
    """What happens to ``held`` (the site's open ``agent_silent`` alarm, if any) when the site
    is silent since its last sync at ``since``, or not silent (``since`` None)."""
    condition = (
        None if since is None else hub_alarms.Condition(RULE, SEVERITY, _message(site, since))
    )
    return hub_alarms.transition(held, site, condition, now, new_id)


def _message(site: str, since: float) -> str:
    when = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"the agent of site {site} has not synced since {when}"


def check_silent_agents(
    hubdb: HubDB, now: float, after: timedelta | None, listening_since: float | None = None
) -> list[AlarmChange]:
    """Raise, raise again or clear every site's ``agent_silent`` alarm as of ``now``; return the
    changes (``alarm.device`` is the site). ``after`` None (the check is off) changes nothing."""
    if after is None:
        return []
    with hubdb.read() as conn:
        held = hub_alarms.held(conn, RULE)
        due = [
            beat.site
            for beat in _heartbeats(conn, now)
            if _due(held.get(beat.site), silent_since(beat, now, after, listening_since))
        ]
    changes = []
    for site in due:
        # One short transaction per site that changes, the site's row locked first as at ingest,
        # so a sync arriving meanwhile is either seen here or clears the alarm after.
        with hubdb.write() as conn:
            beat = _heartbeats(conn, now, site)
            since = silent_since(beat[0], now, after, listening_since) if beat else None
            change = _settle(conn, site, since, now)
        changes += [change] if change else []
    return changes


def synced(conn: Connection, site: str, now: float) -> AlarmChange | None:
    """The site has just synced: clear its alarm, inside the caller's transaction, which must
    hold the site's row (``ingest.apply_batch`` upserts it first)."""
    return _settle(conn, site, None, now)


@contextlib.asynccontextmanager
async def watching(
    hubdb: HubDB,
    after: timedelta | None,
    interval: float = CHECK_INTERVAL,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[None]:
    """Check every ``interval`` seconds while the block runs (not at all when ``after`` is None);
    on exit, let a check under way finish."""
    if after is None:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(_watch(hubdb, after, interval, clock, stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def _watch(
    hubdb: HubDB,
    after: timedelta,
    interval: float,
    clock: Callable[[], float],
    stop: asyncio.Event,
) -> None:
    started = clock()
    while not stop.is_set():
        try:
            await asyncio.to_thread(check_silent_agents, hubdb, clock(), after, started)
        except Exception:
            # The database may be away for a while; the next check tries again.
            log.exception("agent_silent check failed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval):
                await stop.wait()


def _due(held: Alarm | None, since: float | None) -> bool:
    return (since is not None) != (held is not None and held.active)


def _settle(conn: Connection, site: str, since: float | None, now: float) -> AlarmChange | None:
    held = hub_alarms.held(conn, RULE, site, lock=True).get(site)
    change = transition(held, site, since, now, hub_alarms.new_id())
    if change is not None:
        hub_alarms.record(conn, site, held, change)
    return change


def _heartbeats(conn: Connection, now: float, site: str | None = None) -> list[Heartbeat]:
    s, ag = schema.sites, schema.agents
    # Watched: some agent of the site can still sync (a revoked site is no longer expected to).
    watched = exists().where(ag.c.site == s.c.id, live_token(now))
    query = select(s.c.id, s.c.last_sync_at, watched.label("watched"))
    if site is not None:
        # FOR UPDATE (PostgreSQL): the lock ingest takes first, in the same order.
        query = query.where(s.c.id == site).with_for_update(of=s)
    return [Heartbeat(row.id, row.last_sync_at, bool(row.watched)) for row in conn.execute(query)]
