"""What the writer's queue carries: the items one message (or one call) became, and the writer's
counters."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent.downlink import NewConfig
from collector.formats import Availability
from collector.models import AccessEvent, Reading, Rejection
from sync.protocol import ActionRecord, ClockReport

__all__ = ["Ack", "Barrier", "Entry", "Item", "Stats", "SyncAcked", "Tick"]

Ack = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Tick:
    now: float


@dataclass(frozen=True, slots=True)
class SyncAcked:
    """The hub's answer to a sync: stream cursors to keep, actions to apply, reported ones, and
    the clock offset it measured (kept for ``agent status`` and the next batch)."""

    cursors: dict[str, int]
    actions: list[ActionRecord]
    reported: list[int]
    at: float
    clock: ClockReport | None = None


@dataclass(frozen=True, slots=True)
class Barrier:
    """Completes once everything queued before it is committed (tests and shutdown use it)."""

    done: threading.Event


Item = Reading | AccessEvent | Rejection | Availability | Tick | SyncAcked | NewConfig | Barrier
# What one message (or one call) became, and what to run once all of it is committed.
Entry = tuple[Sequence[Item], Ack | None]


@dataclass
class Stats:
    readings: int = 0
    access_events: int = 0
    duplicates: int = 0
    alarm_changes: int = 0
    excursions: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    meter_events: Counter[str] = field(default_factory=Counter)
    commits: int = 0
    commit_seconds: float = 0.0
    retention_errors: int = 0
    retention_seconds: float = 0.0
