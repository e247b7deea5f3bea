"""``facilitywatch demo`` run as a user would: one command starts broker, hub, agent and simulated
devices; within three minutes the hub's page shows a reading of every device and an open alarm;
Ctrl-C stops the whole process tree with exit code 0."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from agent.config import load_site
from tests.support.ports import free_port
from tests.support.wait import until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "demo-site.yaml"
SITE = "demo-hospital"
USER = "demo"
READY_S = 180.0
STOP_S = 60.0
FREEZER_ALARMS = frozenset({"freezer-door-held-open", "freezer-warm"})

BANNER = re.compile(
    r"Open\s+(?P<url>\S+)\n\s+Log in as\s+(?P<user>\S+)\s+password\s+(?P<password>\S+)\n"
    r"\s+API token\s+(?P<token>\S+)"
)
READING_ROW = re.compile(
    r'<tr data-device="(?P<device>[^"]+)" data-metric="[^"]+">(?P<row>.*?)</tr>', re.S
)
ROW_LABEL = re.compile(r'<td data-label="Device">(?P<label>[^<]*)</td>')
ROW_VALUE = re.compile(r'<td data-label="Value" class="value">(-?\d|open|closed)')
GATE_ROW = re.compile(r'<tr data-device="(?P<device>[^"]+)" class="swipe (granted|denied)">')
ALARM_ROW = re.compile(
    r'<tr class="alarm [^"]*" data-alarm="[^"]+">.*?<td data-label="Rule">(?P<rule>[^<]*)</td>',
    re.S,
)


@dataclass(frozen=True)
class Process:
    """A process by pid and start time, so a reused pid is never taken for it."""

    pid: int
    started: str
    command: str


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    data: Path
    port: int
    started: float
    lines: list[str] = field(default_factory=list)

    def read_output(self) -> None:
        assert self.process.stdout is not None
        for raw in iter(self.process.stdout.readline, b""):
            self.lines.append(raw.decode("utf-8", errors="replace"))

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def report(self, seen: object = None) -> str:
        logs = sorted([*(self.data / "logs").glob("*"), *(self.data / "broker").glob("*.log")])
        parts = [f"--- hub seen ---\n{seen!r}", f"--- demo output ---\n{self.output}"]
        parts += [f"--- {log} ---\n{_tail(log)}" for log in logs]
        return "\n".join(parts)


@dataclass(frozen=True)
class Seen:
    """What the hub showed at ``at`` (seconds after the demo started)."""

    at: float
    page_labels: dict[str, str]
    page_alarms: frozenset[str]
    page_gates: frozenset[str]
    api_devices: frozenset[str]
    access: frozenset[tuple[str, str]]
    api_alarms: frozenset[str]
    error: str = ""


@dataclass(frozen=True)
class Expected:
    labels: dict[str, str]
    gates: frozenset[str]

    def met_by(self, seen: Seen) -> bool:
        return (
            not seen.error
            and all(seen.page_labels.get(d) == label for d, label in self.labels.items())
            and bool(seen.page_alarms & FREEZER_ALARMS)
            and seen.page_gates == self.gates
            and seen.api_devices == frozenset(self.labels)
            and {gate for gate, _ in seen.access} == self.gates
            and any(result == "denied" for _, result in seen.access)
            and bool(seen.api_alarms)
        )


def expected_site() -> Expected:
    """Every device but the gates has readings; gates show their last swipe instead."""
    site, _ = load_site(EXAMPLE, {"FW_AGENT_TOKEN": "-"})
    readers = [d for d in site.devices if d.kind != "access_reader"]
    gates = [d for d in site.devices if d.kind == "access_reader"]
    return Expected({d.id: d.name or d.id for d in readers}, frozenset(d.id for d in gates))


def page_labels(html: str) -> dict[str, str]:
    """Device id -> label of each row of the latest readings that holds a number."""
    labels: dict[str, str] = {}
    for row in READING_ROW.finditer(html):
        label = ROW_LABEL.search(row["row"])
        if label is not None and ROW_VALUE.search(row["row"]):
            labels[row["device"]] = label["label"]
    return labels


def observe(client: httpx.Client, url: str, token: str, started: float) -> Seen:
    bearer = {"Authorization": f"Bearer {token}"}
    try:
        page = client.get(f"{url}/")
        readings = client.get(
            f"{url}/api/v1/readings", params={"site": SITE, "limit": 100_000}, headers=bearer
        )
        access = client.get(
            f"{url}/api/v1/access-events", params={"site": SITE, "limit": 100_000}, headers=bearer
        )
        alarms = client.get(
            f"{url}/api/v1/alarms", params={"site": SITE, "state": "open"}, headers=bearer
        )
        for response in (page, readings, access, alarms):
            response.raise_for_status()
    except httpx.HTTPError as error:
        return Seen(
            time.monotonic() - started,
            {},
            frozenset(),
            frozenset(),
            frozenset(),
            frozenset(),
            frozenset(),
            error=repr(error),
        )
    return Seen(
        at=time.monotonic() - started,
        page_labels=page_labels(page.text),
        page_alarms=frozenset(m["rule"] for m in ALARM_ROW.finditer(page.text)),
        page_gates=frozenset(m["device"] for m in GATE_ROW.finditer(page.text)),
        api_devices=frozenset(r["device"] for r in readings.json()["items"]),
        access=frozenset((e["device"], e["result"]) for e in access.json()["items"]),
        api_alarms=frozenset(a["rule"] for a in alarms.json()["items"]),
    )


def watch_hub(demo: Demo, client: httpx.Client, token: str, expected: Expected) -> Seen:
    """Poll the hub until it shows everything or the three minutes are up; the last look."""
    url = f"http://127.0.0.1:{demo.port}"
    seen = [observe(client, url, token, demo.started)]

    def done() -> bool:
        seen.append(observe(client, url, token, demo.started))
        return expected.met_by(seen[-1]) or demo.process.poll() is not None

    eventually(done, demo.started + READY_S - time.monotonic(), every=2.0)
    return seen[-1]


def eventually(check: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    """Like ``until``, but the caller asserts, with the demo's output and logs as the message."""
    with contextlib.suppress(AssertionError):
        until(check, timeout=max(0.0, timeout), every=every)
    return check()


def wait_for_banner(demo: Demo) -> re.Match[str] | None:
    remaining = demo.started + READY_S - time.monotonic()
    eventually(
        lambda: BANNER.search(demo.output) is not None or demo.process.poll() is not None, remaining
    )
    return BANNER.search(demo.output)


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command, which may itself hold spaces and parentheses: state is field 3.
    return text[text.rindex(")") + 2 :].split()


def _process(pid: int) -> Process | None:
    stat = _stat(pid)
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    return None if stat is None else Process(pid, stat[19], command.strip())


def descendants(pid: int) -> list[Process]:
    children = [
        int(child)
        for listing in Path(f"/proc/{pid}/task").glob("*/children")
        for child in listing.read_text().split()
    ]
    found = [p for p in map(_process, children) if p is not None]
    return found + [d for child in children for d in descendants(child)]


def alive(process: Process) -> bool:
    stat = _stat(process.pid)
    return stat is not None and stat[19] == process.started and stat[0] != "Z"


def _session(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else int(stat[3])


def session_members(sid: int) -> list[Process]:
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    members = [p for p in map(_process, pids) if p is not None and _session(p.pid) == sid]
    return [p for p in members if alive(p)]


def exit_code(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def _tail(path: Path, lines: int = 200) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return repr(error)
    return "\n".join(text.splitlines()[-lines:])


def _kill_session(sid: int) -> None:
    for member in session_members(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(member.pid, signal.SIGKILL)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent",
            "demo",
            "--data-dir",
            str(tmp_path / "demo-data"),
            "--port",
            str(port),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    running = Demo(process, tmp_path / "demo-data", port, started)
    reader = threading.Thread(target=running.read_output, name="demo-output", daemon=True)
    reader.start()
    try:
        yield running
    finally:
        # The demo's children run in process groups of their own, so the session is the tree.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        _kill_session(process.pid)
        process.wait(10)
        reader.join(10)
        assert process.stdout is not None
        process.stdout.close()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_demo_shows_every_device_and_an_alarm_then_stops_on_ctrl_c(demo: Demo) -> None:
    expected = expected_site()

    banner = wait_for_banner(demo)
    assert banner is not None, demo.report()
    assert banner["url"] == f"http://127.0.0.1:{demo.port}", demo.report()
    assert banner["user"] == USER, demo.report()
    with httpx.Client(base_url=banner["url"], timeout=10.0, trust_env=False) as client:
        login = client.post("/login", data={"name": USER, "password": banner["password"]})
        assert (login.status_code, login.headers.get("location")) == (303, "/"), demo.report()
        seen = watch_hub(demo, client, banner["token"], expected)

    assert seen.error == "", demo.report(seen)
    on_page = {device: seen.page_labels.get(device) for device in expected.labels}
    assert on_page == expected.labels, demo.report(seen)
    assert seen.page_alarms & FREEZER_ALARMS, demo.report(seen)
    assert seen.page_gates == expected.gates, demo.report(seen)
    assert seen.api_devices == frozenset(expected.labels), demo.report(seen)
    assert {gate for gate, _ in seen.access} == expected.gates, demo.report(seen)
    assert {result for _, result in seen.access} == {"granted", "denied"}, demo.report(seen)
    assert seen.api_alarms & FREEZER_ALARMS, demo.report(seen)
    assert seen.at <= READY_S, demo.report(seen)

    tree = descendants(demo.process.pid)
    commands = " | ".join(p.command for p in tree)
    assert re.search(r"mosquitto|agent\.broker", commands), commands
    assert "hub serve" in commands, commands
    assert "agent run" in commands, commands

    demo.process.send_signal(signal.SIGINT)
    code = exit_code(demo.process, STOP_S)
    assert code == 0, demo.report()
    assert [p for p in tree if alive(p)] == [], demo.report()
    assert session_members(demo.process.pid) == [], demo.report()
    assert eventually(lambda: "demo: stopped." in demo.output, 10.0), demo.report()
