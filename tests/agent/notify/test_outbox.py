"""The outbox in the store: queued in the writer's transaction, planned once, outcomes recorded."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent import store
from agent.notify import outbox
from agent.notify.message import Message
from agent.notify.outbox import Plan, Planned, QueuedChange
from agent.notify.sender import Outcome, target
from tests.agent.writer.test_core import T0, start_writer, temp

HOOK = "json://hook:pw-1234@127.0.0.1:9/li"
MAIL = "mailto://ops:pw-1234@example.org"


def raise_alarm(db: Path) -> None:
    writer = start_writer(db)  # no callback at all: the store alone must carry the change
    writer.submit(temp(-10.0, T0))
    assert writer.flush()
    writer.stop()
    writer.conn.close()


def two_recipients(changes: Sequence[QueuedChange]) -> list[Plan]:
    return [Plan(c.alarm.id, c.kind, _two(c)) for c in changes]


def _two(change: QueuedChange) -> list[Planned]:
    message = Message(f"{change.kind} {change.alarm.rule}", "body", "failure")
    return [
        Planned("Li (cold-store)", target(HOOK), message),
        Planned("desk", target(MAIL), message),
    ]


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    raise_alarm(tmp_path / "agent.db")
    return store.connect(tmp_path / "agent.db")


def test_a_committed_change_is_queued_and_planned_once(conn: sqlite3.Connection) -> None:
    queued = conn.execute("SELECT alarm_id, kind FROM notify_queue").fetchall()
    assert [kind for _, kind in queued] == ["raised"]
    assert outbox.plan(conn, two_recipients, T0 + 1) == 1
    assert outbox.plan(conn, two_recipients, T0 + 2) == 0
    rows = conn.execute(
        "SELECT alarm_id, change, recipient, target, shown, title FROM notifications"
    )
    assert rows.fetchall() == [
        (queued[0][0], "raised", "Li (cold-store)", target(HOOK).fingerprint,
         "json://hook:****@127.0.0.1:9/li", "raised freezer-warm"),
        (queued[0][0], "raised", "desk", target(MAIL).fingerprint,
         "mailto://ops:****@example.org/", "raised freezer-warm"),
    ]  # fmt: skip
    assert conn.execute("SELECT COUNT(*) FROM notify_queue").fetchone()[0] == 0


def test_no_url_and_no_secret_is_stored(conn: sqlite3.Connection) -> None:
    outbox.plan(conn, two_recipients, T0)
    [pending, _] = outbox.due(conn, T0)
    outbox.record(conn, [(pending, Outcome(False, "HTTP 500"), T0 + 30)], T0)
    dump = "\n".join(conn.iterdump())
    assert "pw-1234" not in dump
    assert "127.0.0.1:9/li" in dump  # the redacted form


def test_a_change_that_cannot_be_planned_is_kept_as_failed(conn: sqlite3.Connection) -> None:
    def broken(changes: Sequence[QueuedChange]) -> list[Plan]:
        return [Plan(c.alarm.id, c.kind, error="KeyError: 'post'") for c in changes]

    assert outbox.plan(conn, broken, T0) == 1
    assert outbox.counts(conn) == outbox.Counts(failed=1)
    [problem] = outbox.problems(conn)
    assert problem.last_error == "could not be prepared: KeyError: 'post'"


def test_outcomes_move_notifications_along(conn: sqlite3.Connection) -> None:
    outbox.plan(conn, two_recipients, T0)
    first, second = outbox.due(conn, T0)
    outbox.record(
        conn, [(first, Outcome(False, "HTTP 500"), T0 + 30), (second, Outcome(True), None)], T0
    )
    assert outbox.counts(conn) == outbox.Counts(pending=1, failing=1, delivered=1)
    assert outbox.due(conn, T0 + 29) == []
    assert outbox.next_due(conn) == T0 + 30
    [again] = outbox.due(conn, T0 + 30)
    outbox.record(conn, [(again, Outcome(False, "HTTP 500"), None)], T0 + 30)
    assert outbox.counts(conn) == outbox.Counts(failed=1, delivered=1)
    [problem] = outbox.problems(conn)
    assert (problem.attempts, problem.failed_at, problem.last_error) == (2, T0 + 30, "HTTP 500")
    assert outbox.prune(conn, T0 + 31) == 2


def test_one_url_gets_its_notifications_one_at_a_time_in_order(conn: sqlite3.Connection) -> None:
    def twice(changes: Sequence[QueuedChange]) -> list[Plan]:
        planned = [Planned("Li", target(HOOK), Message(f"#{i}", "", "info")) for i in (1, 2)]
        return [Plan(c.alarm.id, c.kind, planned) for c in changes]

    outbox.plan(conn, twice, T0)
    [first] = outbox.due(conn, T0)
    assert first.title == "#1"
    outbox.record(conn, [(first, Outcome(False, "HTTP 500"), T0 + 30)], T0)
    assert outbox.due(conn, T0 + 10) == []
    assert outbox.next_due(conn) == T0 + 30
    [again] = outbox.due(conn, T0 + 30)
    outbox.record(conn, [(again, Outcome(True), None)], T0 + 30)
    assert [p.title for p in outbox.due(conn, T0 + 30)] == ["#2"]
