"""Starting the demo's pieces in order — broker, hub, agent, simulated devices — and stopping them
in reverse: the ``ExitStack`` holds one callback per piece, so a failed start stops what had
started."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from pathlib import Path

from agent.broker import BrokerError, EmbeddedBroker, port_free
from agent.config import SiteConfig
from agent.demo.narration import SEED, banner, story, watch
from agent.demo.provisioning import (
    EXAMPLE,
    USER,
    admin,
    example_site,
    last_line,
    parse_user,
    prepare_data_dir,
)
from agent.demo.supervisor import (
    Child,
    DemoError,
    Signals,
    Stopped,
    echo,
    facilitywatch,
    indent,
    settle,
    spawn,
    stop_child,
    wait_for_hub,
)
from collector import simulator

__all__ = ["run_demo"]

HOST = "127.0.0.1"
STOP_S = {"agent": 15.0, "hub": 10.0, "broker": 5.0}


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
    except Stopped:
        echo("demo: stopped during start-up.")
        return 0
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr, flush=True)
        if error.log:
            print(indent(error.log), file=sys.stderr, flush=True)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(
    mqtt_url: str | None, port: int, data_dir: Path, signals: Signals, stack: contextlib.ExitStack
) -> int:
    site = example_site()
    data = prepare_data_dir(data_dir)
    logs = data / "logs"
    hub_url = f"http://{HOST}:{port}"
    if not port_free(HOST, port):
        raise DemoError(f"port {port} on {HOST} is taken; choose the hub's port with --port")
    broker_url, broker, where = _start_broker(mqtt_url, data, stack)
    echo(f"demo: broker {broker_url}; creating the hub's database, agent token and user ...")
    db = f"sqlite:///{data / 'hub.db'}"
    agent_token = last_line(admin(["hub", "create-agent", site.site.id, "--db", db], logs, signals))
    password, api_token = parse_user(
        admin(["hub", "create-user", USER, "--role", "admin", "--db", db], logs, signals)
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
    settle(agent, signals)
    started = time.time()
    devices = _start_simulator(broker_url, site, started, stack)
    banner(site, hub_url, password, api_token, f"{broker_url} ({where})", data)
    children = [c for c in (broker, hub, agent) if c is not None]
    return watch(children, devices, signals, story(site, started), (hub_url, api_token))


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
