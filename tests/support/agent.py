"""The real agent in its own process (``facilitywatch agent run``), to stop, kill and restart."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support.sqlite import scalar
from tests.support.wait import until

# The agent's log line once the broker has granted its subscriptions (agent.mqtt): only then are
# messages for the site routed to its session, so tests publish after it.
SUBSCRIBED = "subscribed on"


def wait_subscribed(log: Path, times: int = 1) -> None:
    """Until ``log`` (an agent's output) shows its subscriptions granted ``times`` times."""
    until(
        lambda: log.exists() and log.read_text(errors="replace").count(SUBSCRIBED) >= times,
        timeout=30,
    )


class AgentProcess:
    def __init__(self, workdir: Path, config: str) -> None:
        """``config``: the site YAML (``tests.support.site.site_yaml``), whose store is
        ``workdir/agent.db``."""
        workdir.mkdir(parents=True, exist_ok=True)
        self.db = workdir / "agent.db"
        self.config = workdir / "site.yaml"
        self.config.write_text(config)
        self.log = workdir / "agent.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agent", "agent", "run", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    def wait_subscribed(self) -> None:
        """Until this run of the process is connected and its subscriptions are granted."""
        wait_subscribed(self.log, self.starts)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(30)
        self.process = None
        return code

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def count(self, sql: str) -> int:
        """One number from the store; -1 while it does not exist or is not migrated yet."""
        if not self.db.exists():
            return -1
        try:
            value: int = scalar(self.db, sql, timeout=30)
            return value
        except sqlite3.OperationalError:
            return -1
