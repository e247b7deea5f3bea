"""``facilitywatch hub serve``: the hub's web app under uvicorn."""

from __future__ import annotations

import uvicorn


def serve(db_url: str, host: str, port: int) -> None:
    # Imported here: ``web`` builds on this package, so only the process entry point may reach up.
    from web.app import create_app

    uvicorn.run(create_app(db_url), host=host, port=port, log_level="warning")
