"""``facilitywatch hub serve``: the hub's web app under uvicorn."""

from __future__ import annotations

import os

import uvicorn

DB_ENV = "FW_HUB_DB"


def serve(db_url: str, host: str, port: int) -> None:
    # By name, not by import: ``web`` builds on this package and nothing may import it.
    os.environ[DB_ENV] = db_url
    uvicorn.run(
        "web.app:create_app_from_env", factory=True, host=host, port=port, log_level="warning"
    )
