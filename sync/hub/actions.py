"""The hub's copy of the operator action log (``rules.actions``) of every site.

An action taken at the hub is recorded here, applied at once to the hub's copy of the alarm (ack,
close), and delivered to the site's agent with its next sync answer; an action taken on site
arrives in the agent's ``actions`` stream and is recorded by its ``uid``, so each action is here
once whichever way it came. The standing of a rule (shelved, suppressed, out of service) is
derived from the log with the same function the agent uses, so both ends agree once both hold the
same actions, in whatever order they learnt them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, case, func, select, tuple_

from rules.actions import (
    ALARM_KINDS,
    CATEGORY_OF,
    IN_SERVICE,
    Action,
    InvalidAction,
    Standing,
    check,
    new_id,
    standing,
)
from rules.alarm import Alarm, NotClosable, acknowledge, close
from sync.hub import alarms, schema
from sync.hub.alarms import HubAlarm, hub_owned
from sync.hub.auth import User
from sync.hub.db import HubDB
from sync.hub.errors import NotPermitted, RefusedAction, UnknownAlarm
from sync.protocol import ActionRecord, OperatorActionRecord

__all__ = [
    "Request",
    "acknowledge_alarm",
    "history",
    "pending",
    "standing_of",
    "standings",
    "store_from_agent",
    "take",
]

PENDING_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Request:
    """What a person asks for at the hub, about an alarm (or, for point actions, its rule)."""

    kind: str
    note: str | None = None
    until: float | None = None


def take(hubdb: HubDB, alarm_id: str, request: Request, user: User, now: float) -> HubAlarm:
    """Take an action on an alarm (or its rule) now, and queue it for the alarm's agent (none
    for the hub's own alarms). Acknowledging an acknowledged alarm, or closing a closed one,
    changes nothing: the first stands."""
    if not user.can_acknowledge:
        raise NotPermitted(user.role, "act on alarms")
    with hubdb.write() as conn:
        held = alarms.load(conn, [alarm_id], lock=True).get(alarm_id)
        if held is None:
            raise UnknownAlarm(alarm_id)
        action = _action(request, held.alarm, user.name, now)
        changed = _apply(held.alarm, action)
        for_the_agent = _agent_decides(held.alarm, action)
        if action.kind in ("ack", "close") and changed is held.alarm and not for_the_agent:
            return held
        if changed is not held.alarm:
            alarms.save(conn, changed)
        own = alarms.hub_owned(alarm_id)
        conn.execute(schema.alarm_actions.insert().values(_row(action, held.site, "hub", own, now)))
    return HubAlarm(held.site, changed)


def acknowledge_alarm(
    hubdb: HubDB, alarm_id: str, user: User, now: float, note: str | None = None
) -> HubAlarm:
    return take(hubdb, alarm_id, Request("ack", note), user, now)


def _action(request: Request, alarm: Alarm, by: str, now: float) -> Action:
    action = Action(
        id=new_id(),
        kind=request.kind,  # type: ignore[arg-type]  # check() refuses unknown kinds
        rule=alarm.rule,
        by=by,
        at=now,
        alarm_id=alarm.id,
        note=request.note,
        until=request.until,
        activation=alarm.activations if request.kind in ("ack", "close") else None,
    )
    try:
        check(action)
    except InvalidAction as error:
        raise RefusedAction(str(error)) from None
    return action


def _agent_decides(alarm: Alarm, action: Action) -> bool:
    """A disposition for a latched alarm still active: only the agent knows whether its rule
    can put the condition to rest (an excursion's exposure), so it is sent down as it is."""
    return action.kind == "close" and alarm.active and alarm.latched and not hub_owned(alarm.id)


def _apply(alarm: Alarm, action: Action) -> Alarm:
    if action.kind == "ack":
        return acknowledge(alarm, action.by, action.at)
    if _agent_decides(alarm, action):
        return alarm
    if action.kind == "close":
        try:
            return close(alarm, action.by, action.at, action.note or "")
        except NotClosable as error:
            raise RefusedAction(str(error)) from None
    return alarm


def store_from_agent(
    hubdb: HubDB, conn: Connection, site: str, items: list[OperatorActionRecord], now: float
) -> None:
    """Record the actions of an agent's log; those already here (taken at the hub) stay as
    they are."""
    rows = [_row(_from_record(r), site, "agent", True, now) for r in items]
    if rows:
        conn.execute(
            hubdb.insert(schema.alarm_actions).on_conflict_do_nothing(
                index_elements=["site", "uid"]
            ),
            rows,
        )


def pending(conn: Connection, site: str, kinds: Iterable[str] | None) -> list[ActionRecord]:
    """Actions taken at the hub that the site's agent has not applied yet, of the kinds it
    knows (an older agent: acknowledgements only)."""
    table = schema.alarm_actions
    rows = conn.execute(
        select(table)
        .where(
            table.c.site == site,
            table.c.applied_at.is_(None),
            table.c.action.in_(list(kinds) if kinds is not None else ["ack"]),
        )
        .order_by(table.c.id)
        .limit(PENDING_LIMIT)
    ).mappings()
    return [
        ActionRecord.model_validate(dict(row) | {"alarm_id": row["alarm_id"] or None})
        for row in rows
    ]


def history(
    hubdb: HubDB, site: str, rule: str, alarm_id: str | None = None
) -> list[tuple[Action, str]]:
    """A rule's actions (those about one of its alarms, with ``alarm_id``), oldest first, each
    with the end it was taken at."""
    table = schema.alarm_actions
    query = select(table).where(table.c.site == site, table.c.rule == rule)
    if alarm_id is not None:
        query = query.where(
            (table.c.alarm_id == alarm_id) | table.c.action.not_in(sorted(ALARM_KINDS))
        )
    with hubdb.read() as conn:
        rows = conn.execute(query.order_by(table.c.at, table.c.uid)).mappings().all()
    return [(_from_row(row), row["origin"]) for row in rows]


def standings(
    conn: Connection, open_alarms: Mapping[tuple[str, str], Alarm], now: float
) -> dict[tuple[str, str], Standing]:
    """The standing of each (site, rule) given, from its point actions.

    A standing is decided by the latest action of each category (shelve, suppress, service)
    taken by ``now`` (``rules.actions.standing``): only those are read, not a log that a
    suppress schedule grows every day — as the agent does (``agent.actions.standings``)."""
    if not open_alarms:
        return {}
    table = schema.alarm_actions
    latest = func.row_number().over(
        partition_by=(table.c.site, table.c.rule, case(CATEGORY_OF, value=table.c.action)),
        order_by=(table.c.at.desc(), table.c.uid.desc()),
    )
    ranked = (
        select(table, latest.label("latest"))
        .where(
            table.c.action.in_(sorted(CATEGORY_OF)),
            table.c.at <= now,
            tuple_(table.c.site, table.c.rule).in_(list(open_alarms)),
        )
        .subquery()
    )
    found = _grouped(conn, select(ranked).where(ranked.c.latest == 1))
    return {key: standing(found.get(key, []), now, alarm) for key, alarm in open_alarms.items()}


def point_logs(conn: Connection, site: str | None) -> dict[tuple[str, str], list[Action]]:
    """Every shelve, suppress and service action of a site (or of all), by (site, rule): the
    history of how each rule was announced, for the alarm review."""
    table = schema.alarm_actions
    where = [] if site is None else [table.c.site == site]
    return _grouped(conn, select(table).where(table.c.action.not_in(sorted(ALARM_KINDS)), *where))


def _grouped(conn: Connection, query: Select[Any]) -> dict[tuple[str, str], list[Action]]:
    logs: dict[tuple[str, str], list[Action]] = {}
    for row in conn.execute(query).mappings():
        logs.setdefault((row["site"], row["rule"] or ""), []).append(_from_row(row))
    return logs


def standing_of(hubdb: HubDB, found: list[HubAlarm], now: float) -> list[Standing]:
    """The standing of each alarm's rule now, in the order given."""
    keys = {(h.site, h.alarm.rule): h.alarm for h in found if h.alarm.is_open}
    with hubdb.read() as conn:
        held = standings(conn, keys, now)
    return [held.get((h.site, h.alarm.rule), IN_SERVICE) for h in found]


def _from_record(record: OperatorActionRecord) -> Action:
    return Action(
        id=record.uid,
        kind=record.kind,  # type: ignore[arg-type]  # a newer agent's kind is kept, unapplied
        rule=record.rule,
        by=record.by,
        at=record.at,
        alarm_id=record.alarm_id,
        note=record.note,
        until=record.until,
        activation=record.activation,
    )


def _from_row(row: RowMapping) -> Action:
    return Action(
        id=row["uid"],
        kind=row["action"],
        rule=row["rule"] or "",
        by=row["by"],
        at=row["at"],
        alarm_id=row["alarm_id"] or None,
        note=row["note"],
        until=row["until"],
        activation=row["activation"],
    )


def _row(action: Action, site: str, origin: str, applied: bool, now: float) -> dict[str, Any]:
    return {
        "site": site,
        "uid": action.id,
        "alarm_id": action.alarm_id or "",
        "action": action.kind,
        "rule": action.rule,
        "by": action.by,
        "at": action.at,
        "note": action.note,
        "until": action.until,
        "activation": action.activation,
        "origin": origin,
        # Taken on site, or on an alarm of the hub's own: nothing to deliver.
        "applied_at": now if applied else None,
    }
