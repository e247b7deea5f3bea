"""Escalation drives delivery: steps fall due on the notifier's clock, an acknowledgement stops
them, a restart sends no step twice, low severity never escalates. Real webhook on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent import store
from agent.config import SiteConfig, parse_site
from agent.notify import Notifier
from agent.writer import SyncAcked, Writer
from sync.protocol import ActionRecord
from tests.agent.notify.conftest import Webhook, notify_site
from tests.agent.writer.test_core import T0, start_writer, temp
from tests.support.sqlite import connected

MINUTE = 60.0


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


def site(db: Path, webhook: Webhook, severity: str = "high", **escalation: Any) -> SiteConfig:
    """Li on duty (no roster), Chen the supervisor, the post's own desk hook."""
    document = yaml.safe_load(
        notify_site(
            db, "mqtt://127.0.0.1:1", member=[webhook.url("/li")], post=[webhook.url("/desk")]
        )
    )
    post = document["posts"][0]
    post["supervisor"] = {"name": "Chen", "notify": [webhook.url("/chen")]}
    post["escalation"] = escalation
    document["rules"][0]["severity"] = severity
    config, _ = parse_site(yaml.safe_dump(document, allow_unicode=True), env={})
    return config


@pytest.fixture
def writer(tmp_path: Path, webhook: Webhook) -> Iterator[Writer]:
    running = start_writer(tmp_path / "agent.db", config=site(tmp_path / "agent.db", webhook))
    yield running
    running.stop()
    running.conn.close()


def notifier(config: SiteConfig, clock: Clock) -> Notifier:
    return Notifier(store.connect(config.storage.path), config, clock=clock)


def passes(config: SiteConfig, clock: Clock, *at: float) -> None:
    """A notifier (a fresh process: nothing in memory) running a pass at each instant."""
    running = notifier(config, clock)
    try:
        for now in at:
            clock.now = now
            running.run_once()
    finally:
        running.stop()
        running.conn.close()


def raise_alarm(writer: Writer) -> None:
    writer.submit(temp(-10.0, T0))
    assert writer.flush()


def titles(webhook: Webhook, path: str) -> list[str]:
    return [body["title"].split(":")[0] for body in webhook.bodies(path)]


def test_an_unacknowledged_alarm_escalates_to_the_supervisor(
    tmp_path: Path, webhook: Webhook, writer: Writer
) -> None:
    config = site(tmp_path / "agent.db", webhook, high={"ack_timeout": "2m", "repeat": 0})
    raise_alarm(writer)

    passes(config, Clock(), T0 + 1, T0 + 2 * MINUTE - 1, T0 + 2 * MINUTE, T0 + 60 * MINUTE)

    assert titles(webhook, "/li") == ["[HIGH 高] 报警 Alarm"]
    assert titles(webhook, "/desk") == ["[HIGH 高] 报警 Alarm"]
    assert titles(webhook, "/chen") == ["[HIGH 高] 未确认 Not acknowledged"]


def test_an_acknowledgement_stops_escalation(
    tmp_path: Path, webhook: Webhook, writer: Writer
) -> None:
    config = site(tmp_path / "agent.db", webhook, high={"ack_timeout": "2m", "reminder": None})
    raise_alarm(writer)
    passes(config, Clock(), T0 + 1)
    [alarm_id] = rows(config, "SELECT id FROM alarms WHERE rule = 'freezer-warm'")
    action = ActionRecord(id=1, alarm_id=alarm_id[0], action="ack", by="li", at=T0 + MINUTE)
    writer.submit(SyncAcked({}, [action], [], T0 + MINUTE))
    assert writer.flush()

    passes(config, Clock(), T0 + MINUTE + 1, T0 + 10 * MINUTE, T0 + 600 * MINUTE)

    assert titles(webhook, "/li") == ["[HIGH 高] 报警 Alarm"]
    assert webhook.bodies("/chen") == []


def test_a_restart_does_not_send_a_planned_step_again(
    tmp_path: Path, webhook: Webhook, writer: Writer
) -> None:
    config = site(tmp_path / "agent.db", webhook, high={"ack_timeout": "2m", "repeat": 0})
    raise_alarm(writer)

    for now in (T0 + 1, T0 + 2, T0 + 2 * MINUTE, T0 + 2 * MINUTE + 1, T0 + 60 * MINUTE):
        passes(config, Clock(), now)

    assert len(webhook.bodies("/li")) == 1
    assert len(webhook.bodies("/desk")) == 1
    assert len(webhook.bodies("/chen")) == 1
    assert rows(config, "SELECT who, reason, step FROM notify_intents ORDER BY id") == [
        ("Li", "raised", 0),
        ("supervisor", "escalated", 1),
    ]


def test_low_severity_never_escalates(tmp_path: Path, webhook: Webhook) -> None:
    config = site(tmp_path / "agent.db", webhook, severity="low")
    low = start_writer(tmp_path / "agent.db", config=config)
    raise_alarm(low)
    low.stop()
    low.conn.close()

    passes(config, Clock(), T0 + 29, T0 + 30, T0 + 600 * MINUTE, T0 + 6000 * MINUTE)

    assert titles(webhook, "/li") == ["[LOW 低] 报警 Alarm"]
    assert webhook.bodies("/chen") == []


def test_an_alarm_cleared_before_its_delay_is_never_sent(tmp_path: Path, webhook: Webhook) -> None:
    config = site(tmp_path / "agent.db", webhook, severity="low")
    low = start_writer(tmp_path / "agent.db", config=config)
    low.submit(temp(-10.0, T0))
    low.submit(temp(-20.0, T0 + 10))
    assert low.flush()
    low.stop()
    low.conn.close()

    passes(config, Clock(), T0 + 60, T0 + 600 * MINUTE)

    assert webhook.received == []


def rows(config: SiteConfig, sql: str) -> list[tuple[Any, ...]]:
    with connected(config.storage.path, timeout=30) as conn:
        return conn.execute(sql).fetchall()


def test_a_post_that_is_only_a_group_channel_hears_its_alarms(
    tmp_path: Path, webhook: Webhook
) -> None:
    db = tmp_path / "agent.db"
    document = yaml.safe_load(
        notify_site(db, "mqtt://127.0.0.1:1", member=[], post=[webhook.url("/group")])
    )
    document["posts"][0]["members"] = []
    config, _ = parse_site(yaml.safe_dump(document, allow_unicode=True), env={})
    running = start_writer(db, config=config)
    raise_alarm(running)
    running.stop()
    running.conn.close()

    passes(config, Clock(), T0 + 1, T0 + 31, T0 + 60 * MINUTE)

    # With nobody else to turn to, escalation comes back to the group.
    assert titles(webhook, "/group") == [
        "[HIGH 高] 报警 Alarm",
        "[HIGH 高] 未确认 Not acknowledged",
    ]
