"""``POST /api/v1/sync``: where the agents' batches arrive."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from sync import envelope
from sync.columns import Readings
from sync.hub.errors import InvalidBatch
from sync.hub.ingest import apply_batch
from sync.protocol import SyncAck, SyncBatch
from web.security import AgentSite, Hub

router = APIRouter()


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


def parse_batch(
    body: bytes, content_type: str, content_encoding: str
) -> tuple[SyncBatch, Readings | None]:
    try:
        return envelope.decode(body, content_type, content_encoding)
    except envelope.BadBody as error:
        raise InvalidBatch(str(error)) from None
