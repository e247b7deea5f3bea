import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.ports import free_port, wait_listening


def test_serve_runs_the_hub_over_a_new_sqlite_file(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "new" / "hub.db"
    code = f"from sync.hub.serve import serve; serve('sqlite:///{db}', '127.0.0.1', {port})"
    process = subprocess.Popen([sys.executable, "-c", code])
    try:
        wait_listening(port)
        response = httpx.get(f"http://127.0.0.1:{port}/login")
    finally:
        process.terminate()
        process.wait(10)
    assert (response.status_code, db.exists()) == (200, True)
