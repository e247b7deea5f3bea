"""The demo's own MQTT broker on a loopback port: a private Mosquitto when installed, else amqtt.

Mosquitto comes first because the agent needs what amqtt 0.12 lacks (tests/agent/test_broker.py
shows both): amqtt refuses MQTT v5 connections, and the agent connects with v5; and amqtt drops a
persistent session's unacknowledged QoS 1 messages when the client goes away, where the agent
relies on the broker sending them again (agent/mqtt.py acknowledges only after a commit). amqtt
still runs v3.1.1 clients, so it stays as the fallback for a machine without Mosquitto.

Errors::

    BrokerError  the broker did not start or stopped listening; ``log`` has its output
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from agent.children import die_with_parent

__all__ = [
    "BrokerError",
    "EmbeddedBroker",
    "Engine",
    "SessionAuthPlugin",
    "find_mosquitto",
    "mosquitto_conf",
    "pick_port",
    "port_free",
    "wait_listening",
]

Engine = Literal["auto", "mosquitto", "amqtt"]

DEFAULT_PORT = 1883
# Debian and Homebrew install the broker in sbin, which is often not on a user's PATH.
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin", "/sbin")


class BrokerError(RuntimeError):
    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


def find_mosquitto() -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return shutil.which("mosquitto", path=path)


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        # As servers bind (uvicorn, mosquitto): connections of a stopped server lingering in
        # TIME_WAIT do not make the port busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def pick_port(host: str = "127.0.0.1", preferred: int = DEFAULT_PORT) -> int:
    """The preferred port when nothing holds it (a system Mosquitto often does), else a free one."""
    if port_free(host, preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def mosquitto_conf(host: str, port: int) -> str:
    # max_queued_messages 0 (no limit): the default of 1000 drops QoS 1 messages for a session that
    # is away, which is the very case the agent's persistent session exists for. Unlimited in-flight
    # messages leave the window to the client's v5 Receive Maximum (agent/mqtt.py).
    return (
        "# Written by facilitywatch for its demo; a private broker on loopback only.\n"
        f"listener {port} {host}\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "max_queued_messages 0\n"
        "max_inflight_messages 0\n"
        "log_dest stderr\n"
        "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        # Run as whoever started the demo: started as root, mosquitto would switch to its own
        # user, which clears the parent-death signal (agent/children.py) and so lets it outlive
        # a killed demo.
        f"user {getpass.getuser()}\n"
    )


def wait_listening(
    host: str, port: int, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BrokerError(f"the broker exited with code {process.returncode}")
        with socket.socket() as sock:
            sock.settimeout(1.0)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout:g} s")


@dataclass
class EmbeddedBroker:
    """A broker in a child process (its own process group), writing its output to ``log_path``."""

    workdir: Path
    engine: Engine = "auto"
    host: str = "127.0.0.1"
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.engine}.log"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        if self.engine == "auto":
            self.engine = "mosquitto" if find_mosquitto() else "amqtt"
        if self.port is None:
            self.port = pick_port(self.host)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # A terminal's Ctrl-C must reach only the parent, which stops children in order.
                process_group=0,
                preexec_fn=die_with_parent(),
            )
        try:
            wait_listening(self.host, self.port, timeout, self.process)
        except BrokerError as error:
            self.stop()
            raise BrokerError(f"{self.engine}: {error}", self.log_tail()) from None
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _command(self) -> list[str]:
        if self.engine == "mosquitto":
            binary = find_mosquitto()
            if binary is None:
                raise BrokerError("mosquitto is not installed (apt install mosquitto)")
            conf = self.workdir / "mosquitto.conf"
            conf.write_text(mosquitto_conf(self.host, self.port or DEFAULT_PORT), encoding="utf-8")
            return [binary, "-c", str(conf)]
        port = str(self.port or DEFAULT_PORT)
        return [sys.executable, "-m", "agent.broker", "--host", self.host, "--port", port]

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


class SessionAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no type hints
    """Lets everyone in without marking the session anonymous.

    amqtt's own AnonymousAuthPlugin marks sessions anonymous, and amqtt throws an anonymous
    session away on disconnect, persistent or not: no client could then resume its session.
    """

    @dataclass
    class Config:
        pass

    async def authenticate(self, *, session: Session) -> bool:
        return True


def amqtt_config(host: str, port: int) -> dict[str, object]:
    # Named in full: run as ``python -m agent.broker`` this module is __main__, and amqtt imports
    # plugins by their dotted path.
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"agent.broker.SessionAuthPlugin": {}},
    }


async def serve_amqtt(host: str, port: int) -> None:
    """Run amqtt until SIGTERM or SIGINT."""
    from amqtt.broker import Broker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    broker = Broker(amqtt_config(host, port))
    await broker.start()
    await stop.wait()
    await broker.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run amqtt for the facilitywatch demo.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve_amqtt(args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
