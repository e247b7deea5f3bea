"""What the sites sent, to read: the sites, readings and rollups, access and meter events, and the
cold-chain excursions (as JSON or CSV)."""

from __future__ import annotations

import re
from typing import Literal

from fastapi import APIRouter, Request, Response

from sync.hub import excursions, query
from web.api.params import Format, From, Limit, To, wants_csv
from web.schemas import (
    AccessEventOut,
    ExcursionOut,
    Items,
    MeterEventOut,
    ReadingOut,
    RollupOut,
    SiteOut,
    excursions_csv,
    items,
)
from web.security import ApiUser, Hub

router = APIRouter()


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
    if not wants_csv(output, request.headers.get("accept", "")):
        return out
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"excursions-{site or 'all'}")
    return Response(
        excursions_csv(out),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
