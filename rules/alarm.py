"""The alarm life cycle (ISA-18.2 / OPC UA Part 9), as a value with pure transitions.

An alarm's state is derived from two facts, so the agent and the hub can merge their copies in any
order: ``active`` (the condition, owned by the agent that evaluates the rule) and ``acked`` (an
operator's acknowledgement, which may happen at either end).

    active, not acked  -> unacknowledged
    active, acked      -> acknowledged
    clear, not acked   -> cleared_unacknowledged
    clear, acked       -> normal (closed)

A *latched* alarm (cold-chain excursions: alarms.md, "Latched") does not close by itself: once
its condition clears it stays ``latched`` until a person closes it with a disposition (what was
found and done), which acknowledges it too. A disposition, like an acknowledgement, belongs to one
activation and merges the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

AlarmState = Literal[
    "unacknowledged", "acknowledged", "cleared_unacknowledged", "latched", "normal"
]
ChangeKind = Literal["raised", "acked", "cleared", "reraised", "closed"]
OPEN_STATES: frozenset[str] = frozenset(
    {"unacknowledged", "acknowledged", "cleared_unacknowledged", "latched"}
)


class NotClosable(ValueError):
    """A disposition for an alarm that cannot take one: not latched, or its condition is still
    active (ISA-18.2: a latched alarm is reset only after it returned to normal)."""


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
    latched: bool = False
    closed_at: float | None = None
    closed_by: str | None = None
    disposition: str | None = None

    @property
    def state(self) -> AlarmState:
        if self.active:
            return "unacknowledged" if self.acked_at is None else "acknowledged"
        if self.latched and self.closed_at is None:
            return "latched"
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


def close(alarm: Alarm, by: str, at: float, disposition: str) -> Alarm:
    """Close a latched alarm whose condition has cleared, with what was found and done."""
    if not alarm.latched:
        raise NotClosable(f"alarm {alarm.id} is not latched: acknowledge it instead")
    if alarm.active:
        raise NotClosable(f"alarm {alarm.id} is still active: close it once it has cleared")
    if alarm.closed_at is not None:
        return alarm
    acked = acknowledge(alarm, by, at)
    return replace(acked, closed_at=at, closed_by=by, disposition=disposition)


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
    of that activation wins, and so does the earliest disposition. Neither carries over from an
    earlier activation: a person who acknowledged an excursion that had ended has not seen the
    one that followed.
    """
    newer = max(ours, theirs, key=lambda a: (a.activations, a.changed_at, not a.active))
    both = [a for a in (ours, theirs) if a.activations == newer.activations]
    acks = [a for a in both if a.acked_at is not None]
    ack = min(acks, key=lambda a: (a.acked_at or 0.0, a.acked_by or "")) if acks else None
    closes = [a for a in both if a.closed_at is not None and not newer.active]
    shut = min(closes, key=lambda a: (a.closed_at or 0.0, a.closed_by or "")) if closes else None
    return replace(
        newer,
        acked_at=ack.acked_at if ack else None,
        acked_by=ack.acked_by if ack else None,
        closed_at=shut.closed_at if shut else None,
        closed_by=shut.closed_by if shut else None,
        disposition=shut.disposition if shut else None,
    )
