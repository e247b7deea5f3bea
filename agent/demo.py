"""``facilitywatch demo``: a whole site on one machine — broker, hub, agent and simulated devices.

Every child runs in a process group of its own, so a terminal's Ctrl-C reaches only this process,
which then stops the pieces in order — devices, agent, hub, broker — waiting for each: the agent
gets to finish its last sync while the hub and the broker are still up. A second Ctrl-C stops
waiting and kills what is left.

Errors::

    DemoError  a step of the start-up failed; ``log`` holds the output that says why
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from agent.broker import BrokerError, EmbeddedBroker, port_free
from agent.children import die_with_parent
from agent.config import ConfigError, SiteConfig, load_site
from collector import simulator

__all__ = ["DemoError", "prepare_data_dir", "run_demo"]

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "demo-site.yaml"
HOST = "127.0.0.1"
USER = "demo"
SEED = 1
# Written into the data directory: only a directory holding it is ever emptied by the demo.
MARKER = ".facilitywatch-demo"
HUB_START_S = 60.0
AGENT_SETTLE_S = 3.0
STOP_S = {"agent": 15.0, "hub": 10.0, "broker": 5.0}
ALARM_POLL_S = 5.0


class DemoError(RuntimeError):
    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


class _Stopped(Exception):
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


def run_demo(mqtt_url: str | None, port: int, data_dir: Path) -> int:
    signals = Signals()
    trapped = [
        signal.SIGINT,
        signal.SIGTERM,
        *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else []),
    ]
    previous = {signum: signal.signal(signum, signals.handle) for signum in trapped}
    try:
        with contextlib.ExitStack() as stack:
            code = _run(mqtt_url, port, data_dir, signals, stack)
            echo("demo: stopping the simulator, agent, hub and broker, in that order ...")
        echo("demo: stopped.")
        return code
    except _Stopped:
        echo("demo: stopped during start-up.")
        return 0
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr, flush=True)
        if error.log:
            print(_indent(error.log), file=sys.stderr, flush=True)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(
    mqtt_url: str | None, port: int, data_dir: Path, signals: Signals, stack: contextlib.ExitStack
) -> int:
    site = _example_site()
    data = prepare_data_dir(data_dir)
    logs = data / "logs"
    hub_url = f"http://{HOST}:{port}"
    if not port_free(HOST, port):
        raise DemoError(f"port {port} on {HOST} is taken; choose the hub's port with --port")
    broker_url, broker, where = _start_broker(mqtt_url, data, stack)
    echo(f"demo: broker {broker_url}; creating the hub's database, agent token and user ...")
    db = f"sqlite:///{data / 'hub.db'}"
    agent_token = _last_line(
        _admin(["hub", "create-agent", site.site.id, "--db", db], logs, signals)
    )
    password, api_token = parse_user(
        _admin(["hub", "create-user", USER, "--role", "admin", "--db", db], logs, signals)
    )
    hub_argv = ["hub", "serve", "--db", db, "--host", HOST, "--port", str(port)]
    echo(f"demo: starting the hub on {hub_url} ...")
    hub = spawn("hub", facilitywatch(*hub_argv), logs / "hub.log")
    stack.callback(stop_child, hub, STOP_S["hub"], signals)
    wait_for_hub(hub_url, hub, signals)
    env = {
        "FW_AGENT_TOKEN": agent_token,
        "FW_MQTT_URL": broker_url,
        "FW_HUB_URL": hub_url,
        "FW_DATA_DIR": str(data),
    }
    echo(f"demo: starting the agent of {site.site.id} ...")
    agent_argv = facilitywatch("agent", "run", str(EXAMPLE))
    agent = spawn("agent", agent_argv, logs / "agent.log", env, data)
    stack.callback(stop_child, agent, STOP_S["agent"], signals)
    _settle(agent, signals)
    started = time.time()
    devices = _start_simulator(broker_url, site, started, stack)
    _banner(site, hub_url, password, api_token, f"{broker_url} ({where})", data)
    children = [c for c in (broker, hub, agent) if c is not None]
    return watch(children, devices, signals, _story(site, started), (hub_url, api_token))


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


def parse_user(output: str) -> tuple[str, str]:
    """The password and the API token from ``hub create-user``'s output."""
    found = re.search(r"password: (\S+)", output)
    if found is None:
        raise DemoError("`hub create-user` printed no password line", output)
    return found.group(1), _last_line(output)


def wait_for_hub(url: str, hub: Child, signals: Signals, timeout: float = HUB_START_S) -> None:
    deadline = time.monotonic() + timeout
    # trust_env=False: a proxy from the environment must not sit between us and loopback.
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if signals.stop.is_set():
                raise _Stopped
            if not hub.alive():
                raise DemoError(f"the hub exited during start-up; see {hub.log}", hub.tail())
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{url}/docs").status_code == 200:
                    return
            signals.stop.wait(0.2)
    raise DemoError(f"the hub did not answer {url}/docs within {timeout:g} s", hub.tail())


def watch(
    children: Sequence[Child],
    devices: threading.Thread,
    signals: Signals,
    story: list[tuple[float, str]],
    hub: tuple[str, str],
) -> int:
    """Until a signal: tell the story as it happens, show new alarms, notice a child dying."""
    begun = time.monotonic()
    seen: set[str] = set()
    next_poll = 0.0
    with httpx.Client(timeout=3.0, trust_env=False) as client:
        while not signals.stop.wait(0.5):
            dead = next((c for c in children if not c.alive()), None)
            if dead is not None:
                print(
                    f"demo: the {dead.name} stopped unexpectedly (exit code "
                    f"{dead.process.returncode}); the end of {dead.log}:",
                    file=sys.stderr,
                )
                print(_indent(dead.tail()), file=sys.stderr, flush=True)
                return 1
            if not devices.is_alive():
                print("demo: the simulator stopped unexpectedly", file=sys.stderr, flush=True)
                return 1
            while story and story[0][0] <= time.monotonic() - begun:
                echo(f"demo: [{story[0][0]:4.0f} s] {story.pop(0)[1]}")
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + ALARM_POLL_S
                _show_new_alarms(client, hub, seen)
    return 0


def _example_site() -> SiteConfig:
    if not EXAMPLE.is_file():
        raise DemoError(f"the demo site {EXAMPLE} is missing (run the demo from a source checkout)")
    try:
        site, _ = load_site(EXAMPLE, {"FW_AGENT_TOKEN": "-"})
    except ConfigError as error:
        raise DemoError(f"{EXAMPLE} is not valid", "\n".join(error.errors)) from None
    return site


def _start_broker(
    mqtt_url: str | None, data: Path, stack: contextlib.ExitStack
) -> tuple[str, Child | None, str]:
    if mqtt_url:
        return mqtt_url, None, "given with --mqtt-url"
    broker = EmbeddedBroker(data / "broker")
    try:
        broker.start()
    except BrokerError as error:
        raise DemoError(f"the MQTT broker did not start: {error}", error.log) from None
    stack.callback(_stop_broker, broker)
    if broker.process is None:
        raise DemoError("the MQTT broker did not start")
    if broker.engine == "amqtt":
        print(
            "demo: note: mosquitto is not installed, so the broker is amqtt; the agent speaks "
            "MQTT 3.1.1 to it, and amqtt may drop unacknowledged messages if the agent restarts. "
            "For real sites use Mosquitto (apt install mosquitto) or pass --mqtt-url.",
            file=sys.stderr,
            flush=True,
        )
    where = f"a private {broker.engine}, loopback only"
    return broker.url, Child("broker", broker.process, broker.log_path), where


def _stop_broker(broker: EmbeddedBroker) -> None:
    echo(f"demo: stopping the broker ({broker.engine}) ...")
    broker.stop(STOP_S["broker"])


def _admin(args: list[str], logs: Path, signals: Signals) -> str:
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
        raise _Stopped
    if result.returncode != 0:
        raise DemoError(
            f"`facilitywatch {' '.join(args[:2])}` failed (exit code {result.returncode})",
            (result.stderr or result.stdout)[-3000:],
        )
    return result.stdout


def _settle(agent: Child, signals: Signals) -> None:
    """A bad config or a missing module kills the agent at once; say so before the banner."""
    deadline = time.monotonic() + AGENT_SETTLE_S
    while time.monotonic() < deadline:
        if signals.stop.is_set():
            raise _Stopped
        if not agent.alive():
            raise DemoError(f"the agent exited during start-up; see {agent.log}", agent.tail())
        signals.stop.wait(0.1)


def _start_simulator(
    broker_url: str, site: SiteConfig, started: float, stack: contextlib.ExitStack
) -> threading.Thread:
    stop = threading.Event()
    thread = threading.Thread(
        target=simulator.run,
        args=(broker_url, stop),
        kwargs={
            "site": site.site.id,
            "timezone": site.site.timezone,
            "seed": SEED,
            "start": started,
        },
        name="simulator",
        daemon=True,
    )
    thread.start()

    def stop_simulator() -> None:
        echo("demo: stopping the simulated devices ...")
        stop.set()
        thread.join(10.0)

    stack.callback(stop_simulator)
    return thread


def _story(site: SiteConfig, started: float) -> list[tuple[float, str]]:
    """What the audience should see, and when, from the same pure model the simulator runs."""
    incident = simulator.DEMO_INCIDENT
    devices = simulator.hospital()
    scenario = simulator.build_scenario(devices, site.site.id, site.site.timezone, started, SEED)
    topic = f"fw/{site.site.id}/kitchen-freezer/temperature"
    warm = next(
        (
            at - started
            for at, message in simulator.timeline(devices, scenario, SEED, started + 900)
            if message.topic == topic and json.loads(message.payload)["value"] > -15
        ),
        None,
    )
    story = [
        (incident.at, "the kitchen freezer door has been left open (contact = 1)"),
        (incident.at + 60, "open for 60 s: rule freezer-door-held-open raises an alarm"),
    ]
    if warm is not None:
        story.append((warm, "the kitchen freezer passed −15 °C; rule freezer-warm fires in 30 s"))
    if incident.duration is not None:
        story.append(
            (
                incident.at + incident.duration,
                "someone closed the freezer door; the freezer needs ~25 min to pull down, and "
                "the alarms stay open on the hub until someone acknowledges them",
            )
        )
    return sorted(story)


def _show_new_alarms(client: httpx.Client, hub: tuple[str, str], seen: set[str]) -> None:
    url, token = hub
    try:
        response = client.get(
            f"{url}/api/v1/alarms",
            params={"state": "open"},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return
    for alarm in _alarm_list(body):
        key = str(alarm.get("id") or alarm.get("rule"))
        if key not in seen:
            seen.add(key)
            echo(
                f"demo: ALARM on the hub — {alarm.get('severity', '?')} "
                f"{alarm.get('rule', '?')} on {alarm.get('device', '?')}: "
                f"{alarm.get('message', '')}"
            )


def _alarm_list(body: Any) -> list[dict[str, Any]]:
    # The hub's list shape is still settling: accept a bare list or one under a common key.
    if isinstance(body, dict):
        body = next((body[k] for k in ("alarms", "items", "data") if k in body), [])
    return [a for a in body if isinstance(a, dict)] if isinstance(body, list) else []


def _banner(
    site: SiteConfig,
    hub_url: str,
    password: str,
    api_token: str,
    broker: str,
    data: Path,
) -> None:
    rule = "─" * 78
    lines = [
        rule,
        f"  facilitywatch demo — {site.site.name or site.site.id} ({site.site.timezone})",
        "",
        f"  Open        {hub_url}",
        f"  Log in as   {USER}   password  {password}",
        f"  API token   {api_token}",
        f"              curl -H 'Authorization: Bearer …' '{hub_url}/api/v1/alarms?state=open'",
        "",
        f"  Broker      {broker}",
        f"  Data, logs  {data}  (logs in {data / 'logs'})",
        "",
        f"  {len(site.devices)} simulated devices report every 5 s. At ~40 s the kitchen freezer",
        "  door is left open; the freezer warms past −15 °C within two minutes and the hub",
        "  raises the alarms freezer-door-held-open and freezer-warm. Watch the alarm page.",
        "  Ctrl-C stops everything.",
        rule,
    ]
    echo("\n".join(lines))


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        raise DemoError("a hub admin command printed nothing")
    return lines[-1]


def _signal_group(child: Child, signum: int) -> None:
    # Only while the leader is unreaped: its id cannot have been reused for another group.
    if child.alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signum)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
