"""Alarm changes delivered through apprise to real servers on loopback: a webhook (json://) and an
SMTP server (mailto://). Retried, given up, carried across a crash, never leaking a secret."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from agent import store
from agent.cli import main
from agent.config import SiteConfig, parse_site
from agent.notify import Notifier
from agent.runtime import Agent
from agent.writer import Writer
from rules.engine import Engine
from tests.agent.notify.conftest import (
    PASSWORD,
    SMTP_USER,
    Mailbox,
    Webhook,
    notify_config,
    notify_site,
)
from tests.agent.writer.test_core import T0, temp
from tests.support.agent import wait_subscribed
from tests.support.mosquitto import Broker
from tests.support.site import publish, publisher
from tests.support.sqlite import connected
from tests.support.wait import until


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with connected(db, timeout=30) as conn:
        return conn.execute(sql).fetchall()


def delivered(db: Path) -> int:
    return len(rows(db, "SELECT id FROM notifications WHERE delivered_at IS NOT NULL"))


@contextmanager
def writer_and_notifier(config: SiteConfig) -> Iterator[tuple[Writer, Notifier]]:
    """The writer and the notifier as the runtime wires them, without a broker."""
    conn = store.open_store(config.storage.path, config.site.id)
    engine = Engine.restore(
        list(config.rules), T0, store.rule_states(conn), store.open_alarms(conn)
    )
    # The notifier's clock as if it were T0 now: the test alarms are raised then, and escalation
    # would otherwise find them long unacknowledged.
    shift = time.time() - T0
    notifier = Notifier(
        store.connect(config.storage.path), config, clock=lambda: time.time() - shift
    )
    writer = Writer(conn, engine, commit_interval=0.01, on_alarm=notifier.wake)
    writer.start()
    notifier.start()
    try:
        yield writer, notifier
    finally:
        writer.stop()
        notifier.stop()
        conn.close()
        notifier.conn.close()


def scrape(port: int | None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def agent_log(caplog: pytest.LogCaptureFixture) -> str:
    # mail.log is the test's SMTP server, which sees the password by design.
    return "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith("mail")
    )


def test_an_alarm_reaches_a_webhook_and_a_mailbox(
    tmp_path: Path,
    broker: Broker,
    webhook: Webhook,
    mailbox: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "agent.db"
    config = notify_config(
        db,
        broker.url,
        member=[webhook.url("/li")],
        post=[mailbox.url("desk@example.org")],
        site="notify-e2e",
    )
    agent = Agent(config)
    agent.start()
    try:
        until(lambda: agent.subscriber.subscribed)
        reading = {"ts": T0, "value": -9}
        publish(publisher(broker.port), "fw/notify-e2e/freezer-1/temperature", reading)
        until(lambda: delivered(db) == 2)
        metrics = scrape(agent.metrics_port)
    finally:
        agent.stop()

    [post] = webhook.bodies("/li")
    assert post["type"] == "failure"
    assert post["title"] == (
        "[HIGH 高] 报警 Alarm: Kitchen freezer <b> — freezer-1 temperature above -15"
    )
    assert "Value 数值: -9 °C" in post["message"]
    assert "(UTC+08:00, Asia/Shanghai)" in post["message"]
    [mail] = mailbox.messages
    assert mail["To"] == "desk@example.org"
    assert mail["Subject"] == post["title"]
    text = mail.get_body(("plain",))
    assert text is not None
    assert "Site 站点: Test Clinic" in text.get_content()
    assert mailbox.logins == [(SMTP_USER, PASSWORD)]
    assert metrics[("fw_notifications_sent_total", (("scheme", "json"),))] == 1
    assert metrics[("fw_notifications_sent_total", (("scheme", "mailto"),))] == 1
    assert metrics[("fw_notifications_pending", ())] == 0
    assert PASSWORD not in agent_log(caplog)
    assert "notification 1 to json://hook:****@127.0.0.1" in agent_log(caplog)


def test_a_failing_endpoint_is_retried_then_delivered(tmp_path: Path, webhook: Webhook) -> None:
    db = tmp_path / "agent.db"
    config = notify_config(db, "mqtt://127.0.0.1:1", member=[webhook.url("/flaky", 500, 503, 200)])
    with writer_and_notifier(config) as (writer, notifier):
        writer.submit(temp(-10.0, T0))
        until(lambda: delivered(db) == 1)
        assert dict(notifier.stats.retries) == {"json": 2}
        assert dict(notifier.stats.sent) == {"json": 1}
    assert len(webhook.bodies("/flaky")) == 3
    assert rows(db, "SELECT attempts, failed_at FROM notifications") == [(3, None)]


def test_a_permanently_failing_endpoint_is_given_up_and_shown(
    tmp_path: Path, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "agent.db"
    site = tmp_path / "site.yaml"
    text = notify_site(
        db,
        "mqtt://127.0.0.1:1",
        member=[webhook.url("/down", 500)],
        post=[webhook.url("/ok")],
        give_up_after="1s",
    )
    site.write_text(text, encoding="utf-8")
    config, _ = parse_site(text, env={})
    with writer_and_notifier(config) as (writer, notifier):
        writer.submit(temp(-10.0, T0))
        until(
            lambda: (
                rows(db, "SELECT COUNT(*) FROM notifications WHERE failed_at IS NOT NULL") == [(1,)]
            )
        )
        assert dict(notifier.stats.failed) == {"json": 1}
        assert notifier.stats.retries["json"] >= 1

    status = CliRunner().invoke(main, ["agent", "status", str(site)])

    assert status.exit_code == 0, status.output
    assert "notifications: 0 pending (0 failing), 1 failed, 1 delivered" in status.output
    shown = f"json://hook:****@127.0.0.1:{webhook.port}/down"
    [line] = [line for line in status.output.splitlines() if shown in line]
    assert line.startswith("  #1 raised freezer-warm (")
    assert "to Li (cold-store)" in line
    assert "(failed 20" in line
    assert line.endswith("Internal server error., error=500.")
    assert PASSWORD not in status.output
    assert PASSWORD not in agent_log(caplog)
    assert f"notification 1 to {shown} given up after" in agent_log(caplog)


def test_a_change_committed_before_a_crash_is_notified_after_restart(
    tmp_path: Path, webhook: Webhook
) -> None:
    db = tmp_path / "agent.db"
    config = notify_config(db, "mqtt://127.0.0.1:1", member=[webhook.url("/li")])
    conn = store.open_store(db, config.site.id)
    engine = Engine.restore(list(config.rules), T0, {}, [])
    # The process dies right after the commit: no callback ran, no notifier ever saw the change.
    writer = Writer(conn, engine, commit_interval=0.01, on_alarm=None)
    writer.start()
    writer.submit(temp(-10.0, T0))
    assert writer.flush()
    writer.stop()
    conn.close()
    assert rows(db, "SELECT COUNT(*) FROM notifications") == [(0,)]

    with writer_and_notifier(config):
        until(lambda: delivered(db) == 1)
    assert len(webhook.bodies("/li")) == 1


@pytest.mark.parametrize(
    ("changes", "types"),
    [
        (["raised", "reraised"], ["failure"]),
        (["raised", "reraised", "cleared"], ["failure", "success"]),
    ],
)
def test_a_cleared_alarm_is_notified_only_when_asked(
    tmp_path: Path, webhook: Webhook, changes: list[str], types: list[str]
) -> None:
    db = tmp_path / "agent.db"
    config = notify_config(
        db, "mqtt://127.0.0.1:1", member=[webhook.url("/li")], changes=changes, grouping=None
    )
    with writer_and_notifier(config) as (writer, _):
        writer.submit(temp(-10.0, T0))
        writer.submit(temp(-20.0, T0 + 1))
        assert writer.flush()
        until(lambda: delivered(db) == len(types))
    assert [body["type"] for body in webhook.bodies("/li")] == types


def test_an_agent_killed_while_sending_delivers_after_restart(
    tmp_path: Path, broker: Broker, webhook: Webhook
) -> None:
    db = tmp_path / "agent.db"
    site = tmp_path / "site.yaml"
    text = notify_site(db, broker.url, member=[webhook.url("/li")], site="notify-kill")
    site.write_text(text, encoding="utf-8")
    log = tmp_path / "agent.log"
    webhook.hold = hold = threading.Event()  # the first delivery is never answered
    first = _start(site, log)
    wait_subscribed(log)
    publish(publisher(broker.port), "fw/notify-kill/freezer-1/temperature", {"ts": T0, "value": -9})
    assert webhook.arrived.wait(30)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    assert delivered(db) == 0
    webhook.hold = None
    hold.set()

    second = _start(site, log)
    try:
        until(lambda: delivered(db) == 1, timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert len(webhook.bodies("/li")) == 2  # at least once: the first copy may have arrived
    assert PASSWORD not in log.read_text(errors="replace")


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "agent", "agent", "run", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
