"""The alarm life cycle (ISA-18.2 / OPC UA Part 9), as a value with pure transitions.

An alarm's state is derived from two facts, so the agent and the hub can merge their copies in any
order: ``active`` (the condition, owned by the agent that evaluates the rule) and ``acked`` (an
operator's acknowledgement, which may happen at either end).

    active, not acked  -> unacknowledged
    active, acked      -> acknowledged
    clear, not acked   -> cleared_unacknowledged
    clear, acked       -> normal (closed)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

AlarmState = Literal["unacknowledged", "acknowledged", "cleared_unacknowledged", "normal"]
ChangeKind = Literal["raised", "acked", "cleared", "reraised"]
OPEN_STATES: frozenset[str] = frozenset(
    {"unacknowledged", "acknowledged", "cleared_unacknowledged"}
)


@dataclass(frozen=True, slots=True)
class Alarm:
    id: str
    rule: str
    device: str
    metric: str | None
    severity: str
    post: str | None
    message: str
    raised_at: float
    changed_at: float
    active: bool = True
    # How many times the condition became active; an acknowledgement belongs to one activation.
    activations: int = 1
    value: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    cleared_at: float | None = None

    @property
    def state(self) -> AlarmState:
        if self.active:
            return "unacknowledged" if self.acked_at is None else "acknowledged"
        return "cleared_unacknowledged" if self.acked_at is None else "normal"

    @property
    def is_open(self) -> bool:
        return self.state != "normal"


@dataclass(frozen=True, slots=True)
class AlarmChange:
    alarm: Alarm
    kind: ChangeKind
    at: float
    by: str | None = None


def acknowledge(alarm: Alarm, by: str, at: float) -> Alarm:
    if alarm.acked_at is not None:
        return alarm
    return replace(alarm, acked_at=at, acked_by=by)


def clear(alarm: Alarm, at: float, value: float | None = None) -> Alarm:
    if not alarm.active:
        return alarm
    return replace(alarm, active=False, cleared_at=at, changed_at=at, value=value)


def reraise(alarm: Alarm, at: float, value: float | None) -> Alarm:
    """The condition returned before anyone acknowledged the last one: same alarm, loud again."""
    return replace(
        alarm,
        active=True,
        cleared_at=None,
        changed_at=at,
        value=value,
        activations=alarm.activations + 1,
    )


def realarm(alarm: Alarm, at: float) -> Alarm:
    """Acknowledged long ago and still active: a new activation, unacknowledged, so the ack of
    the old one no longer counts anywhere (``merge`` keeps acks per activation)."""
    return replace(
        alarm,
        changed_at=at,
        acked_at=None,
        acked_by=None,
        activations=alarm.activations + 1,
    )


def merge(ours: Alarm, theirs: Alarm) -> Alarm:
    """Combine two copies of one alarm: the result does not depend on the order of arrival.

    The condition comes from whichever copy saw the later change; the earliest acknowledgement
    of that activation wins. An acknowledgement of an earlier activation does not carry over: a
    person who acknowledged an excursion that had ended has not seen the one that followed.
    """
    newer = max(ours, theirs, key=lambda a: (a.activations, a.changed_at, not a.active))
    acks = [
        a for a in (ours, theirs) if a.acked_at is not None and a.activations == newer.activations
    ]
    first = min(acks, key=lambda a: (a.acked_at or 0.0, a.acked_by or "")) if acks else None
    return replace(
        newer,
        acked_at=first.acked_at if first else None,
        acked_by=first.acked_by if first else None,
    )
