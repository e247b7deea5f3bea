"""A small site configuration for tests, and helpers to publish to it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import SiteConfig, parse_site

SITE_YAML = """
site: {{id: {site}, name: Test Clinic, timezone: Asia/Shanghai}}
mqtt: {{url: "{mqtt_url}", client_id: "agent-{site}-{client}"}}
{hub}
storage: {{path: "{db}", commit_interval: 20ms{storage}}}
metrics: {{port: 0}}
devices:
  - {{id: main-meter, name: Main power meter, kind: power_meter,
     location: {{building: Main, floor: B1, department: Facilities}}}}
  - {{id: freezer-1, name: "Kitchen freezer <b>", kind: temperature,
     location: {{building: Canteen, department: Kitchen}}}}
  - {{id: door-1, name: Freezer door, kind: door}}
  - {{id: gate-north, name: North gate, kind: access_reader}}
posts:
  - {{id: cold-store, name: "冷库管理员 / Cold-store keeper", members: [{{name: Li}}]}}
rules:
  - {{id: freezer-warm, type: threshold, device: freezer-1, metric: temperature, above: -15,
     for: 0s, deadband: 1, severity: high, post: cold-store}}
  - {{id: freezer-silent, type: stale, device: freezer-1, after: 1h, post: cold-store}}
"""


def site_yaml(
    db: Path,
    mqtt_url: str,
    hub_url: str | None = None,
    token: str = "",
    site: str = "clinic",
    hub_options: str = "",
    storage_options: str = "",
) -> str:
    """``hub_options``, ``storage_options``: more keys of the ``hub`` and ``storage`` mappings,
    such as ``"timeout: 1s"`` or ``"max_size: 16MB"``."""
    options = f"sync_interval: 200ms, {hub_options}".rstrip(", ")
    hub = f'hub: {{url: "{hub_url}", token: "{token}", {options}}}' if hub_url else ""
    # One broker serves the whole test session: a client id per store keeps sessions apart.
    client = hashlib.sha1(str(db).encode()).hexdigest()[:12]
    storage = f", {storage_options}" if storage_options else ""
    return SITE_YAML.format(
        site=site, mqtt_url=mqtt_url, db=db, hub=hub, client=client, storage=storage
    )


def site_config(db: Path, mqtt_url: str, **kwargs: Any) -> SiteConfig:
    config, _ = parse_site(site_yaml(db, mqtt_url, **kwargs), env={})
    return config


# Every publisher a test opens, closed after it (tests.conftest) whether or not it closed it.
_opened: list[mqtt.Client] = []


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", port)
    client.loop_start()
    _opened.append(client)
    return client


def close_publishers() -> None:
    while _opened:
        client = _opened.pop()
        client.disconnect()
        client.loop_stop()


def publish(client: mqtt.Client, topic: str, payload: Any, qos: int = 1) -> None:
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    sent = client.publish(topic, body, qos=qos)
    sent.wait_for_publish(10)
    # paho returns from a timed-out wait silently; a broker that stopped answering must fail the
    # test here, in ten seconds, not as a missing reading minutes later.
    assert sent.is_published(), f"the broker did not acknowledge {topic} within 10 s"
