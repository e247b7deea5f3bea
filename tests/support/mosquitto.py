"""A private Mosquitto broker on a free loopback port, from Debian's ``mosquitto`` binary."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port, wait_listening

ROOT = Path(__file__).resolve().parents[2]


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
    if found is None:
        subprocess.run([str(ROOT / "scripts" / "ensure-system-deps.sh")], check=True)
        found = shutil.which("mosquitto", path="/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError("mosquitto is not installed and could not be installed")
    return found


@dataclass
class Broker:
    port: int
    process: subprocess.Popen[bytes]

    log: Path

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        """The end of the broker's own log, for the report of a failed test."""
        alive = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join([f"mosquitto on port {self.port}: {alive}", *text])


@contextmanager
def private_broker(workdir: Path, port: int | None = None) -> Iterator[Broker]:
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "mosquitto.conf"
    # max_queued_messages: the default (1000) drops QoS 1 messages for a session that is away,
    # which is exactly the case the agent's persistent session exists for. A large bound, not 0:
    # "0 = unlimited" is the path of several mosquitto 2.0.x queueing bugs.
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "max_queued_messages 1000000\n"
        "max_inflight_messages 0\n"
        "log_dest stderr\n"
        "log_timestamp_format %H:%M:%S\n"
    )
    # Started as root, mosquitto drops to its own user and could not open a log file here.
    path = workdir / "mosquitto.log"
    log = path.open("wb")
    process = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stderr=log)
    try:
        wait_listening(port)
        yield Broker(port, process, path)
    finally:
        process.terminate()
        process.wait(10)
        log.close()
