"""The real hub, served by uvicorn in its own process through the ``facilitywatch`` command."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.ports import free_port, wait_listening


def facilitywatch(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the CLI as a user would and return its output."""
    done = subprocess.run(
        [sys.executable, "-m", "agent", *args], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


@dataclass
class Hub:
    db_url: str
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def create_agent(self, site: str) -> str:
        return last_line(facilitywatch("hub", "create-agent", site, "--db", self.db_url))

    def create_user(self, name: str, role: str = "admin") -> str:
        output = facilitywatch("hub", "create-user", name, "--role", role, "--db", self.db_url)
        return last_line(output)

    def start(self, log: Path) -> None:
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "agent",
                    "hub",
                    "serve",
                    "--db",
                    self.db_url,
                    "--port",
                    str(self.port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_listening(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(20)
            self.process = None

    def kill(self) -> None:
        """SIGKILL: no shutdown, a transaction under way is left as it was."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self.process = None

    def api(self, token: str, path: str, **params: Any) -> Any:
        response = httpx.get(
            f"{self.url}/api/v1/{path}",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


@contextmanager
def running_hub(workdir: Path, db_url: str | None = None) -> Iterator[Hub]:
    workdir.mkdir(parents=True, exist_ok=True)
    hub = Hub(db_url or f"sqlite:///{workdir / 'hub.db'}", free_port())
    hub.start(workdir / "hub.log")
    try:
        yield hub
    finally:
        hub.stop()
