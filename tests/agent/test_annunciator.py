"""Alarm states on MQTT for sirens and displays: retained while open, gone when closed."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent import actions, store
from agent.annunciator import Annunciator, alarm_payload
from agent.runtime import Agent
from rules.actions import Action, Standing
from rules.alarm import Alarm, AlarmChange
from tests.support.mosquitto import Broker
from tests.support.site import publish, publisher, site_config
from tests.support.sqlite import scalar
from tests.support.wait import until

T0 = 1_763_900_000.0
RAISED = Alarm(
    id="a1",
    rule="freezer-warm",
    device="freezer-1",
    metric="temperature",
    severity="high",
    post="cold-store",
    message="冷库 too warm",
    raised_at=T0,
    changed_at=T0,
    value=-12.5,
)
CLEARED = replace(RAISED, active=False, cleared_at=T0 + 60, changed_at=T0 + 60, value=-18.0)
CLOSED = replace(CLEARED, acked_at=T0 + 90, acked_by="li")
Sent = list[tuple[str, bytes, bool]]


def collecting() -> tuple[Annunciator, Sent]:
    sent: Sent = []
    return Annunciator("clinic", lambda t, p, r: sent.append((t, p, r))), sent


def test_the_payload_is_the_alarm_as_the_hub_shows_it() -> None:
    body = json.loads(alarm_payload(RAISED, "raised"))
    assert body == {
        "id": "a1",
        "rule": "freezer-warm",
        "device": "freezer-1",
        "metric": "temperature",
        "severity": "high",
        "post": "cold-store",
        "message": "冷库 too warm",
        "state": "unacknowledged",
        "active": True,
        "activations": 1,
        "value": -12.5,
        "raised_at": "2025-11-23T12:13:20.000Z",
        "changed_at": "2025-11-23T12:13:20.000Z",
        "acked_at": None,
        "acked_by": None,
        "cleared_at": None,
        "mode": "in_service",
        "mode_until": None,
        "mode_by": None,
        "change": "raised",
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(AlarmChange(RAISED, "raised", T0), [("unacknowledged", True)], id="raised"),
        pytest.param(
            AlarmChange(CLEARED, "cleared", T0 + 60),
            [("cleared_unacknowledged", True)],
            id="cleared, still open",
        ),
        pytest.param(
            AlarmChange(CLOSED, "acked", T0 + 90, "li"),
            [("normal", False), (None, True)],
            id="closed: announced once, retained message removed",
        ),
    ],
)
def test_open_alarms_are_retained_and_closed_ones_removed(
    change: AlarmChange, expected: list[tuple[str | None, bool]]
) -> None:
    annunciator, sent = collecting()
    annunciator.on_change(change)
    assert {topic for topic, _, _ in sent} == {"fw/clinic/alarms/a1"}
    assert [(json.loads(p)["state"] if p else None, r) for _, p, r in sent] == expected


def test_a_failing_publisher_is_counted_not_raised() -> None:
    def broken(topic: str, payload: bytes, retain: bool) -> None:
        raise OSError("broker socket closed")

    annunciator = Annunciator("clinic", broken, lambda: ([RAISED, CLEARED], {}))
    annunciator.on_change(AlarmChange(RAISED, "raised", T0))
    annunciator.republish()
    assert (annunciator.published, annunciator.failed) == (0, 3)


def test_a_store_that_cannot_be_read_is_logged_and_tried_again() -> None:
    def unreadable() -> Picture:
        raise sqlite3.OperationalError("database is locked")

    sent: Sent = []
    annunciator = Annunciator("clinic", lambda t, p, r: sent.append((t, p, r)), unreadable)
    annunciator.refresh()
    annunciator.republish()
    assert sent == []


Picture = tuple[list[Alarm], dict[str, Standing]]
SHELVE = Action("s1", "shelve", "freezer-warm", "li", T0 + 10, until=T0 + 3600)
SHELVED = Standing("shelved", T0 + 3600, SHELVE)


class Store:
    """What the annunciator's look returns, set by the test."""

    def __init__(self, alarms: list[Alarm], held: dict[str, Standing] | None = None) -> None:
        self.picture: Picture = (alarms, held or {})

    def look(self) -> Picture:
        return self.picture


def modes(sent: Sent) -> list[tuple[str | None, str | None, bool]]:
    return [
        (json.loads(p)["mode"], json.loads(p)["change"], r) if p else (None, None, r)
        for _, p, r in sent
    ]


def test_a_standing_that_moves_is_announced_once_on_the_next_refresh() -> None:
    seen = Store([RAISED])
    sent: Sent = []
    annunciator = Annunciator("clinic", lambda t, p, r: sent.append((t, p, r)), seen.look)
    annunciator.republish()
    annunciator.refresh()  # nothing moved
    seen.picture = ([RAISED], {"freezer-warm": SHELVED})
    annunciator.refresh()
    annunciator.refresh()  # still shelved: nothing new
    seen.picture = ([RAISED], {})  # the shelve ran out
    annunciator.refresh()
    assert modes(sent) == [
        ("in_service", None, True),
        ("shelved", "shelved", True),
        ("in_service", "in_service", True),
    ]
    body = json.loads(sent[1][1])
    assert (body["mode_until"], body["mode_by"]) == ("2025-11-23T13:13:20.000Z", "li")


def test_a_change_carries_the_standing_of_the_last_look() -> None:
    seen = Store([], {"freezer-warm": SHELVED})
    annunciator, sent = collecting()
    annunciator.look = seen.look
    annunciator.refresh()
    annunciator.on_change(AlarmChange(RAISED, "raised", T0))
    seen.picture = ([RAISED], {"freezer-warm": SHELVED})
    annunciator.refresh()  # already announced as shelved: not again
    assert modes(sent) == [("shelved", "raised", True)]


def test_a_closed_alarm_is_forgotten_and_not_announced_again() -> None:
    seen = Store([RAISED])
    annunciator, sent = collecting()
    annunciator.look = seen.look
    annunciator.republish()
    annunciator.on_change(AlarmChange(CLOSED, "acked", T0 + 90, "li"))
    seen.picture = ([], {"freezer-warm": SHELVED})
    annunciator.refresh()
    assert [state for state, _, _ in modes(sent)] == ["in_service", "in_service", None]


class Listener:
    """A local display: keeps the last message per alarm topic, retained ones included."""

    def __init__(self, port: int, site: str) -> None:
        self.last: dict[str, dict[str, Any] | None] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"fw/{site}/alarms/#", qos=1)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.last[message.topic] = json.loads(message.payload) if message.payload else None

    def states(self) -> list[str | None]:
        with self.lock:
            return [body["state"] if body else None for body in self.last.values()]

    def modes(self) -> list[str | None]:
        with self.lock:
            return [body["mode"] if body else None for body in self.last.values()]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def listeners(broker: Broker) -> Iterator[list[Listener]]:
    opened: list[Listener] = []
    yield opened
    for listener in opened:
        listener.close()


def quarantined(db: Path) -> int:
    count: int = scalar(db, "SELECT COUNT(*) FROM quarantine")
    return count


def test_a_display_follows_the_agents_alarms_through_a_real_broker(
    tmp_path: Path, broker: Broker, listeners: list[Listener]
) -> None:
    config = site_config(tmp_path / "agent.db", broker.url, site="annunciate")
    agent = Agent(config)
    agent.start()
    until(lambda: agent.subscriber.connected)
    listeners.append(Listener(broker.port, "annunciate"))
    client = publisher(broker.port)
    publish(client, "fw/annunciate/freezer-1/temperature", {"value": -10})
    until(lambda: listeners[0].states() == ["unacknowledged"])
    listeners.append(Listener(broker.port, "annunciate"))  # connects later: retained
    until(lambda: listeners[1].states() == ["unacknowledged"])
    # Shelved by a person on site (the CLI's path): the display shows it within a tick.
    conn = store.connect(config.storage.path)
    target = actions.Target("freezer-warm")
    actions.take(
        conn, actions.new_action("shelve", target, "li", time.time(), until=time.time() + 600)
    )
    conn.close()
    until(lambda: listeners[0].modes() == ["shelved"])
    publish(client, "fw/annunciate/freezer-1/temperature", {"value": -20})
    until(lambda: listeners[0].states() == ["cleared_unacknowledged"])
    assert listeners[0].modes() == ["shelved"]
    assert agent.writer.flush()
    agent.stop()
    # The broker forgets (a restart without persistence); the next agent puts it back.
    (topic,) = listeners[0].last
    client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    listeners.append(Listener(broker.port, "annunciate"))
    again = Agent(config)
    again.start()
    until(lambda: listeners[2].states() == ["cleared_unacknowledged"])
    again.stop()
    client.disconnect()
    assert quarantined(config.storage.path) == 0  # its own announcements are not read back
