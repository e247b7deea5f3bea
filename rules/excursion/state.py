"""What an excursion rule remembers: the excursion going on, the completed ones the writer has
not yet persisted, and the time each cumulative trigger has counted."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

__all__ = [
    "DoorEvent",
    "Excursion",
    "ExcursionState",
    "Span",
    "Spans",
    "completed",
    "drained",
    "ongoing",
]


class DoorEvent(NamedTuple):
    """A door of the rule's cold room or fridge opened (``open``) or closed (agent clock)."""

    door: str
    at: float
    open: bool


class Excursion(NamedTuple):
    """Time outside the range, from the reading that left it to the one back in range, and the
    door events during it (with the opening of a door already open when it began)."""

    start: float
    end: float  # while it goes on: its latest reading
    lowest: float
    highest: float
    ended_by: str = ""  # "range": back in range; "gap": the readings stopped; "": going on
    doors: tuple[DoorEvent, ...] = ()
    doors_dropped: int = 0  # door events past ``MAX_DOOR_EVENTS``, counted only

    @property
    def duration(self) -> float:
        return self.end - self.start


class Span(NamedTuple):
    """Time beyond a cumulative trigger's limit: ``seconds`` of it between ``start`` and ``end``
    (less than end - start once spans were merged)."""

    start: float
    end: float
    seconds: float


Spans = tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class ExcursionState:
    active: bool = False
    at: float | None = None  # the reading that stands now: when it came
    value: float | None = None  # and its value (None: none stands, after a gap)
    # Per trigger: since when beyond its limit without a break; for cumulative ones, the time
    # beyond it before that, inside its window.
    since: tuple[float | None, ...] = ()
    spans: tuple[Spans, ...] = ()
    current: Excursion | None = None
    done: tuple[Excursion, ...] = ()  # completed, not yet drained by the writer, oldest first
    dropped: int = 0  # completed excursions dropped because ``done`` was full
    open_doors: tuple[tuple[str, float], ...] = ()  # the rule's doors open now, and since when


def completed(state: ExcursionState) -> tuple[Excursion, ...]:
    """The completed excursions the writer has not yet persisted, oldest first."""
    return state.done


def drained(state: ExcursionState, count: int) -> ExcursionState:
    """The state once the writer has persisted the first ``count`` of ``completed(state)``."""
    return replace(state, done=state.done[count:]) if count > 0 else state


def ongoing(state: ExcursionState) -> Excursion | None:
    return state.current
