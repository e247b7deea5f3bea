"""What the audience sees once the demo runs: the banner, the story told as it happens (timed from
the same pure model the simulator runs), and each new alarm on the hub."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from agent.config import SiteConfig
from agent.demo.provisioning import USER
from agent.demo.supervisor import Child, Signals, echo, indent
from collector import simulator

__all__ = ["SEED", "banner", "story", "watch"]

SEED = 1
ALARM_POLL_S = 5.0


def banner(
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


def story(site: SiteConfig, started: float) -> list[tuple[float, str]]:
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
    told = [
        (incident.at, "the kitchen freezer door has been left open (contact = 1)"),
        (incident.at + 60, "open for 60 s: rule freezer-door-held-open raises an alarm"),
    ]
    if warm is not None:
        told.append((warm, "the kitchen freezer passed −15 °C; rule freezer-warm fires in 30 s"))
    if incident.duration is not None:
        told.append(
            (
                incident.at + incident.duration,
                "someone closed the freezer door; the freezer needs ~25 min to pull down, and "
                "the alarms stay open on the hub until someone acknowledges them",
            )
        )
    return sorted(told)


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
                print(indent(dead.tail()), file=sys.stderr, flush=True)
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
