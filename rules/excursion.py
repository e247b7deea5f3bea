"""Cold-chain excursion (issue 4): a temperature outside its range, recorded excursion by excursion,
raising when a WHO-style trigger holds (shared/reference/coldchain.md):

- single event: beyond a limit continuously for ``for`` ("≤ −0.5 °C for 60 min continuous"; a
  freeze with ``for: 0s``, as freezing wants no on-delay);
- cumulative: beyond a limit for ``total`` within the last ``within`` ("> 8 °C for 10 h in total").

A trigger without a limit of its own is beyond when outside the range; a limit must lie on or
beyond the range, so a trigger only ever holds during an excursion.

Time is counted on the agent's clock. A reading stands for its value until the next one, but for no
longer than ``max_gap`` (default 1h: twice coldchain.md's 30-minute logging interval): the rest of a
longer gap is unknown, neither in nor out of range (a missing probe is the stale rule's to see).
Ticks let that time pass, so a probe repeating a value, or gone quiet, raises on time, as readings
would. A gap ends the excursion (``ended_by: gap``) and every continuous run; so does the agent's
clock going back, crediting nothing. Values received together share one time: each counts (an
excursion inside a batch is recorded, lasting 0s).

The alarm is meant to be latched: coldchain.md's response is "label DO NOT USE, keep cold, record,
ask the manufacturer", closed by a person with a disposition (alarms.md, "Latched"). Until the
alarm model has dispositions it raises when a trigger holds and clears once a fresh reading is back
in range and no trigger holds; a cumulative trigger holds until enough of its time leaves the
window. A disposition should call ``reset``: the exposure is forgotten and the alarm inactive, so
the next trigger raises again.

Completed excursions wait in the state (at most ``max_unsaved``; beyond that the oldest are dropped
and counted in ``dropped``). The writer persists ``completed(state)`` (INSERT OR IGNORE, unique on
rule and start) and keeps ``drained(state, n)`` in the transaction that saves the rule state: a
crash loses or repeats nothing. An excursion's ``start`` and ``end`` are the hook for the door and
power events around it; ``ongoing(state)`` is the one still open.

Cumulative time is kept per trigger as spans, those wholly outside the window forgotten, at most
``max_spans``: past that the two closest merge keeping their exact seconds, so a window edge cutting
a merged span may count more time than was out, never less.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal, NamedTuple

from pydantic import Field, field_validator, model_validator

from collector.config import Strict
from collector.duration import Duration, format_duration
from rules.base import Kind, Outcome, RuleBase, Severity, Transition, flip

__all__ = [
    "KIND",
    "Excursion",
    "ExcursionRule",
    "ExcursionState",
    "Span",
    "Trigger",
    "completed",
    "drained",
    "observe",
    "ongoing",
    "reset",
    "settle",
]

# Instants an agent clock can show (1970 to beyond the year 5000): sums of them stay finite.
_EARLIEST, _LATEST = 0.0, 1e11
_LIMITS = ("above", "at_or_above", "below", "at_or_below")


class Trigger(Strict):
    """Beyond one limit (at most one; none: outside the range) for ``for`` continuously, or for
    ``total`` within ``within``."""

    above: float | None = Field(default=None, allow_inf_nan=False)
    at_or_above: float | None = Field(default=None, allow_inf_nan=False)
    below: float | None = Field(default=None, allow_inf_nan=False)
    at_or_below: float | None = Field(default=None, allow_inf_nan=False)
    on_delay: Duration | None = Field(default=None, alias="for")
    total: Duration | None = None
    within: Duration | None = None

    @model_validator(mode="after")
    def _one_limit_one_measure(self) -> Trigger:
        if sum(getattr(self, name) is not None for name in _LIMITS) > 1:
            raise ValueError(f"a trigger takes at most one of {', '.join(_LIMITS)}")
        if (self.on_delay is None) == (self.total is None):
            raise ValueError("a trigger takes 'for' (single event) or 'total' (cumulative)")
        if (self.total is None) != (self.within is None):
            raise ValueError("'total' needs 'within', the window it is counted in")
        if self.total is not None and self.within is not None:
            if self.total <= timedelta(0):
                raise ValueError("'total' must be longer than 0s")
            if self.within < self.total:
                raise ValueError("'within' must be at least as long as 'total'")
        return self

    def beyond(self, value: float, low: float | None, high: float | None) -> bool:
        if self.above is not None:
            return value > self.above
        if self.at_or_above is not None:
            return value >= self.at_or_above
        if self.below is not None:
            return value < self.below
        if self.at_or_below is not None:
            return value <= self.at_or_below
        return (low is not None and value < low) or (high is not None and value > high)

    def describe(self) -> str:
        limit = next(
            (
                f"{n.replace('_', ' ')} {v:g}"
                for n in _LIMITS
                if (v := getattr(self, n)) is not None
            ),
            "out of range",
        )
        if self.total is not None and self.within is not None:
            total, within = format_duration(self.total), format_duration(self.within)
            return f"{limit} for {total} in total within {within}"
        return f"{limit} for {format_duration(self.on_delay or timedelta(0))}"


class ExcursionRule(RuleBase):
    type: Literal["excursion"]
    metric: str = "temperature"
    # coldchain.md: a response is required ("DO NOT USE"), so these are high unless told.
    severity: Severity = "high"
    low: float | None = Field(default=None, allow_inf_nan=False)
    high: float | None = Field(default=None, allow_inf_nan=False)
    triggers: tuple[Trigger, ...] = Field(min_length=1)
    max_gap: Duration = timedelta(hours=1)
    max_spans: int = Field(default=256, ge=1, le=10_000)
    max_unsaved: int = Field(default=64, ge=1, le=10_000)

    @field_validator("max_spans", "max_unsaved", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        # YAML 1.1 reads `max_spans: yes` as true, which int validation would take for 1.
        if isinstance(value, bool):
            raise ValueError("a number, not true or false")
        return value

    @model_validator(mode="after")
    def _fits(self) -> ExcursionRule:
        if self.low is None and self.high is None:
            raise ValueError("an excursion rule needs 'low' or 'high' (e.g. 2 and 8 for vaccines)")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError("'low' must be lower than 'high'")
        if self.max_gap <= timedelta(0):
            raise ValueError("'max_gap' must be longer than 0s")
        for trigger in self.triggers:
            _check_limit(trigger, self.low, self.high)
        return self

    def outside(self, value: float) -> bool:
        return (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        )

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            limits = f"outside {self.low:g} to {self.high:g}"
        else:
            limits = f"below {self.low:g}" if self.low is not None else f"above {self.high:g}"
        triggers = ", or ".join(t.describe() for t in self.triggers)
        return f"{self.device} {self.metric} {limits}: {triggers}"


def _check_limit(trigger: Trigger, low: float | None, high: float | None) -> None:
    """A trigger's limit lies on or beyond the range: it can only hold during an excursion."""
    ups = [(trigger.above, False), (trigger.at_or_above, True)]
    downs = [(trigger.below, False), (trigger.at_or_below, True)]
    for limit, inclusive in ups:
        if limit is not None and (high is None or limit < high or (inclusive and limit == high)):
            raise ValueError(f"a trigger's limit above ({limit:g}) must lie beyond 'high'")
    for limit, inclusive in downs:
        if limit is not None and (low is None or limit > low or (inclusive and limit == low)):
            raise ValueError(f"a trigger's limit below ({limit:g}) must lie beyond 'low'")


class Excursion(NamedTuple):
    """Time outside the range, from the reading that left it to the one back in range."""

    start: float
    end: float  # while it goes on: its latest reading
    lowest: float
    highest: float
    ended_by: str = ""  # "range": back in range; "gap": the readings stopped; "": going on

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


def completed(state: ExcursionState) -> tuple[Excursion, ...]:
    """The completed excursions the writer has not yet persisted, oldest first."""
    return state.done


def drained(state: ExcursionState, count: int) -> ExcursionState:
    """The state once the writer has persisted the first ``count`` of ``completed(state)``."""
    return replace(state, done=state.done[count:]) if count > 0 else state


def ongoing(state: ExcursionState) -> Excursion | None:
    return state.current


def reset(rule: ExcursionRule, state: ExcursionState, at: float) -> ExcursionState:
    """A person closed the alarm with a disposition (the stock was moved, replaced or released):
    the exposure so far is forgotten and the alarm inactive, so the next trigger raises again."""
    state = _fit(rule, state)
    since = tuple(None if s is None else max(s, at) for s in state.since)
    return replace(state, active=False, since=since, spans=((),) * len(since))


def settle(rule: ExcursionRule, state: ExcursionState, now: float) -> ExcursionState:
    """Let time pass to ``now`` with the reading that stands: triggers that come to hold raise, an
    alarm whose triggers stopped holding clears, a reading out of range older than ``max_gap``
    stops standing (the excursion ends). The same object when nothing changed, as when ``now`` is
    before the reading (a tick that raced it)."""
    state = _fit(rule, state)
    if state.at is None or state.value is None or now < state.at:
        return state
    stands_until = state.at + rule.max_gap.total_seconds()
    judged = _judge(rule, state, min(now, stands_until), now)
    if now > stands_until and rule.outside(state.value):
        return _expire(rule, judged, stands_until, now)
    return judged


def observe(rule: ExcursionRule, state: ExcursionState, value: float, at: float) -> ExcursionState:
    """A finite reading received at ``at``, from a state already settled at ``at``."""
    state = _fit(rule, state)
    runs = [
        _run(rule, trigger, since, spans, value, at)
        for trigger, since, spans in zip(rule.triggers, state.since, state.spans, strict=True)
    ]
    current, done, dropped = state.current, state.done, state.dropped
    if rule.outside(value):
        current = _widen(current, value, at)
    elif current is not None:
        done, dropped = _finish(rule, state, current._replace(end=at, ended_by="range"))
        current = None
    new = ExcursionState(
        state.active,
        at,
        value,
        tuple(since for since, _ in runs),
        tuple(spans for _, spans in runs),
        current,
        done,
        dropped,
    )
    return _judge(rule, new, at, at)


def _widen(current: Excursion | None, value: float, at: float) -> Excursion:
    if current is None:
        return Excursion(at, at, value, value)
    return Excursion(current.start, at, min(current.lowest, value), max(current.highest, value))


def _run(
    rule: ExcursionRule,
    trigger: Trigger,
    since: float | None,
    spans: Spans,
    value: float,
    at: float,
) -> tuple[float | None, Spans]:
    if trigger.beyond(value, rule.low, rule.high):
        return (at if since is None else since), spans
    return None, _commit(rule, trigger, spans, since, at, at)


def _judge(rule: ExcursionRule, state: ExcursionState, until: float, now: float) -> ExcursionState:
    """Raise when a trigger holds; clear once a fresh reading is in range and none does. The
    reading stands until ``until``; cumulative windows end at ``now``."""
    if state.at is None or state.value is None:
        return state
    out = rule.outside(state.value)
    fresh = now - state.at <= rule.max_gap.total_seconds()
    if out == state.active or (state.active and not fresh):
        return state  # nothing to raise, or nothing allowed to clear
    holds = any(
        _holds(trigger, since, spans, until, now)
        for trigger, since, spans in zip(rule.triggers, state.since, state.spans, strict=True)
    )
    return state if holds == state.active else replace(state, active=holds)


def _holds(trigger: Trigger, since: float | None, spans: Spans, until: float, now: float) -> bool:
    if trigger.total is None or trigger.within is None:
        delay = (trigger.on_delay or timedelta(0)).total_seconds()
        return since is not None and until - since >= delay
    horizon = now - trigger.within.total_seconds()
    past = sum(max(0.0, min(s.seconds, s.end - max(s.start, horizon))) for s in spans)
    run = 0.0 if since is None else max(0.0, until - max(since, horizon))
    return past + run >= trigger.total.total_seconds()


def _commit(
    rule: ExcursionRule, trigger: Trigger, spans: Spans, since: float | None, end: float, now: float
) -> Spans:
    """The spans once a run beyond a cumulative trigger's limit ended at ``end``."""
    if trigger.within is None or since is None:
        return spans
    horizon = now - trigger.within.total_seconds()
    kept = [s for s in spans if s.end > horizon]
    if end > since:
        if kept and kept[-1].end == since:
            last = kept.pop()
            kept.append(Span(last.start, end, last.seconds + end - since))
        else:
            kept.append(Span(since, end, end - since))
    while len(kept) > rule.max_spans:
        # The two closest spans become one with their exact seconds: only its edges blur.
        i = min(range(len(kept) - 1), key=lambda k: kept[k + 1].start - kept[k].end)
        a, b = kept[i], kept[i + 1]
        merged = Span(min(a.start, b.start), max(a.end, b.end), a.seconds + b.seconds)
        kept[i : i + 2] = [merged]
    return tuple(kept)


def _rewound(rule: ExcursionRule, state: ExcursionState, at: float) -> ExcursionState:
    """A reading from before the one that stands: the agent's clock went back, and the time since
    that reading is unknown."""
    if state.at is None or at >= state.at:
        return state
    return _expire(rule, state, state.at, at)


def _expire(rule: ExcursionRule, state: ExcursionState, end: float, now: float) -> ExcursionState:
    """The reading stops standing at ``end``: runs and the excursion end there."""
    spans = tuple(
        _commit(rule, trigger, spans, since, end, now)
        for trigger, since, spans in zip(rule.triggers, state.since, state.spans, strict=True)
    )
    done, dropped = state.done, state.dropped
    if state.current is not None:
        ended = state.current._replace(end=max(state.current.end, end), ended_by="gap")
        done, dropped = _finish(rule, state, ended)
    none: tuple[float | None, ...] = (None,) * len(rule.triggers)
    return ExcursionState(state.active, None, None, none, spans, None, done, dropped)


def _finish(
    rule: ExcursionRule, state: ExcursionState, excursion: Excursion
) -> tuple[tuple[Excursion, ...], int]:
    done = (*state.done, excursion)
    over = max(0, len(done) - rule.max_unsaved)
    return done[over:], state.dropped + over


def _fit(rule: ExcursionRule, state: ExcursionState) -> ExcursionState:
    """A state saved for other triggers (the rule was edited) starts their memory afresh."""
    n = len(rule.triggers)
    if len(state.since) == n and len(state.spans) == n:
        return state
    return replace(state, since=(None,) * n, spans=((),) * n)


def _plausible(at: float) -> bool:
    return _EARLIEST <= at <= _LATEST  # False for NaN too


def _initial(rule: ExcursionRule, started_at: float) -> ExcursionState:
    return _fit(rule, ExcursionState())


def _series(
    rule: ExcursionRule, state: ExcursionState, metric: str, values: Sequence[float], at: float
) -> Outcome[ExcursionState]:
    transitions: list[Transition] = []
    if not _plausible(at):
        return state, transitions
    state = _fit(rule, state)
    for value in values:
        if not math.isfinite(value):
            continue  # a probe's fault code, no word about the temperature
        # Two steps, so a trigger that came to hold before this reading raises even if the
        # reading brings the value back.
        passed = settle(rule, _rewound(rule, state, at), at)
        new = observe(rule, passed, value, at)
        transitions += flip(state, passed, at, state.value) + flip(passed, new, at, value)
        state = new
    return state, transitions


def _tick(rule: ExcursionRule, state: ExcursionState, now: float) -> Outcome[ExcursionState]:
    if not _plausible(now):
        return state, []
    new = settle(rule, state, now)
    return new, flip(state, new, now, state.value)


def _load(data: dict[str, Any]) -> ExcursionState:
    # JSON gives lists back for the tuples and the records.
    current = data.get("current")
    return ExcursionState(
        active=data["active"],
        at=data.get("at"),
        value=data.get("value"),
        since=tuple(data.get("since", ())),
        spans=tuple(tuple(Span(*s) for s in spans) for spans in data.get("spans", ())),
        current=None if current is None else Excursion(*current),
        done=tuple(Excursion(*e) for e in data.get("done", ())),
        dropped=data.get("dropped", 0),
    )


KIND = Kind(ExcursionRule, ExcursionState, _initial, series=_series, tick=_tick, load=_load)
