"""examples/demo-site.yaml: it validates, the demo's environment points it at the demo's broker and
hub, and the simulated hospital tells the story the file's rules are there to catch."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

import agent.broker
import agent.demo
from agent.cli import main
from agent.config import load_site
from agent.demo import DemoError, parse_user, prepare_data_dir
from collector import simulator
from collector.models import AccessEvent, Reading
from collector.native import parse
from rules.engine import Engine

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "demo-site.yaml"
DEMO_ENV = {
    "FW_MQTT_URL": "mqtt://127.0.0.1:41883",
    "FW_HUB_URL": "http://127.0.0.1:8765",
    "FW_AGENT_TOKEN": "agent-token",
    "FW_DATA_DIR": "/tmp/fw-demo",
}
START = 1_795_402_800.0  # 2026-11-23 11:00 in Asia/Shanghai


def test_example_validates_with_the_demo_environment() -> None:
    site, warnings = load_site(EXAMPLE, DEMO_ENV)
    assert warnings == []
    assert (site.site.id, site.site.timezone) == ("demo-hospital", "Asia/Shanghai")


def test_example_without_environment_misses_only_the_token() -> None:
    _, warnings = load_site(EXAMPLE, {})
    assert warnings == ["environment variable FW_AGENT_TOKEN is not set"]


@pytest.mark.parametrize(
    ("env", "mqtt", "hub", "token", "storage"),
    [
        ({}, "mqtt://127.0.0.1:1883", "http://127.0.0.1:8000", "", "demo-data/agent.db"),
        (
            DEMO_ENV,
            "mqtt://127.0.0.1:41883",
            "http://127.0.0.1:8765",
            "agent-token",
            "/tmp/fw-demo/agent.db",
        ),
    ],
)
def test_environment_points_the_agent_at_the_demo(
    env: dict[str, str], mqtt: str, hub: str, token: str, storage: str
) -> None:
    site, _ = load_site(EXAMPLE, env)
    assert site.hub is not None
    assert (site.mqtt.url, site.hub.url, site.hub.token) == (mqtt, hub, token)
    assert site.storage.path == Path(storage)
    assert site.hub.sync_interval.total_seconds() == 2


def test_check_config_says_ok() -> None:
    result = CliRunner().invoke(main, ["check-config", str(EXAMPLE)], env=DEMO_ENV)
    assert result.exit_code == 0
    assert "ok — site demo-hospital, 11 devices" in result.stdout


def test_simulator_plays_exactly_the_declared_devices() -> None:
    site, _ = load_site(EXAMPLE, DEMO_ENV)
    declared = {d.id: d.kind for d in site.devices}
    assert {d.id: simulator.kind_of(d) for d in simulator.hospital()} == declared


def test_every_post_has_a_member_and_a_bilingual_name() -> None:
    site, _ = load_site(EXAMPLE, DEMO_ENV)
    assert all(post.members and post.name and not post.name.isascii() for post in site.posts)
    assert {p.id for p in site.posts} == {"electrician", "plumber", "cold-store", "gate-guard"}


def first_alarms(seconds: float) -> dict[str, float]:
    """When each rule of the example first raises on the simulated hospital."""
    site, _ = load_site(EXAMPLE, DEMO_ENV)
    devices = site.device_map()
    engine = Engine(list(site.rules), START)
    fired: dict[str, float] = {}
    hospital = simulator.hospital()
    scenario = simulator.build_scenario(hospital, "demo-hospital", "Asia/Shanghai", START, 1)
    for at, message in simulator.timeline(hospital, scenario, 1, until=START + seconds):
        parsed = parse(message.topic, message.payload, at, devices)
        changes = engine.on_reading(parsed) if isinstance(parsed, Reading) else []
        changes += engine.on_access(parsed) if isinstance(parsed, AccessEvent) else []
        changes += engine.on_tick(at)
        for change in changes:
            fired.setdefault(change.alarm.rule, at - START)
    return fired


def test_the_demo_story_raises_the_freezer_alarms_within_two_minutes() -> None:
    fired = first_alarms(600)
    # The story: the door is left open, the freezer warms fast, then past its limit.
    assert set(fired) == {"freezer-door-held-open", "freezer-warming-fast", "freezer-warm"}
    assert fired["freezer-door-held-open"] == pytest.approx(100, abs=6)
    assert 70 < fired["freezer-warm"] < 120
    assert fired["freezer-warming-fast"] < 180


def test_demo_refuses_to_empty_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(DemoError, match="not made by the demo"):
        prepare_data_dir(tmp_path)
    assert (tmp_path / "thesis.tex").exists()


def test_demo_empties_its_own_data_directory(tmp_path: Path) -> None:
    data = prepare_data_dir(tmp_path / "demo-data")
    (data / "hub.db").write_text("old")
    (data / "logs" / "hub.log").write_text("old")
    again = prepare_data_dir(tmp_path / "demo-data")
    assert sorted(p.name for p in again.iterdir()) == [".facilitywatch-demo", "logs"]
    assert list((again / "logs").iterdir()) == []


def test_demo_reads_the_password_and_the_token_of_the_new_user() -> None:
    output = "user demo (admin) password: s3cret-Pw\nAPI token (shown once):\nfw_tok_123\n"
    assert parse_user(output) == ("s3cret-Pw", "fw_tok_123")


@pytest.mark.parametrize(
    "module",
    [
        agent.demo,
        agent.demo.launcher,
        agent.demo.narration,
        agent.demo.provisioning,
        agent.demo.supervisor,
        agent.broker,
        simulator,
    ],
)
def test_exports_exist(module: ModuleType) -> None:
    assert [name for name in module.__all__ if not hasattr(module, name)] == []
