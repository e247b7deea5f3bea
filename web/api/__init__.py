"""``/api/v1``: the agents' sync endpoint and the JSON read API, one module per resource. Each
route parses, calls the library once, and shapes the answer."""

from __future__ import annotations

from fastapi import APIRouter

from web.api import agents, alarms, config, manual, readings, reports

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
for _part in (agents, readings, alarms, reports, manual, config):
    router.include_router(_part.router)
