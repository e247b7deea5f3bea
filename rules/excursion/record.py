"""A completed excursion as it is kept (coldchain.md: "per excursion, start, end, duration, min,
max, and the door and power events around it"; records are kept 3 years).

The rule holds completed excursions in its state until the writer takes them with ``take`` and
stores them in the transaction that saves the drained state: a crash before the commit rolls both
back, so a record is neither lost nor stored twice, and an excursion going on at a restart goes on
in the saved state.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.excursion.spec import ExcursionRule
from rules.excursion.state import DoorEvent, Excursion, ExcursionState, completed, drained

__all__ = ["ExcursionRecord", "record_of", "take"]


@dataclass(frozen=True, slots=True)
class ExcursionRecord:
    rule: str
    device: str
    metric: str
    start: float  # the agent's clock, as every rule
    end: float
    lowest: float
    highest: float
    ended_by: str  # "range": back in range; "gap": the readings stopped for longer than max_gap
    doors: tuple[DoorEvent, ...] = ()
    doors_dropped: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start


def record_of(rule: ExcursionRule, excursion: Excursion) -> ExcursionRecord:
    return ExcursionRecord(
        rule=rule.id,
        device=rule.device,
        metric=rule.metric,
        start=excursion.start,
        end=excursion.end,
        lowest=excursion.lowest,
        highest=excursion.highest,
        ended_by=excursion.ended_by,
        doors=excursion.doors,
        doors_dropped=excursion.doors_dropped,
    )


def take(
    rule: ExcursionRule, state: ExcursionState
) -> tuple[tuple[ExcursionRecord, ...], ExcursionState]:
    """The completed excursions as records, oldest first, and the state without them."""
    done = completed(state)
    return tuple(record_of(rule, e) for e in done), drained(state, len(done))
