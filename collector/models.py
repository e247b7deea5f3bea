"""What devices produce once parsed: readings, access events and rejections.

Times are UTC unix seconds (float). ``ts`` is the device's own time when the payload carries one,
else the time of receipt; ``received_at`` is always the agent's clock (see devices.md: few devices
send a trustworthy timestamp, so both are kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

Metric = Literal["energy", "power", "water", "temperature", "humidity", "contact", "battery"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    unit: str
    low: float
    high: float
    cumulative: bool = False


# Physically possible ranges: anything outside is a broken probe or a unit mix-up, not a reading.
METRICS: dict[str, MetricSpec] = {
    "energy": MetricSpec("kWh", 0.0, 1e12, cumulative=True),
    "power": MetricSpec("W", -1e9, 1e9),
    "water": MetricSpec("m³", 0.0, 1e12, cumulative=True),
    "temperature": MetricSpec("°C", -100.0, 200.0),
    "humidity": MetricSpec("%", 0.0, 100.0),
    "contact": MetricSpec("", 0.0, 1.0),
    "battery": MetricSpec("%", 0.0, 100.0),
}
CUMULATIVE = frozenset(name for name, spec in METRICS.items() if spec.cumulative)

AccessResult = Literal["granted", "denied"]
Direction = Literal["in", "out"]


class Reading(NamedTuple):
    # A NamedTuple, not a frozen dataclass: a frozen dataclass's __init__ sets each field through
    # object.__setattr__, which made building readings the largest cost of parsing a batch.
    device: str
    metric: str
    ts: float
    value: float
    received_at: float


@dataclass(frozen=True, slots=True)
class AccessEvent:
    device: str
    ts: float
    card: str
    result: AccessResult
    direction: Direction | None
    reason: str | None
    received_at: float


@dataclass(frozen=True, slots=True)
class Rejection:
    """A payload that could not become a reading; kept in quarantine with its reason."""

    topic: str
    payload: bytes
    reason: str
    received_at: float
    device: str | None = None
