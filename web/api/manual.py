"""``POST /api/v1/sites/{site}/readings/import``: hand-read meter readings (抄表), as CSV or JSON
rows."""

from __future__ import annotations

import json
import time

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from collector.manual import ImportReport
from sync.hub import manual
from web.security import ApiUser, Hub

MAX_IMPORT_BYTES = 16 * 1024 * 1024

router = APIRouter()


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
