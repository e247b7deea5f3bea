"""``facilitywatch hub serve``: the hub's web app under uvicorn."""

from __future__ import annotations

import os

import uvicorn

from sync.hub.heartbeat import DEFAULT_AFTER

DB_ENV = "FW_HUB_DB"
SILENT_AFTER_ENV = "FW_HUB_AGENT_SILENT_AFTER"


def serve(db_url: str, host: str, port: int, agent_silent_after: str = DEFAULT_AFTER) -> None:
    # By name, not by import: ``web`` builds on this package and nothing may import it.
    os.environ[DB_ENV] = db_url
    os.environ[SILENT_AFTER_ENV] = agent_silent_after
    uvicorn.run(
        "web.app:create_app_from_env", factory=True, host=host, port=port, log_level="warning"
    )
