"""When the agent thins its store, and what it thins first: pure functions of what it measured.

Retention runs all the time: raw readings the hub holds that are older than ``keep_raw`` become
hourly rollups, and rollups older than ``keep_rollups`` go. Pressure is the bound on disk: from
``HIGH_WATER`` of ``max_size`` until the store is back under ``LOW_WATER`` (hysteresis, so one
reading more does not start and stop it), the agent thins, oldest first,

1. raw readings the hub already holds (they become local rollups: the hub has every one);
2. only when none is left, unsent raw readings past the next sync batch, which become rollups
   that stand in for them on the wire (``sync.protocol``, the ``rollups`` stream).

The ``storage_pressure`` alarm is active from the first time pressure cannot be relieved by step
1 until the pressure has gone (the store under ``LOW_WATER``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "HIGH_WATER",
    "LOW_WATER",
    "SLICE_ROWS",
    "Backlog",
    "Policy",
    "Step",
    "alarm_active",
    "next_step",
    "under_pressure",
]

HIGH_WATER = 0.9
LOW_WATER = 0.8
# Rows one writer tick may thin: a slice of 2,000 held the writer 50-65 ms (selecting, rolling
# up, deleting, an fsync'd commit) on a busy two-core machine, once a second, while it still
# thins 2,000 readings a second: twenty times what a site of 1,000 devices reporting every
# 10 s makes.
SLICE_ROWS = 2000

Step = Literal["expire_rollups", "expire_raw", "thin_synced", "roll_up_unsent"]


@dataclass(frozen=True, slots=True)
class Policy:
    """``max_size`` in bytes (None: unbounded); ages in seconds; ``protect``: how many unsent
    readings are never rolled up (the next sync batch's worth, see ``agent.retention.job``)."""

    max_size: int | None
    keep_raw: float
    keep_rollups: float
    protect: int = 0
    slice_rows: int = SLICE_ROWS
    high_water: float = HIGH_WATER
    low_water: float = LOW_WATER


@dataclass(frozen=True, slots=True)
class Backlog:
    """What the store holds that a step could thin, as counted this tick."""

    expired_rollups: bool = False
    expired_raw: bool = False
    synced: bool = False
    unsent: bool = False


def under_pressure(policy: Policy, size: int, was: bool) -> bool:
    """Pressure starts at the high-water mark and lasts until the store is under the low one."""
    if policy.max_size is None:
        return False
    mark = policy.low_water if was else policy.high_water
    return size >= policy.max_size * mark


def next_step(pressure: bool, backlog: Backlog) -> Step | None:
    """The one slice to thin this tick: retention first, then what pressure needs, in order."""
    if backlog.expired_rollups:
        return "expire_rollups"
    if backlog.expired_raw:
        return "expire_raw"
    if not pressure:
        return None
    if backlog.synced:
        return "thin_synced"
    if backlog.unsent:
        return "roll_up_unsent"
    return None


def alarm_active(was: bool, pressure: bool, step: Step | None) -> bool:
    """``storage_pressure``: raised when pressure reaches readings the hub does not have (or
    nothing is left to thin), held until the pressure has gone."""
    if not pressure:
        return False
    return was or step in ("roll_up_unsent", None)
