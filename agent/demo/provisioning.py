"""What the demo sets up before anything runs: the example site, an emptied data directory, and
the hub's agent token and admin user, made with the hub's own admin commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from agent.config import ConfigError, SiteConfig, load_site
from agent.demo.supervisor import DemoError, Signals, Stopped, facilitywatch

__all__ = [
    "EXAMPLE",
    "USER",
    "admin",
    "example_site",
    "last_line",
    "parse_user",
    "prepare_data_dir",
]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "demo-site.yaml"
USER = "demo"
# Written into the data directory: only a directory holding it is ever emptied by the demo.
MARKER = ".facilitywatch-demo"


def example_site() -> SiteConfig:
    if not EXAMPLE.is_file():
        raise DemoError(f"the demo site {EXAMPLE} is missing (run the demo from a source checkout)")
    try:
        site, _ = load_site(EXAMPLE, {"FW_AGENT_TOKEN": "-"})
    except ConfigError as error:
        raise DemoError(f"{EXAMPLE} is not valid", "\n".join(error.errors)) from None
    return site


def prepare_data_dir(path: Path) -> Path:
    """An empty data directory; one the demo did not make is refused, never emptied."""
    data = path.expanduser().resolve()
    if data.exists() and not data.is_dir():
        raise DemoError(f"{data} is not a directory")
    if data.is_dir() and any(data.iterdir()) and not (data / MARKER).exists():
        raise DemoError(
            f"{data} is not empty and was not made by the demo; pick another --data-dir"
        )
    if data.is_dir():
        for entry in data.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    (data / "logs").mkdir(parents=True)
    (data / MARKER).write_text("made by `facilitywatch demo`; emptied at each start\n")
    return data


def admin(args: list[str], logs: Path, signals: Signals) -> str:
    """Run a hub admin command; its stdout holds secrets, so only stderr goes to the log."""
    try:
        result = subprocess.run(
            facilitywatch(*args),
            capture_output=True,
            text=True,
            timeout=120,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
            process_group=0,
        )
    except subprocess.TimeoutExpired:
        raise DemoError(f"`facilitywatch {' '.join(args[:2])}` did not finish in 120 s") from None
    with (logs / "hub-admin.log").open("a", encoding="utf-8") as log:
        log.write(f"$ facilitywatch {' '.join(args)}\n{result.stderr}")
    if signals.stop.is_set():
        raise Stopped
    if result.returncode != 0:
        raise DemoError(
            f"`facilitywatch {' '.join(args[:2])}` failed (exit code {result.returncode})",
            (result.stderr or result.stdout)[-3000:],
        )
    return result.stdout


def parse_user(output: str) -> tuple[str, str]:
    """The password and the API token from ``hub create-user``'s output."""
    found = re.search(r"password: (\S+)", output)
    if found is None:
        raise DemoError("`hub create-user` printed no password line", output)
    return found.group(1), last_line(output)


def last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        raise DemoError("a hub admin command printed nothing")
    return lines[-1]
