"""What every rule type shares: the declared fields, the outcome of an evaluation, and the table of
pure functions (a ``Kind``) through which the engine runs a type it knows nothing else about.

A rule type is one module: a pydantic model for the YAML (a ``RuleBase``), a frozen state, and pure
functions from (rule, state, input, time) to (state, transitions). The engine keeps the states,
turns transitions into alarm changes and persists both; time is always passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import Field

from collector.config import ID_PATTERN, Strict
from collector.duration import Duration
from collector.models import AccessEvent
from rules.schedule import Schedule

Severity = Literal["low", "medium", "high", "critical"]
# A deadband of about 2% of a limit when none is given, so a value hovering at it does not
# chatter (alarms.md): thresholds, rates and after-hours power all clear by it.
DEFAULT_DEADBAND_SHARE = 0.02


class RuleBase(Strict):
    type: str  # each rule type narrows it to its literal tag
    id: str = Field(pattern=ID_PATTERN)
    device: str
    severity: Severity = "medium"
    post: str | None = None
    message: str | None = None
    # The metric an alarm of this rule is about; None: the device as a whole.
    metric: str | None = None
    # ISA-18.2 re-alarm time: an acknowledged alarm still active this long after its
    # acknowledgement becomes unacknowledged again, so it is not forgotten.
    realarm: Duration | None = Field(default=None, alias="realarm_after")
    # ISA-18.2 latching: once cleared, the alarm stays open until closed with a disposition.
    latch: bool = False
    # Suppressed by design (defrost, cleaning, maintenance): still evaluated and recorded, not
    # announced while the schedule is open (alarms.md).
    suppress: Schedule | None = None

    def reads(self) -> list[tuple[str, str | None]]:
        """The (device, metric) series the rule reads; metric None: every metric of the device."""
        return [(self.device, self.metric)]

    def readers(self) -> list[str]:
        """The access readers whose events the rule reads."""
        return []

    def describe(self) -> str:
        """The alarm message when the YAML gives none."""
        return f"{self.id} on {self.device}"


class State(Protocol):
    @property
    def active(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Transition:
    """The rule's condition became active (or stopped being): one alarm change."""

    active: bool
    at: float
    value: float | None = None


R = TypeVar("R", bound=RuleBase)
S = TypeVar("S")
Outcome = tuple[S, list[Transition]]


def flip(old: State, new: State, at: float, value: float | None) -> list[Transition]:
    """The transition between two states, if their condition differs."""
    return [] if old.active == new.active else [Transition(new.active, at, value)]


def momentary(at: float, value: float | None = None) -> list[Transition]:
    """An event alarm (a forced door, a burst of denied swipes): raised and back to normal at
    once, so it stays open, returned to normal, until someone acknowledges it."""
    return [Transition(True, at, value), Transition(False, at, value)]


@dataclass(frozen=True)
class Kind(Generic[R, S]):
    """A rule type as the engine sees it. A missing function: the type ignores that input."""

    rule: type[R]
    state: type[S]
    initial: Callable[[R, float], S]
    series: Callable[[R, S, str, Sequence[float], float], Outcome[S]] | None = None
    # A series that needs to know whose it is (a rule reading several devices): the device
    # comes before the metric. A type gives this or ``series``.
    device_series: Callable[[R, S, str, str, Sequence[float], float], Outcome[S]] | None = None
    tick: Callable[[R, S, float], Outcome[S]] | None = None
    access: Callable[[R, S, AccessEvent], Outcome[S]] | None = None
    availability: Callable[[R, S, bool, float], Outcome[S]] | None = None
    # Rebuild a persisted state from JSON (lists back into tuples); the default takes fields as is.
    load: Callable[[dict[str, Any]], S] | None = None
    # The records a state holds for the agent to keep (completed excursions), and the state
    # without them: the writer stores both in one transaction, so none is lost or kept twice.
    records: Callable[[R, S], tuple[Sequence[object], S]] | None = None
    # A person closed the rule's latched alarm with a disposition while its condition still
    # held (an excursion's cumulative exposure): the state once that is dealt with. Raises
    # rules.alarm.NotClosable when it cannot be yet.
    dispose: Callable[[R, S, float], S] | None = None
