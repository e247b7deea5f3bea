"""The demo's child processes: starting each in a process group of its own, waiting for it to come
up, and stopping it — politely, then by force once its time is up or a second Ctrl-C arrives.

Errors::

    DemoError  a step of the start-up failed; ``log`` holds the output that says why
    Stopped    Ctrl-C or SIGTERM arrived while the demo was still starting (not an error to show)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from agent.children import die_with_parent

__all__ = [
    "Child",
    "DemoError",
    "Signals",
    "Stopped",
    "echo",
    "facilitywatch",
    "indent",
    "settle",
    "spawn",
    "stop_child",
    "wait_for_hub",
]

HUB_START_S = 60.0
AGENT_SETTLE_S = 3.0


class DemoError(RuntimeError):
    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


class Stopped(Exception):
    """Ctrl-C or SIGTERM arrived while the demo was still starting."""


@dataclass
class Signals:
    stop: threading.Event = field(default_factory=threading.Event)
    hurry: threading.Event = field(default_factory=threading.Event)

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set():
            self.hurry.set()
        self.stop.set()


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def echo(text: str = "") -> None:
    print(text, flush=True)


def indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def facilitywatch(*args: str) -> list[str]:
    # The same interpreter as this process: the venv the user started the demo from.
    return [sys.executable, "-m", "agent", *args]


def spawn(
    name: str,
    argv: Sequence[str],
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Child:
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ | {"PYTHONUNBUFFERED": "1"} | (env or {}),
            cwd=cwd,
            process_group=0,
            preexec_fn=die_with_parent(),
        )
    return Child(name, process, log)


def stop_child(child: Child, timeout: float, signals: Signals) -> None:
    if not child.alive():
        return
    echo(f"demo: stopping the {child.name} ...")
    _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while child.alive() and time.monotonic() < deadline and not signals.hurry.is_set():
        signals.hurry.wait(0.1)
    if child.alive():
        echo(f"demo: the {child.name} did not stop; killing it")
        _signal_group(child, signal.SIGKILL)
        child.process.wait()


def wait_for_hub(url: str, hub: Child, signals: Signals, timeout: float = HUB_START_S) -> None:
    deadline = time.monotonic() + timeout
    # trust_env=False: a proxy from the environment must not sit between us and loopback.
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if signals.stop.is_set():
                raise Stopped
            if not hub.alive():
                raise DemoError(f"the hub exited during start-up; see {hub.log}", hub.tail())
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{url}/docs").status_code == 200:
                    return
            signals.stop.wait(0.2)
    raise DemoError(f"the hub did not answer {url}/docs within {timeout:g} s", hub.tail())


def settle(agent: Child, signals: Signals) -> None:
    """A bad config or a missing module kills the agent at once; say so before the banner."""
    deadline = time.monotonic() + AGENT_SETTLE_S
    while time.monotonic() < deadline:
        if signals.stop.is_set():
            raise Stopped
        if not agent.alive():
            raise DemoError(f"the agent exited during start-up; see {agent.log}", agent.tail())
        signals.stop.wait(0.1)


def _signal_group(child: Child, signum: int) -> None:
    # Only while the leader is unreaped: its id cannot have been reused for another group.
    if child.alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signum)
