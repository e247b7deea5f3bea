"""The schedule of a simulated site: its clock and zone, and every door opening planned up front.

The story of the demo (``DEMO_INCIDENT``): about 40 s in, the kitchen freezer door is left open
for four minutes; the freezer warms past −15 °C within two minutes and takes half an hour to pull
back down (shared/reference/coldchain.md: sustained > −15 °C is an alarm for a food freezer).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from collector.simulator.devices import Device, Door

__all__ = [
    "DEMO_INCIDENT",
    "Incident",
    "Interval",
    "Scenario",
    "build_scenario",
    "local_hour",
]

Interval = tuple[float, float]

# How far ahead door openings are planned; the demo is not meant to run for a week.
PLAN_HORIZON_S = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class Incident:
    """A door left open ``at`` s after the start, for ``duration`` s (None: until stopped)."""

    door: str
    at: float
    duration: float | None


@dataclass(frozen=True, slots=True)
class Scenario:
    site: str
    zone: ZoneInfo
    start: float
    interval: float
    incident: Incident | None
    openings: Mapping[str, tuple[Interval, ...]] = field(default_factory=dict)

    def door_open(self, door: str, t: float) -> bool:
        spans = self.openings.get(door, ())
        i = bisect.bisect_right(spans, (t, math.inf)) - 1
        return i >= 0 and spans[i][0] <= t < spans[i][1]

    def next_change(self, door: str, t: float) -> float:
        """The first time after ``t`` at which the door opens or closes."""
        spans = self.openings.get(door, ())
        i = bisect.bisect_right(spans, (t, math.inf))
        edges = [end for _, end in spans[max(i - 1, 0) : i] if end > t]
        edges += [start for start, _ in spans[i : i + 1]]
        return min(edges, default=math.inf)


DEMO_INCIDENT = Incident(door="kitchen-freezer-door", at=40.0, duration=240.0)


def local_hour(t: float, zone: ZoneInfo) -> float:
    moment = datetime.fromtimestamp(t, zone)
    return moment.hour + moment.minute / 60 + moment.second / 3600


def build_scenario(
    devices: Sequence[Device],
    site: str,
    timezone: str,
    start: float,
    seed: int,
    *,
    interval: float = 5.0,
    incident: Incident | None = DEMO_INCIDENT,
) -> Scenario:
    """Plan every door opening up front, so a cold room can ask its door at any time."""
    zone = ZoneInfo(timezone)
    plans: dict[str, tuple[Interval, ...]] = {}
    for door in (d for d in devices if isinstance(d, Door)):
        rng = random.Random(f"{seed}/openings/{door.id}")
        spans = _ordinary_openings(door, start, zone, rng)
        if incident is not None and incident.door == door.id:
            spans = _with_incident(spans, start, incident)
        plans[door.id] = tuple(spans)
    return Scenario(site, zone, start, interval, incident, plans)


def _ordinary_openings(
    door: Door, start: float, zone: ZoneInfo, rng: random.Random
) -> list[Interval]:
    spans: list[Interval] = []
    t = start
    while t < start + PLAN_HORIZON_S:
        night = not 6.0 <= local_hour(t, zone) < 22.0
        t += rng.expovariate(1.0 / door.mean_gap) * (4.0 if night else 1.0)
        length = rng.uniform(*door.open_for)
        spans.append((t, t + length))
        t += length
    return spans


def _with_incident(spans: list[Interval], start: float, incident: Incident) -> list[Interval]:
    """Nobody opens the door before the incident (the freezer is steady); it resumes after."""
    begin = start + incident.at
    if incident.duration is None:
        return [(begin, math.inf)]
    end = begin + incident.duration
    return [(begin, end), *(span for span in spans if span[0] > end)]
