"""The agent's own alarm ``storage_pressure``: the store is thinning readings the hub has not got.

No rule raises it, so the rule engine does not hold it; the retention job does, with the same life
cycle (``rules.alarm``): raised, cleared when the pressure has gone, raised again as a new
activation if it returns before anyone acknowledged it, else as a new alarm. Its id starts with
``agent-`` (a rule's alarms are bare uuid hex, the hub's own ``hub-``); it is stored, synced,
notified and annunciated like any alarm, and an acknowledgement from the hub reaches it through
the writer. Its post (``storage.post``) is the one notified. ``storage_pressure`` is reserved: no
rule of the site may take that id.
"""

from __future__ import annotations

from dataclasses import replace

from collector.size import format_size
from rules.alarm import Alarm, AlarmChange, acknowledge, clear, reraise

__all__ = ["PREFIX", "RULE", "SEVERITY", "acknowledged", "owns", "transition"]

RULE = "storage_pressure"
PREFIX = "agent-"
# High (alarms.md: ~15% of annunciated alarms): data the hub does not hold is losing detail, and
# an alarm or gate event could be the next thing that finds no room.
SEVERITY = "high"


def owns(alarm: Alarm | None, alarm_id: str) -> bool:
    return alarm is not None and alarm.id == alarm_id


def transition(
    held: Alarm | None,
    active: bool,
    *,
    site: str,
    size: int,
    max_size: int,
    now: float,
    new_id: str,
    post: str | None = None,
) -> AlarmChange | None:
    """What happens to ``held`` (the open alarm, if any) when the condition is ``active``."""
    if not active:
        if held is None or not held.active:
            return None
        return AlarmChange(clear(held, now, _share(size, max_size)), "cleared", now)
    if held is None:
        raised = Alarm(
            id=new_id,
            rule=RULE,
            device=site,
            metric=None,
            severity=SEVERITY,
            post=post,
            message=_message(site, size, max_size),
            raised_at=now,
            changed_at=now,
            value=_share(size, max_size),
        )
        return AlarmChange(raised, "raised", now)
    if held.active:
        return None
    again = reraise(held, now, _share(size, max_size))
    return AlarmChange(replace(again, message=_message(site, size, max_size)), "reraised", now)


def acknowledged(held: Alarm, by: str, at: float, activation: int | None) -> AlarmChange | None:
    """An acknowledgement (from the hub) of ``held``; None when it changes nothing."""
    if activation is not None and activation != held.activations:
        return None
    acked = acknowledge(held, by, at)
    return None if acked is held else AlarmChange(acked, "acked", at, by)


def _share(size: int, max_size: int) -> float:
    """Percent of the limit (0 once the limit is gone from the configuration)."""
    return round(100.0 * size / max_size, 1) if max_size > 0 else 0.0


def _message(site: str, size: int, max_size: int) -> str:
    return (
        f"the agent store of site {site} is at {format_size(size)} of {format_size(max_size)}:"
        " readings the hub does not have yet are being reduced to hourly rollups"
    )
