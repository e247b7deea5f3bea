"""``/api/v1/alarms``: the alarms, the operator actions taken on them at the hub, and their
history from both ends."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import timedelta

from fastapi import APIRouter

from collector.duration import DurationError, parse_duration
from sync.hub import actions as hub_actions
from sync.hub import alarms, query
from sync.hub.alarms import HubAlarm
from sync.hub.db import HubDB
from sync.hub.errors import RefusedAction
from web.api.params import Limit
from web.schemas import ActionIn, ActionOut, AlarmOut, Items
from web.security import ApiUser, Hub

router = APIRouter()


@router.get("/alarms", tags=["read"])
def list_alarms(
    _user: ApiUser,
    hubdb: Hub,
    site: str | None = None,
    state: query.StateFilter | None = None,
    limit: Limit = query.DEFAULT_LIMIT,
) -> Items[AlarmOut]:
    """Alarms, newest first; ``state=open`` is every state but ``normal``."""
    found = query.alarms(hubdb, site=site, state=state, limit=limit)
    return Items[AlarmOut](items=_with_standing(hubdb, found))


@router.get("/alarms/{alarm_id}", tags=["read"])
def get_alarm(alarm_id: str, _user: ApiUser, hubdb: Hub) -> AlarmOut:
    return _with_standing(hubdb, [alarms.get_alarm(hubdb, alarm_id)])[0]


@router.post("/alarms/{alarm_id}/ack", tags=["alarms"])
def acknowledge(alarm_id: str, user: ApiUser, hubdb: Hub) -> AlarmOut:
    """Acknowledge (roles admin, maintenance); the site's agent learns it on its next sync."""
    held = hub_actions.acknowledge_alarm(hubdb, alarm_id, user, time.time())
    return _with_standing(hubdb, [held])[0]


@router.post("/alarms/{alarm_id}/actions", tags=["alarms"])
def act(alarm_id: str, action: ActionIn, user: ApiUser, hubdb: Hub) -> AlarmOut:
    """Take an operator action (roles admin, maintenance): ``ack``, ``close`` (a latched alarm
    that cleared; ``note`` is the disposition), ``note``; on the alarm's rule ``shelve`` (``for``
    at most 24 h; none: until this alarm clears), ``unshelve``, ``suppress`` (``for`` required),
    ``unsuppress``, ``disable`` (out of service; ``for`` optional), ``enable``. Recorded with who
    and when; the site's agent applies it on its next sync."""
    now = time.time()
    until = now + parse_for(action.duration).total_seconds() if action.duration else None
    request = hub_actions.Request(action.kind, action.note, until)
    held = hub_actions.take(hubdb, alarm_id, request, user, now)
    return _with_standing(hubdb, [held])[0]


@router.get("/alarms/{alarm_id}/actions", tags=["read"])
def alarm_actions(alarm_id: str, _user: ApiUser, hubdb: Hub) -> Items[ActionOut]:
    """Every action about this alarm and its rule's shelving, suppression and service, oldest
    first, from both ends (``origin``: hub or agent)."""
    held = alarms.get_alarm(hubdb, alarm_id)
    found = hub_actions.history(hubdb, held.site, held.alarm.rule, alarm_id)
    return Items[ActionOut](items=[ActionOut(**asdict(a), origin=origin) for a, origin in found])


def _with_standing(hubdb: HubDB, found: list[HubAlarm]) -> list[AlarmOut]:
    standings = hub_actions.standing_of(hubdb, found, time.time())
    return [AlarmOut.of(h, s) for h, s in zip(found, standings, strict=True)]


def parse_for(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except DurationError as error:
        raise RefusedAction(f"for: {error}") from None
