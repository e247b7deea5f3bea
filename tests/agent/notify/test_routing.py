"""Grouping, inhibition and silences between escalation and delivery, observed at a real webhook
on loopback over simulated time; each ``passes`` call is a fresh notifier process."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent import actions, store
from agent.config import SiteConfig, parse_site
from agent.notify import Notifier, outbox, silences
from agent.notify.groups import Group, HeldStep
from agent.notify.routing import Flush, decide
from agent.writer import SyncAcked, Writer
from collector.models import Reading
from rules.alarm import Alarm
from rules.escalation import Intent, Reason
from rules.grouping import Grouping
from rules.muting import Silence
from sync.protocol import ActionRecord
from tests.agent.notify.conftest import Mailbox, Webhook
from tests.agent.notify.test_escalation import Clock, passes, rows, titles
from tests.agent.writer.test_core import T0, start_writer
from tests.support.sqlite import connected

MINUTE = 60.0
HOUR = 3600.0


def site(
    db: Path,
    webhook: Webhook,
    severity: str = "high",
    escalation: dict[str, Any] | None = None,
    **notify: Any,
) -> SiteConfig:
    """Freezers f1 and f2 in the canteen, f9 in the main building, the canteen's mains meter;
    Li on duty for cold-store, Chen its supervisor. High alarms reach Chen only when nobody
    acknowledges within 15 minutes."""
    document = {
        "site": {"id": "clinic", "name": "Test Clinic", "timezone": "Asia/Shanghai"},
        "mqtt": {"url": "mqtt://127.0.0.1:1"},
        "storage": {"path": str(db), "commit_interval": "20ms"},
        "metrics": None,
        "devices": [
            {"id": "f1", "kind": "temperature", "location": {"building": "Canteen"}},
            {"id": "f2", "kind": "temperature", "location": {"building": "Canteen"}},
            {"id": "f9", "kind": "temperature", "location": {"building": "Main"}},
            {"id": "mains", "kind": "power_meter", "location": {"building": "Canteen"}},
        ],
        "posts": [
            {
                "id": "cold-store",
                "members": [{"name": "Li", "notify": [webhook.url("/li")]}],
                "supervisor": {"name": "Chen", "notify": [webhook.url("/chen")]},
                "escalation": escalation or {},
            }
        ],
        "rules": [
            *(
                {
                    "id": f"warm-{d}",
                    "type": "threshold",
                    "device": d,
                    "metric": "temperature",
                    "above": -15,
                    "for": "0s",
                    "severity": severity,
                    "post": "cold-store",
                }
                for d in ("f1", "f2", "f9")
            ),
            # No post: it tells nobody itself; it only mutes what loses power with it.
            {
                "id": "mains-lost",
                "type": "threshold",
                "device": "mains",
                "metric": "power",
                "below": 1,
                "for": "0s",
                "severity": "high",
            },
        ],
        "notify": {"retry_after": "100ms", "retry_cap": "200ms", **notify},
    }
    config, _ = parse_site(yaml.safe_dump(document), env={})
    return config


@pytest.fixture
def config(tmp_path: Path, webhook: Webhook) -> SiteConfig:
    return site(tmp_path / "agent.db", webhook)


@pytest.fixture
def writer(config: SiteConfig) -> Iterator[Writer]:
    running = start_writer(config.storage.path, config=config)
    yield running
    running.stop()
    running.conn.close()


def warm(writer: Writer, device: str, at: float, value: float = -10.0) -> None:
    writer.submit(Reading(device, "temperature", at, value, at))
    assert writer.flush()


def mains(writer: Writer, at: float, watts: float) -> None:
    writer.submit(Reading("mains", "power", at, watts, at))
    assert writer.flush()


def test_alarms_within_the_group_wait_are_one_message(
    config: SiteConfig, webhook: Webhook, writer: Writer
) -> None:
    warm(writer, "f1", T0)
    passes(config, Clock(), T0 + 1)
    warm(writer, "f2", T0 + 10)
    passes(config, Clock(), T0 + 11, T0 + 29)
    assert webhook.bodies("/li") == []

    passes(config, Clock(), T0 + 30, T0 + 60)

    [message] = webhook.bodies("/li")
    assert message["title"] == "[HIGH] Alarms: 2 new — cold-store / Canteen"
    assert "New (2):\n- f1 — f1 temperature above -15 (high, -10 °C)\n- f2 —" in message["message"]
    assert message["type"] == "failure"


def test_another_building_is_another_group(
    config: SiteConfig, webhook: Webhook, writer: Writer
) -> None:
    warm(writer, "f1", T0)
    warm(writer, "f9", T0 + 1)

    # One URL gets one message at a time: the second goes on the next pass.
    passes(config, Clock(), T0 + 2, T0 + 31, T0 + 32, T0 + 33)

    assert titles(webhook, "/li") == ["[HIGH] Alarm", "[HIGH] Alarm"]
    assert sorted(b["title"].rsplit(" ", 1)[-1] for b in webhook.bodies("/li")) == ["-15"] * 2


def test_an_alarm_cleared_within_the_group_wait_is_never_sent(
    config: SiteConfig, webhook: Webhook, writer: Writer
) -> None:
    warm(writer, "f1", T0)
    passes(config, Clock(), T0 + 1)
    warm(writer, "f1", T0 + 10, value=-20.0)

    passes(config, Clock(), T0 + 11, T0 + 31, T0 + 600)

    assert webhook.received == []
    assert rows(config, "SELECT COUNT(*) FROM notify_held") == [(0,)]


def test_a_group_gets_at_most_one_message_per_interval(
    config: SiteConfig, webhook: Webhook, writer: Writer
) -> None:
    warm(writer, "f1", T0)
    passes(config, Clock(), T0 + 1, T0 + 31)  # held at T0 + 1, sent at T0 + 31
    warm(writer, "f2", T0 + 60)

    passes(config, Clock(), T0 + 61, T0 + 330)
    assert titles(webhook, "/li") == ["[HIGH] Alarm"]
    passes(config, Clock(), T0 + 331)

    assert titles(webhook, "/li") == ["[HIGH] Alarm", "[HIGH] Alarms"]
    body = webhook.bodies("/li")[1]["message"]
    assert "New (1):\n- f2 — " in body
    assert "Still active (1):\n- f1 — " in body


def test_a_critical_alarm_goes_at_once(tmp_path: Path, webhook: Webhook) -> None:
    config = site(tmp_path / "agent.db", webhook, severity="critical")
    writer = start_writer(config.storage.path, config=config)
    warm(writer, "f1", T0)
    writer.stop()
    writer.conn.close()

    passes(config, Clock(), T0 + 1)

    assert titles(webhook, "/li") == ["[CRITICAL] Alarm"]


def test_an_unacknowledged_group_is_told_again_after_the_repeat_interval(
    tmp_path: Path, webhook: Webhook
) -> None:
    config = site(tmp_path / "agent.db", webhook, escalation={"high": {"repeat": 0}})
    writer = start_writer(config.storage.path, config=config)
    warm(writer, "f1", T0)
    writer.stop()
    writer.conn.close()

    passes(config, Clock(), T0 + 1, T0 + 31, T0 + 15 * MINUTE, T0 + 15 * MINUTE + 30)
    passes(config, Clock(), T0 + 4 * HOUR + 30)
    assert titles(webhook, "/li") == ["[HIGH] Alarm"]
    passes(config, Clock(), T0 + 4 * HOUR + 31, T0 + 4 * HOUR + 60)

    assert titles(webhook, "/li") == ["[HIGH] Alarm", "[HIGH] Still active"]
    assert titles(webhook, "/chen") == ["[HIGH] Not acknowledged"]


def test_an_acknowledged_alarm_gets_reminders_not_repeats(
    config: SiteConfig, webhook: Webhook, writer: Writer
) -> None:
    warm(writer, "f1", T0)
    passes(config, Clock(), T0 + 1, T0 + 30)
    [[alarm_id]] = rows(config, "SELECT id FROM alarms WHERE rule = 'warm-f1'")
    ack = ActionRecord(id=1, alarm_id=alarm_id, action="ack", by="li", at=T0 + MINUTE)
    writer.submit(SyncAcked({}, [ack], [], T0 + MINUTE))
    assert writer.flush()

    # high: a reminder 4 h after the acknowledgement, to Li, then to Chen 15 minutes later.
    at = T0 + MINUTE + 4 * HOUR
    passes(config, Clock(), T0 + 4 * HOUR + 30, at - 1, at, at + 15 * MINUTE, at + 16 * MINUTE)

    assert titles(webhook, "/li") == ["[HIGH] Alarm", "[HIGH] Still active"]
    assert titles(webhook, "/chen") == ["[HIGH] Still active"]


def test_a_restart_in_the_middle_of_a_group_wait_loses_and_doubles_nothing(
    config: SiteConfig, webhook: Webhook, writer: Writer
) -> None:
    warm(writer, "f1", T0)
    passes(config, Clock(), T0 + 1)  # planned, held; the process ends
    warm(writer, "f2", T0 + 5)
    with connected(config.storage.path) as conn:
        assert outbox.counts(conn) == outbox.Counts(waiting=1)

    for now in (T0 + 10, T0 + 29, T0 + 30, T0 + 31, T0 + 60, T0 + 5 * MINUTE):
        passes(config, Clock(), now)

    [message] = webhook.bodies("/li")
    assert message["title"].startswith("[HIGH] Alarms: 2 new")
    assert rows(config, "SELECT COUNT(*) FROM notify_held") == [(0,)]
    assert rows(config, "SELECT who, reason FROM notify_intents ORDER BY id") == [
        ("Li", "raised"),
        ("Li", "raised"),
    ]


def test_a_lost_mains_mutes_its_building_until_it_returns(tmp_path: Path, webhook: Webhook) -> None:
    inhibit = [{"source": {"rule": "mains-lost"}, "target": {"type": "threshold"}}]
    config = site(tmp_path / "agent.db", webhook, inhibit=inhibit)
    writer = start_writer(config.storage.path, config=config)
    try:
        mains(writer, T0, 0.0)
        warm(writer, "f1", T0 + 5)
        warm(writer, "f9", T0 + 5)  # another building: not behind these mains
        passes(config, Clock(), T0 + 6, T0 + 35, T0 + 10 * MINUTE)
        assert titles(webhook, "/li") == ["[HIGH] Alarm"]
        assert "f9" in webhook.bodies("/li")[0]["title"]
        assert webhook.bodies("/chen") == []  # muted steps do not escalate either

        mains(writer, T0 + 11 * MINUTE, 4000.0)
        passes(config, Clock(), T0 + 11 * MINUTE + 1, T0 + 11 * MINUTE + 31)
    finally:
        writer.stop()
        writer.conn.close()

    assert titles(webhook, "/li") == ["[HIGH] Alarm", "[HIGH] Alarm"]
    assert "f1" in webhook.bodies("/li")[1]["title"]
    # Recorded all along: only the message waited.
    assert rows(config, "SELECT rule, state FROM alarms WHERE rule = 'warm-f1'") == [
        ("warm-f1", "unacknowledged")
    ]


def test_an_inhibition_arriving_within_the_group_wait_holds_the_message(
    tmp_path: Path, webhook: Webhook
) -> None:
    inhibit = [{"source": {"rule": "mains-lost"}, "target": {"device": ["f1"]}, "equal": []}]
    config = site(tmp_path / "agent.db", webhook, inhibit=inhibit)
    writer = start_writer(config.storage.path, config=config)
    try:
        warm(writer, "f1", T0)
        passes(config, Clock(), T0 + 1)  # held, not muted yet
        mains(writer, T0 + 10, 0.0)
        passes(config, Clock(), T0 + 31, T0 + 5 * MINUTE)
        assert webhook.received == []
        mains(writer, T0 + 6 * MINUTE, 4000.0)
        passes(config, Clock(), T0 + 6 * MINUTE + 1)
    finally:
        writer.stop()
        writer.conn.close()

    assert titles(webhook, "/li") == ["[HIGH] Alarm"]


def silence(config: SiteConfig, start: float, end: float, **matchers: str) -> str:
    conn = store.open_store(config.storage.path, config.site.id)
    try:
        found = {k: (v,) for k, v in matchers.items()}
        return silences.add(conn, found, start, end, "li", "defrost", start).id
    finally:
        conn.close()


def test_a_silenced_alarm_is_told_once_the_silence_ends(tmp_path: Path, webhook: Webhook) -> None:
    config = site(tmp_path / "agent.db", webhook, escalation={"high": {"repeat": 0}})
    writer = start_writer(config.storage.path, config=config)
    silence(config, T0 - 1, T0 + HOUR, device="f1")
    warm(writer, "f1", T0)
    warm(writer, "f9", T0)
    writer.stop()
    writer.conn.close()

    passes(config, Clock(), T0 + 1, T0 + 31, T0 + 15 * MINUTE, T0 + 15 * MINUTE + 30)
    assert [b["title"] for b in webhook.bodies("/li")] == [
        "[HIGH] Alarm: f9 — f9 temperature above -15"
    ]
    assert titles(webhook, "/chen") == ["[HIGH] Not acknowledged"]  # f9's second step
    passes(config, Clock(), T0 + HOUR - 1, T0 + HOUR, T0 + HOUR + 30)

    # The silence ended with f1 long unacknowledged: escalation as it stands now, each once.
    assert [b["title"].split(":")[0] for b in webhook.bodies("/li")][1:] == ["[HIGH] Alarm"]
    assert "f1" in webhook.bodies("/li")[1]["title"]
    assert titles(webhook, "/chen") == ["[HIGH] Not acknowledged", "[HIGH] Not acknowledged"]


def test_an_expired_silence_mutes_no_more(
    config: SiteConfig, webhook: Webhook, writer: Writer
) -> None:
    silence_id = silence(config, T0 - 1, T0 + HOUR, building="Canteen")
    warm(writer, "f1", T0)
    passes(config, Clock(), T0 + 1, T0 + 31)
    assert webhook.received == []
    with connected(config.storage.path) as conn:
        silences.expire(conn, silence_id, T0 + MINUTE)

    passes(config, Clock(), T0 + MINUTE + 1, T0 + MINUTE + 31)

    assert titles(webhook, "/li") == ["[HIGH] Alarm"]


def test_a_flood_reaches_the_supervisor_as_one_summary_by_mail(
    tmp_path: Path, webhook: Webhook, mailbox: Mailbox
) -> None:
    flood = {"more_than": 2, "within": "10m", "ends_below": 1}
    config = site(
        tmp_path / "agent.db",
        webhook,
        escalation={"high": {"steps": ["on_duty"], "repeat": 0}, "flood": flood},
    )
    document = config.model_dump(mode="json", by_alias=True, exclude_none=True)
    document["posts"][0]["supervisor"]["notify"] = [mailbox.url("chen@example.org")]
    config = SiteConfig.model_validate(document)
    writer = start_writer(config.storage.path, config=config)
    for i, device in enumerate(("f1", "f2", "f9")):
        warm(writer, device, T0 + i)
    writer.stop()
    writer.conn.close()

    passes(config, Clock(), T0 + 3, T0 + 33, T0 + 34, T0 + 20 * MINUTE, T0 + 3 * HOUR)

    [mail] = mailbox.messages
    assert mail["Subject"] == "[HIGH] Alarm flood: f9 — f9 temperature above -15"
    text = mail.get_body(("plain",))
    assert text is not None
    assert "Alarms: 3" in text.get_content()
    # The steps before the flood began are told, grouped; the one that began it is not.
    [message] = webhook.bodies("/li")
    assert message["title"] == "[HIGH] Alarms: 2 new — cold-store / Canteen"
    assert rows(config, "SELECT who, reason FROM notify_intents WHERE reason = 'flood'") == [
        ("supervisor", "flood")
    ]


# decide, on its own: what a group's turn does with each held step.

A = Alarm("a", "warm-f1", "f1", "temperature", "high", "cold-store", "warm", T0, T0)
B = replace(A, id="b", rule="warm-f2", device="f2")
CLEARED = replace(A, active=False, cleared_at=T0 + 5, changed_at=T0 + 5)
EVENT = replace(A, active=False, cleared_at=T0, changed_at=T0)
CRITICAL_CLEARED = replace(CLEARED, severity="critical")


def step(alarm: Alarm, reason: Reason = "raised", at: float = T0, number: int = 1) -> HeldStep:
    intent = Intent("Li", reason, at, alarm.id, alarm.activations, "cold-store")
    return HeldStep(number, intent, number == 1, at)


def turn(
    held: list[HeldStep],
    alarms: list[Alarm],
    told: tuple[str, ...] = (),
    muted: frozenset[str] = frozenset(),
    now: float = T0 + 30,
    last: float | None = None,
) -> Flush | None:
    group = Group("cold-store", "Li", ("Canteen",), held, last, told)
    return decide(
        group,
        Grouping(),
        {a.id: a for a in alarms},
        lambda alarm: alarm.id in muted,
        lambda alarm: alarm.cleared_at == alarm.raised_at,
        lambda alarm: True,
        True,
        now,
    )


def test_a_step_is_sent_after_the_group_wait() -> None:
    flush = turn([step(A)], [A])
    assert flush is not None
    assert (flush.send, [s.intent.alarm for s in flush.new], flush.told, flush.first) == (
        True,
        ["a"],
        ("a",),
        True,
    )
    assert turn([step(A)], [A], now=T0 + 29) is None


@pytest.mark.parametrize(
    ("alarm", "sent"),
    [
        (CLEARED, False),  # cleared within the wait: dropped
        (EVENT, True),  # an event has nothing to wait for
        (CRITICAL_CLEARED, True),  # never held back, so never "within the wait"
        (replace(A, activations=2), False),  # a later activation has steps of its own
    ],
)
def test_a_step_whose_alarm_moved_on(alarm: Alarm, sent: bool) -> None:
    flush = turn([step(A)], [alarm])
    assert flush is not None
    assert (flush.send, len(flush.steps)) == (sent, 1)


def test_a_muted_step_stays_held_and_counts_for_nothing() -> None:
    assert turn([step(A)], [A], muted=frozenset({"a"})) is None
    flush = turn([step(A), step(B, number=2)], [A, B], muted=frozenset({"a"}))
    assert flush is not None
    assert [s.intent.alarm for s in flush.steps] == ["b"]


def test_a_clearing_goes_to_who_was_told() -> None:
    told = turn([step(CLEARED, "cleared")], [CLEARED], told=("a",), last=T0 - 600)
    untold = turn([step(CLEARED, "cleared")], [CLEARED], last=T0 - 600)
    assert told is not None and untold is not None
    assert (told.send, told.resolved, told.told) == (True, (CLEARED,), ())
    assert (untold.send, len(untold.steps)) == (False, 1)


def test_what_cleared_since_is_news_only_while_the_group_goes_on() -> None:
    gone = replace(CLEARED, id="c")
    going = turn([step(B)], [A, B, gone], told=("a", "c"), last=T0 - 600, now=T0)
    over = turn([step(B)], [B, gone], told=("c",), last=T0 - 600)
    assert going is not None and over is not None
    assert (going.still, going.resolved, going.told) == ((A,), (gone,), ("b", "a"))
    assert (over.still, over.resolved, over.told) == ((), (), ("b",))


def test_a_group_whose_alarms_all_cleared_forgets_them() -> None:
    flush = turn([], [CLEARED], told=("a",), last=T0)
    assert flush == Flush((), False, told=())


def test_silences_that_cannot_be_read_mute_nothing(
    config: SiteConfig, webhook: Webhook, writer: Writer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(now: float) -> list[Silence]:
        raise sqlite3.DatabaseError("database disk image is malformed")

    warm(writer, "f1", T0)
    clock = Clock()
    running = Notifier(
        store.connect(config.storage.path), config, clock=clock, active_silences=broken
    )
    try:
        for clock.now in (T0 + 1, T0 + 31):
            running.run_once()
    finally:
        running.stop()
        running.conn.close()

    assert titles(webhook, "/li") == ["[HIGH] Alarm"]
    assert "silences could not be read; none applied" in caplog.text


@pytest.mark.parametrize(
    ("kind", "until", "note"),
    [
        ("disable", None, "compressor repair"),
        ("suppress", T0 + HOUR, "cleaning"),
        ("shelve", T0 + HOUR, None),
    ],
)
def test_a_rule_shelved_suppressed_or_out_of_service_is_not_announced_until_it_is_back(
    config: SiteConfig,
    webhook: Webhook,
    writer: Writer,
    kind: str,
    until: float | None,
    note: str | None,
) -> None:
    with connected(config.storage.path) as conn:
        rule = actions.Target("warm-f1")
        actions.take(conn, actions.new_action(kind, rule, "Li", T0 - 10, note, until))
    warm(writer, "f1", T0)
    warm(writer, "f9", T0)
    passes(config, Clock(), T0 + 1, T0 + 31)
    assert ["f9" in b["title"] for b in webhook.bodies("/li")] == [True]
    with connected(config.storage.path) as conn:
        back = {"disable": "enable", "suppress": "unsuppress", "shelve": "unshelve"}[kind]
        actions.take(conn, actions.new_action(back, rule, "Li", T0 + MINUTE))

    passes(config, Clock(), T0 + MINUTE + 1, T0 + MINUTE + 31)

    assert ["f1" in b["title"] for b in webhook.bodies("/li")] == [False, True]
