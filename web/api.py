"""``/api/v1``: the agents' sync endpoint and the JSON read API. Each route parses, calls the
library once, and shapes the answer."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from collector.duration import DurationError, parse_duration
from collector.manual import ImportReport
from rules.site import Format as ConfigFormat
from sync import envelope
from sync.columns import Readings
from sync.hub import actions as hub_actions
from sync.hub import alarms, excursions, manual, query, reports, site_config
from sync.hub.alarms import HubAlarm
from sync.hub.db import HubDB
from sync.hub.errors import InvalidBatch, InvalidConfig, RefusedAction
from sync.hub.ingest import apply_batch
from sync.protocol import SyncAck, SyncBatch
from web.schemas import (
    AccessEventOut,
    ActionIn,
    ActionOut,
    AlarmOut,
    AlarmReviewOut,
    ConfigOut,
    ConfigTextOut,
    ConfigVersionOut,
    ExcursionOut,
    Items,
    MeterEventOut,
    ReadingOut,
    RollupOut,
    SiteOut,
    excursions_csv,
    items,
    review_csv,
)
from web.security import AgentSite, ApiUser, Hub

MAX_IMPORT_BYTES = 16 * 1024 * 1024

router = APIRouter(prefix="/api/v1")

Limit = Annotated[int, Query(ge=1, le=query.MAX_LIMIT)]
From = Annotated[str | None, Query(alias="from", description="ISO 8601 or unix seconds")]
To = Annotated[str | None, Query(alias="to", description="ISO 8601 or unix seconds")]
Format = Annotated[Literal["json", "csv"] | None, Query(alias="format")]


@router.post("/sync", tags=["agents"])
async def sync(request: Request, site: AgentSite, hubdb: Hub) -> SyncAck:
    """Store an agent's batch (a ``SyncBatch`` as JSON, or with its readings in columns: see
    ``sync.envelope``; gzip or not) and acknowledge it."""
    headers = request.headers
    batch, readings = await run_in_threadpool(
        parse_batch,
        await request.body(),
        headers.get("content-type", ""),
        headers.get("content-encoding", ""),
    )
    return await run_in_threadpool(apply_batch, hubdb, site, batch, time.time(), readings)


@router.get("/sites", tags=["read"])
def sites(_user: ApiUser, hubdb: Hub) -> Items[SiteOut]:
    return items(SiteOut, query.sites(hubdb))


@router.get("/readings", tags=["read"])
def readings(
    _user: ApiUser,
    hubdb: Hub,
    site: str | None = None,
    device: str | None = None,
    metric: str | None = None,
    start: From = None,
    end: To = None,
    limit: Limit = query.DEFAULT_LIMIT,
) -> Items[ReadingOut]:
    """Readings in time order (oldest first)."""
    found = query.readings(
        hubdb,
        site=site,
        device=device,
        metric=metric,
        start=query.parse_time("from", start),
        end=query.parse_time("to", end),
        limit=limit,
    )
    return items(ReadingOut, found)


@router.get("/rollups", tags=["read"])
def rollups(
    _user: ApiUser,
    hubdb: Hub,
    site: str | None = None,
    device: str | None = None,
    metric: str | None = None,
    start: From = None,
    end: To = None,
    limit: Limit = query.DEFAULT_LIMIT,
) -> Items[RollupOut]:
    """Hourly rollups that stand in for readings an agent thinned before sending them (its store
    was full during an outage), oldest hour first."""
    found = query.rollups(
        hubdb,
        site=site,
        device=device,
        metric=metric,
        start=query.parse_time("from", start),
        end=query.parse_time("to", end),
        limit=limit,
    )
    return items(RollupOut, found)


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


@router.get("/access-events", tags=["read"])
def access_events(
    _user: ApiUser,
    hubdb: Hub,
    site: str | None = None,
    device: str | None = None,
    card: str | None = None,
    result: Literal["granted", "denied"] | None = None,
    start: From = None,
    end: To = None,
    limit: Limit = query.DEFAULT_LIMIT,
) -> Items[AccessEventOut]:
    """Access events in time order (oldest first)."""
    found = query.access_events(
        hubdb,
        site=site,
        device=device,
        card=card,
        result=result,
        start=query.parse_time("from", start),
        end=query.parse_time("to", end),
        limit=limit,
    )
    return items(AccessEventOut, found)


@router.get("/meter-events", tags=["read"])
def meter_events(
    user: ApiUser,
    hubdb: Hub,
    site: str | None = None,
    device: str | None = None,
    kind: str | None = None,
    start: From = None,
    end: To = None,
    limit: Limit = query.DEFAULT_LIMIT,
) -> Items[MeterEventOut]:
    """Cumulative-meter events in time order (oldest first; roles admin, energy): ``reset``,
    ``rollover``, ``gap`` and ``jitter`` from the agent, ``replacement`` from hand-read imports
    (those have negative ``seq``)."""
    found = query.meter_events(
        hubdb,
        user,
        site=site,
        device=device,
        kind=kind,
        start=query.parse_time("from", start),
        end=query.parse_time("to", end),
        limit=limit,
    )
    return items(MeterEventOut, found)


@router.get(
    "/excursions",
    tags=["read"],
    response_model=Items[ExcursionOut],
    responses={200: {"content": {"text/csv": {}}}},
)
def list_excursions(
    request: Request,
    user: ApiUser,
    hubdb: Hub,
    site: str | None = None,
    device: str | None = None,
    start: From = None,
    end: To = None,
    limit: Limit = query.DEFAULT_LIMIT,
    output: Format = None,
) -> Items[ExcursionOut] | Response:
    """Completed cold-chain excursions, oldest first (roles admin, maintenance): start, end,
    duration (seconds), lowest and highest value, how it ended (``range``: back in range,
    ``gap``: the readings stopped), and the door events during it (``open`` true: opened). An
    excursion overlapping ``from``..``to`` is included. ``format=csv`` (or ``Accept:
    text/csv``) answers one CSV row per excursion."""
    found = excursions.excursions(
        hubdb,
        user,
        site=site,
        device=device,
        start=query.parse_time("from", start),
        end=query.parse_time("to", end),
        limit=limit,
    )
    out = items(ExcursionOut, found)
    if not _wants_csv(output, request.headers.get("accept", "")):
        return out
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"excursions-{site or 'all'}")
    return Response(
        excursions_csv(out),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get(
    "/reports/alarms",
    tags=["reports"],
    response_model=AlarmReviewOut,
    responses={200: {"content": {"text/csv": {}}}},
)
def alarm_report(
    request: Request,
    _user: ApiUser,
    hubdb: Hub,
    site: str | None = None,
    start: From = None,
    end: To = None,
    output: Format = None,
) -> AlarmReviewOut | Response:
    """The monthly alarm review (考核) of one site or, without ``site``, of every site: alarm
    load (ISA-18.2 / EEMUA 191: activations per hour and per 10 minutes, the peak 10-minute
    window, time in flood, the top-10 rules' share, chattering and stale alarms, the priority
    mix) and time to acknowledge and to clear (p50, p95, seconds, of the alarms raised in the
    period), per site, post and person (who acknowledged; ``(none)``). ``from`` is included,
    ``to`` is not; the default is the 30 days up to now, at most 366 days. ``format=csv`` (or
    ``Accept: text/csv``) answers one CSV row per group."""
    found = reports.alarm_review(
        hubdb,
        site=site,
        start=query.parse_time("from", start),
        end=query.parse_time("to", end),
        now=time.time(),
    )
    review = AlarmReviewOut.model_validate(found)
    if not _wants_csv(output, request.headers.get("accept", "")):
        return review
    disposition = f'attachment; filename="{_review_filename(found)}"'
    return Response(
        review_csv(review),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


def _wants_csv(output: str | None, accept: str) -> bool:
    if output is not None:
        return output == "csv"
    return any(kind.split(";")[0].strip().lower() == "text/csv" for kind in accept.split(","))


def _review_filename(review: reports.AlarmReview) -> str:
    site = re.sub(r"[^A-Za-z0-9._-]", "_", review.site or "all")
    start, end = (
        datetime.fromtimestamp(t, UTC).strftime("%Y%m%d") for t in (review.start, review.end)
    )
    return f"alarm-review-{site}-{start}-{end}.csv"


class RowRejected(BaseModel):
    line: int
    reason: str


class ImportOut(BaseModel):
    stored: int
    rejected: list[RowRejected]


@router.post("/sites/{site}/readings/import", tags=["readings"])
async def import_readings(site: str, request: Request, user: ApiUser, hubdb: Hub) -> ImportOut:
    """Import hand-read meter readings (roles admin, energy): a ``text/csv`` body with the header
    ``device,time,value[,metric][,replacement]``, or JSON ``{"rows": [{"device", "time",
    "value", "metric"?, "replacement"?}]}``. Rows are checked one by one; the valid ones are
    stored even when others are rejected, so the answer is 200 with the report either way
    (``line`` is the CSV line, or the row's position in ``rows`` from 1). A body that is not
    rows at all is 422 and stores nothing."""
    body = await request.body()
    if len(body) > MAX_IMPORT_BYTES:
        raise manual.InvalidImport(f"body larger than {MAX_IMPORT_BYTES} bytes")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    now = time.time()
    if kind == "text/csv":
        text = _utf8(body)
        report = await run_in_threadpool(manual.import_csv, hubdb, user, site, text, now)
    elif kind == "application/json":
        rows = _json_rows(body)
        report = await run_in_threadpool(manual.import_rows, hubdb, user, site, rows, now)
    else:
        raise manual.InvalidImport("send text/csv or application/json")
    return _import_out(report)


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise manual.InvalidImport(f"the CSV is not UTF-8: {error}") from None


def _json_rows(body: bytes) -> list[object]:
    try:
        document = json.loads(body)
    except ValueError as error:
        raise manual.InvalidImport(f"not JSON: {error}") from None
    rows = document.get("rows") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        raise manual.InvalidImport('the JSON body must be {"rows": [...]}')
    return rows


def _import_out(report: ImportReport) -> ImportOut:
    rejected = [RowRejected(line=p.line, reason=p.reason) for p in report.rejected]
    return ImportOut(stored=report.stored, rejected=rejected)


YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})


@router.put("/sites/{site}/config", tags=["config"], status_code=201)
async def put_config(site: str, request: Request, user: ApiUser, hubdb: Hub) -> ConfigVersionOut:
    """Store a new version of the site's devices, posts and rules (role admin): a YAML
    (``application/yaml``) or JSON (``application/json``) mapping with ``devices``, ``posts``
    and ``rules``, at most 1 MiB. It is validated as the agent validates it (all but whether
    apprise can use a notify URL, which the agent checks) and refused with one line per problem
    (422, ``errors``); the agent receives it on its next sync. The answer names the version."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in YAML_TYPES and kind != "application/json":
        raise InvalidConfig(["send application/yaml or application/json"])
    fmt: ConfigFormat = "json" if kind == "application/json" else "yaml"
    body = await request.body()
    stored = await run_in_threadpool(
        site_config.put_config, hubdb, user, site, body, fmt, time.time()
    )
    return ConfigVersionOut.model_validate(stored)


@router.get("/sites/{site}/config", tags=["config"])
def get_config(site: str, user: ApiUser, hubdb: Hub) -> ConfigOut:
    """The site's newest configuration version and what its agent reports (role admin)."""
    return ConfigOut.model_validate(site_config.status(hubdb, user, site))


@router.get("/sites/{site}/config/versions", tags=["config"])
def config_versions(site: str, user: ApiUser, hubdb: Hub) -> Items[ConfigVersionOut]:
    """Every configuration version of the site, newest first (role admin)."""
    return items(ConfigVersionOut, site_config.versions(hubdb, user, site))


@router.get("/sites/{site}/config/versions/{version}", tags=["config"])
def config_version(site: str, version: int, user: ApiUser, hubdb: Hub) -> ConfigTextOut:
    """One configuration version, with its text as it was sent (role admin)."""
    return ConfigTextOut.model_validate(site_config.get_version(hubdb, user, site, version))


def parse_batch(
    body: bytes, content_type: str, content_encoding: str
) -> tuple[SyncBatch, Readings | None]:
    try:
        return envelope.decode(body, content_type, content_encoding)
    except envelope.BadBody as error:
        raise InvalidBatch(str(error)) from None
