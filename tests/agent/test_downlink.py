"""Site configuration from the hub: checked, applied by the running agent, refused with the reason,
kept across a restart. End to end against the real hub under uvicorn and the real Mosquitto."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent import downlink, store
from agent.config import SiteConfig
from agent.runtime import Agent
from sync.hub import auth
from sync.protocol import ConfigRejected, ConfigVersion
from tests.hubfixtures import RunningHub, bearer
from tests.support.mosquitto import Broker
from tests.support.site import publish, publisher, site_config
from tests.support.sqlite import rows
from tests.support.wait import until

T0 = 1_763_900_000.0
# Not the other tests' clinic: the alarm states these leave retained on the session's broker
# would reach the next agent subscribed to the clinic's topics.
SITE = "ward"

# The test site's freezer rule kept (same id and type), its stale rule dropped, the main meter
# removed, a medicine fridge added with a 2-8 °C rule (coldchain.md).
NEW = """\
devices:
  - {id: freezer-1, kind: temperature}
  - {id: door-1, kind: door}
  - {id: gate-north, kind: access_reader}
  - {id: fridge-2, name: Medicine fridge, kind: temperature}
posts:
  - {id: cold-store, members: [{name: Li}]}
rules:
  - {id: freezer-warm, type: threshold, device: freezer-1, metric: temperature, above: -15,
     deadband: 1, severity: high, post: cold-store}
  - {id: fridge-range, type: threshold, device: fridge-2, metric: temperature, above: 8,
     below: 2, severity: high, post: cold-store}
"""
# Valid at the hub (a scheme:// URL); apprise, which only the agent has, knows no tgrm://.
APPRISE_REFUSES = "posts:\n  - {id: cold-store, notify: ['tgrm://123456/abc']}\n"


def version(text: str, number: int = 1, fmt: str = "yaml") -> ConfigVersion:
    return ConfigVersion.model_validate(
        {"version": number, "format": fmt, "text": text, "by": "root", "at": T0}
    )


@pytest.fixture
def config(tmp_path: Path) -> SiteConfig:
    return site_config(tmp_path / "agent.db", "mqtt://127.0.0.1:1")


@pytest.fixture
def conn(config: SiteConfig) -> Iterator[sqlite3.Connection]:
    opened = store.open_store(config.storage.path, "clinic")
    yield opened
    opened.close()


def test_a_valid_version_replaces_devices_posts_and_rules_only(config: SiteConfig) -> None:
    checked = downlink.check(config, version(NEW), T0)
    assert checked.reason is None and checked.config is not None
    assert [r.id for r in checked.config.rules] == ["freezer-warm", "fridge-range"]
    assert [d.id for d in checked.config.devices][-1] == "fridge-2"
    assert (checked.config.site, checked.config.mqtt, checked.config.storage) == (
        config.site,
        config.mqtt,
        config.storage,
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (APPRISE_REFUSES, "posts[0].notify[0]: apprise cannot use this tgrm:// URL"),
        (
            "rules:\n  - {id: r, type: stale, device: ghost, after: 1h}\n",
            "rules[0].device: unknown device 'ghost'",
        ),
        ("storage: {path: /tmp/x.db}\n", "storage: not managed by the hub"),
        ("devices: [\n", "YAML: "),
    ],
    ids=["apprise", "unknown device", "a local section", "not YAML"],
)
def test_an_invalid_version_is_refused_with_the_reason(
    config: SiteConfig, text: str, reason: str
) -> None:
    checked = downlink.check(config, version(text), T0)
    assert checked.config is None
    assert (checked.reason or "").startswith(reason)


def test_variables_of_a_version_come_from_the_agents_environment(config: SiteConfig) -> None:
    text = "posts:\n  - {id: p, notify: ['json://hooks.example.org/${HOOK}']}\n"
    checked = downlink.check(config, version(text), T0, env={"HOOK": "k3y"})
    assert checked.config is not None
    assert checked.config.posts[0].notify == ["json://hooks.example.org/k3y"]


def test_what_the_agent_reports(conn: sqlite3.Connection, config: SiteConfig) -> None:
    before = downlink.report(conn)
    downlink.record(conn, downlink.check(config, version(NEW, 1), T0))
    downlink.record(conn, downlink.check(config, version(APPRISE_REFUSES, 2), T0))
    applied, rejected = downlink.report(conn)
    assert before == (0, None)
    assert applied == 1
    assert rejected == ConfigRejected(
        version=2,
        reason="posts[0].notify[0]: apprise cannot use this tgrm:// URL"
        " (unknown scheme or missing parts)",
    )
    assert (downlink.seen(conn, 2), downlink.seen(conn, 3)) == (True, False)


def test_a_start_runs_the_newest_applied_version(
    conn: sqlite3.Connection, config: SiteConfig
) -> None:
    downlink.record(conn, downlink.check(config, version(NEW, 3), T0))
    started, number = downlink.effective(conn, config, T0 + 60)
    assert number == 3
    assert [r.id for r in started.rules] == ["freezer-warm", "fridge-range"]


def test_a_stored_version_that_no_longer_validates_falls_back(
    conn: sqlite3.Connection, config: SiteConfig
) -> None:
    needs = NEW.replace("fridge-2, name", "'${FRIDGE}', name").replace(
        "device: fridge-2", "device: '${FRIDGE}'"
    )
    downlink.record(conn, downlink.check(config, version(NEW, 1), T0))
    downlink.record(conn, downlink.check(config, version(needs, 2), T0, env={"FRIDGE": "f2"}))
    started, number = downlink.effective(conn, config, T0 + 60, env={})
    applied, rejected = downlink.report(conn)
    assert (number, applied) == (1, 1)
    assert [d.id for d in started.devices][-1] == "fridge-2"
    assert rejected is not None
    assert (rejected.version, rejected.reason[:19]) == (2, "devices[3].id: Stri")


def test_without_a_version_the_file_runs(conn: sqlite3.Connection, config: SiteConfig) -> None:
    assert downlink.effective(conn, config, T0) == (config, 0)


# End to end: the real hub, the real broker, the agent's own threads.


@pytest.fixture
def tokens(hub: RunningHub) -> tuple[str, str]:
    agent_token = auth.create_agent(hub.hubdb, SITE, now=T0)
    _password, admin = auth.create_user(hub.hubdb, "root", "admin", now=T0)
    return agent_token, admin


@pytest.fixture
def site(tmp_path: Path, broker: Broker, hub: RunningHub, tokens: tuple[str, str]) -> SiteConfig:
    db = tmp_path / "agent.db"
    return site_config(db, broker.url, hub_url=hub.url, token=tokens[0], site=SITE)


@pytest.fixture
def api(hub: RunningHub, tokens: tuple[str, str]) -> Iterator[httpx.Client]:
    headers = bearer(tokens[1])
    with httpx.Client(base_url=hub.url, timeout=30, verify=False, headers=headers) as client:
        yield client


def started(config: SiteConfig) -> Agent:
    running = Agent(config)
    running.start()
    until(lambda: running.subscriber.subscribed)
    return running


def hub_config(api: httpx.Client) -> dict[str, object]:
    got: dict[str, object] = api.get(f"/api/v1/sites/{SITE}/config").json()
    return got


def put(api: httpx.Client, text: str) -> int:
    response = api.put(
        f"/api/v1/sites/{SITE}/config", content=text, headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 201, response.text
    number: int = response.json()["version"]
    return number


def test_a_new_version_runs_at_once_and_after_a_restart(
    site: SiteConfig, api: httpx.Client, broker: Broker
) -> None:
    db = site.storage.path
    client = publisher(broker.port)
    agent = started(site)
    try:
        until(lambda: hub_config(api)["applied_version"] == 0)
        publish(client, f"fw/{SITE}/freezer-1/temperature", -12)
        until(lambda: rows(db, "SELECT id FROM alarms WHERE rule = 'freezer-warm'"))
        put(api, NEW)
        until(lambda: hub_config(api)["applied_version"] == 1)
        publish(client, f"fw/{SITE}/fridge-2/temperature", 9.5)
        publish(client, f"fw/{SITE}/main-meter/power", 4200)
        until(lambda: rows(db, "SELECT state FROM alarms WHERE rule = 'fridge-range'"))
        until(lambda: rows(db, "SELECT reason FROM quarantine WHERE topic LIKE '%main-meter%'"))
    finally:
        agent.stop()
    restarted = started(site)
    restarted.stop()
    events = rows(
        db,
        "SELECT e.kind FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id"
        " WHERE a.rule = 'freezer-warm'",
    )
    assert events == [("raised",)]  # its state survived the switch: no second alarm
    assert rows(db, "SELECT rule FROM rule_states ORDER BY rule") == [
        ("freezer-warm",),
        ("fridge-range",),
    ]
    assert rows(db, "SELECT reason FROM quarantine") == [("unknown device 'main-meter'",)]
    assert (restarted.config_version, [r.id for r in restarted.config.rules]) == (
        1,
        ["freezer-warm", "fridge-range"],
    )
    # The hub heard of the new device: the four of the file, and the fridge.
    assert api.get("/api/v1/sites").json()["items"][0]["devices"] == 5


def test_a_refused_version_is_reported_and_monitoring_goes_on(
    site: SiteConfig, api: httpx.Client, broker: Broker
) -> None:
    db = site.storage.path
    client = publisher(broker.port)
    agent = started(site)
    try:
        put(api, APPRISE_REFUSES)
        until(lambda: hub_config(api)["rejected_version"] == 1)
        reported = hub_config(api)
        batches = agent.syncer.status.batches if agent.syncer else 0
        publish(client, f"fw/{SITE}/freezer-1/temperature", -12)
        until(lambda: rows(db, "SELECT state FROM alarms WHERE rule = 'freezer-warm'"))
        # Several syncs later, the refused version has not been tried again.
        until(lambda: agent.syncer is not None and agent.syncer.status.batches > batches + 3)
    finally:
        agent.stop()
    assert (reported["applied_version"], reported["error"]) == (
        0,
        "posts[0].notify[0]: apprise cannot use this tgrm:// URL (unknown scheme or missing parts)",
    )
    assert rows(db, "SELECT version, applied_at FROM hub_config") == [(1, None)]
    assert rows(db, "SELECT COUNT(*) FROM readings WHERE device = 'freezer-1'") == [(1,)]
    assert [r.id for r in agent.config.rules] == ["freezer-warm", "freezer-silent"]
