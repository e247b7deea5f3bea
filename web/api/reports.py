"""``/api/v1/reports``: the monthly alarm review, as JSON or CSV."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from sync.hub import query, reports
from web.api.params import Format, From, To, wants_csv
from web.schemas import AlarmReviewOut, review_csv
from web.security import ApiUser, Hub

router = APIRouter()


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
    if not wants_csv(output, request.headers.get("accept", "")):
        return review
    disposition = f'attachment; filename="{_review_filename(found)}"'
    return Response(
        review_csv(review),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


def _review_filename(review: reports.AlarmReview) -> str:
    site = re.sub(r"[^A-Za-z0-9._-]", "_", review.site or "all")
    start, end = (
        datetime.fromtimestamp(t, UTC).strftime("%Y%m%d") for t in (review.start, review.end)
    )
    return f"alarm-review-{site}-{start}-{end}.csv"
