"""Alarm states on MQTT, for what stands on site: a siren, a stack light, a display at the desk.

Every alarm change is published on ``fw/<site>/alarms/<alarm id>`` at QoS 1, retained, so a device
that connects later learns what is open now. A closed alarm is published once more (state
``normal``, not retained) and its retained message removed, so the broker holds only open alarms.
After every (re)connection the open alarms are published again: a broker that lost its retained
messages (no persistence, replaced) gets the current picture back. It needs no hub: a site cut off
from the head office still drives its local annunciators.

The payload carries the rule's standing as the hub's API does (``mode``: in_service, shelved,
suppressed, out_of_service; ``mode_until``; ``mode_by``), so a siren can stay quiet for a shelved
alarm. A standing changes without any alarm change (an operator shelves, a shelve runs out, a
cleaning window begins): ``refresh``, run every tick, republishes each open alarm whose standing
moved, with ``change`` set to the new mode.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence

from collector.native import alarm_topic
from collector.timestamps import iso
from rules.actions import IN_SERVICE, Standing
from rules.alarm import Alarm, AlarmChange

__all__ = ["Annunciator", "alarm_payload"]

log = logging.getLogger(__name__)

# (topic, payload, retain); QoS 1 is the publisher's business.
Publish = Callable[[str, bytes, bool], None]
# The open alarms and every rule's standing, read from the store now.
Look = Callable[[], tuple[Sequence[Alarm], Mapping[str, Standing]]]


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso(ts)


def alarm_payload(
    alarm: Alarm, change: str | None = None, standing: Standing = IN_SERVICE
) -> bytes:
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
        "mode": standing.mode,
        "mode_until": _iso(standing.until),
        "mode_by": standing.action.by if standing.action else None,
        "change": change,
    }
    return json.dumps(body, ensure_ascii=False).encode()


def _shown(standing: Standing) -> tuple[str, float | None, str | None]:
    return standing.mode, standing.until, standing.action.id if standing.action else None


class Annunciator:
    def __init__(self, site: str, publish: Publish, look: Look | None = None) -> None:
        self.site = site
        self.publish = publish
        self.look = look
        self.published = 0
        self.failed = 0
        # on_change (writer thread), refresh (scheduler) and republish (network thread) share
        # what was last announced.
        self._lock = threading.Lock()
        self._held: Mapping[str, Standing] = {}
        self._shown: dict[str, tuple[str, float | None, str | None]] = {}

    def on_change(self, change: AlarmChange) -> None:
        alarm = change.alarm
        topic = alarm_topic(self.site, alarm.id)
        with self._lock:
            # The standings of the last look (at most a tick old), so the writer's thread does
            # no read of its own; refresh corrects within a tick if one moved meanwhile.
            standing = self._held.get(alarm.rule, IN_SERVICE)
            if alarm.is_open:
                self._send(topic, alarm_payload(alarm, change.kind, standing), retain=True)
                self._shown[alarm.id] = _shown(standing)
                return
            self._shown.pop(alarm.id, None)
            self._send(topic, alarm_payload(alarm, change.kind, standing), retain=False)
            # An empty retained message deletes the retained one.
            self._send(topic, b"", retain=True)

    def republish(self) -> None:
        """Every open alarm again (after a reconnection)."""
        self._announce(every=True)

    def refresh(self) -> None:
        """The open alarms whose rule's standing changed since they were last announced."""
        self._announce(every=False)

    def _announce(self, *, every: bool) -> None:
        if self.look is None:
            return
        # The look is taken under the lock: an alarm the writer closes meanwhile is announced
        # closed after this, never left retained as open by a snapshot older than its closing.
        with self._lock:
            try:
                alarms, held = self.look()
            except Exception:  # the store busy or gone: the next tick tries again
                log.exception("could not read the alarms to announce")
                return
            self._held = held
            shown_before, self._shown = self._shown, {}
            for alarm in alarms:
                standing = held.get(alarm.rule, IN_SERVICE)
                shown = self._shown[alarm.id] = _shown(standing)
                if every or shown_before.get(alarm.id, shown) != shown:
                    change = None if every else standing.mode
                    payload = alarm_payload(alarm, change, standing)
                    self._send(alarm_topic(self.site, alarm.id), payload, retain=True)

    def _send(self, topic: str, payload: bytes, *, retain: bool) -> None:
        try:
            self.publish(topic, payload, retain)
            self.published += 1
        except Exception:  # a local siren must never take the agent down
            self.failed += 1
            log.exception("could not publish %s", topic)
