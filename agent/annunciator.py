"""Alarm states on MQTT, for what stands on site: a siren, a stack light, a display at the desk.

Every alarm change is published on ``fw/<site>/alarms/<alarm id>`` at QoS 1, retained, so a device
that connects later learns what is open now. A closed alarm is published once more (state
``normal``, not retained) and its retained message removed, so the broker holds only open alarms.
After every (re)connection the open alarms are published again: a broker that lost its retained
messages (no persistence, replaced) gets the current picture back. It needs no hub: a site cut off
from the head office still drives its local annunciators.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from collector.native import alarm_topic
from collector.timestamps import iso
from rules.alarm import Alarm, AlarmChange

__all__ = ["Annunciator", "alarm_payload"]

log = logging.getLogger(__name__)

# (topic, payload, retain); QoS 1 is the publisher's business.
Publish = Callable[[str, bytes, bool], None]


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso(ts)


def alarm_payload(alarm: Alarm, change: str | None = None) -> bytes:
    """The alarm as the hub's API shows it (ISO 8601 UTC times), with the change that led here."""
    body = {
        "id": alarm.id,
        "rule": alarm.rule,
        "device": alarm.device,
        "metric": alarm.metric,
        "severity": alarm.severity,
        "post": alarm.post,
        "message": alarm.message,
        "state": alarm.state,
        "active": alarm.active,
        "activations": alarm.activations,
        "value": alarm.value,
        "raised_at": _iso(alarm.raised_at),
        "changed_at": _iso(alarm.changed_at),
        "acked_at": _iso(alarm.acked_at),
        "acked_by": alarm.acked_by,
        "cleared_at": _iso(alarm.cleared_at),
        "change": change,
    }
    return json.dumps(body, ensure_ascii=False).encode()


class Annunciator:
    def __init__(self, site: str, publish: Publish) -> None:
        self.site = site
        self.publish = publish
        self.published = 0
        self.failed = 0

    def on_change(self, change: AlarmChange) -> None:
        alarm = change.alarm
        topic = alarm_topic(self.site, alarm.id)
        if alarm.is_open:
            self._send(topic, alarm_payload(alarm, change.kind), retain=True)
            return
        self._send(topic, alarm_payload(alarm, change.kind), retain=False)
        self._send(topic, b"", retain=True)  # an empty retained message deletes the retained one

    def republish(self, open_alarms: Iterable[Alarm]) -> None:
        for alarm in open_alarms:
            self._send(alarm_topic(self.site, alarm.id), alarm_payload(alarm), retain=True)

    def _send(self, topic: str, payload: bytes, *, retain: bool) -> None:
        try:
            self.publish(topic, payload, retain)
            self.published += 1
        except Exception:  # a local siren must never take the agent down
            self.failed += 1
            log.exception("could not publish %s", topic)
