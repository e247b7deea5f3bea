"""Time passing and readings arriving: how an excursion rule's state moves, raises and clears."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from rules.excursion.doors import already_open
from rules.excursion.spec import ExcursionRule, Trigger
from rules.excursion.state import DoorEvent, Excursion, ExcursionState, Span, Spans

__all__ = ["fit", "observe", "reset", "rewound", "settle"]


def reset(rule: ExcursionRule, state: ExcursionState, at: float) -> ExcursionState:
    """A person closed the alarm with a disposition (the stock was moved, replaced or released):
    the exposure so far is forgotten and the alarm inactive, so the next trigger raises again."""
    state = fit(rule, state)
    since = tuple(None if s is None else max(s, at) for s in state.since)
    return replace(state, active=False, since=since, spans=((),) * len(since))


def settle(rule: ExcursionRule, state: ExcursionState, now: float) -> ExcursionState:
    """Let time pass to ``now`` with the reading that stands: triggers that come to hold raise, an
    alarm whose triggers stopped holding clears, a reading out of range older than ``max_gap``
    stops standing (the excursion ends). The same object when nothing changed, as when ``now`` is
    before the reading (a tick that raced it)."""
    state = fit(rule, state)
    if state.at is None or state.value is None or now < state.at:
        return state
    stands_until = state.at + rule.max_gap.total_seconds()
    judged = _judge(rule, state, min(now, stands_until), now)
    if now > stands_until and rule.outside(state.value):
        return _expire(rule, judged, stands_until, now)
    return judged


def observe(rule: ExcursionRule, state: ExcursionState, value: float, at: float) -> ExcursionState:
    """A finite reading received at ``at``, from a state already settled at ``at``."""
    state = fit(rule, state)
    runs = [
        _run(rule, trigger, since, spans, value, at)
        for trigger, since, spans in zip(rule.triggers, state.since, state.spans, strict=True)
    ]
    current, done, dropped = state.current, state.done, state.dropped
    if rule.outside(value):
        current = _widen(current, value, at, already_open(rule, state))
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
        state.open_doors,
    )
    return _judge(rule, new, at, at)


def _widen(
    current: Excursion | None, value: float, at: float, doors: tuple[DoorEvent, ...]
) -> Excursion:
    if current is None:
        return Excursion(at, at, value, value, doors=doors)
    lowest, highest = min(current.lowest, value), max(current.highest, value)
    return current._replace(end=at, lowest=lowest, highest=highest)


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


def rewound(rule: ExcursionRule, state: ExcursionState, at: float) -> ExcursionState:
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
    return ExcursionState(
        state.active, None, None, none, spans, None, done, dropped, state.open_doors
    )


def _finish(
    rule: ExcursionRule, state: ExcursionState, excursion: Excursion
) -> tuple[tuple[Excursion, ...], int]:
    done = (*state.done, excursion)
    over = max(0, len(done) - rule.max_unsaved)
    return done[over:], state.dropped + over


def fit(rule: ExcursionRule, state: ExcursionState) -> ExcursionState:
    """A state saved for other triggers (the rule was edited) starts their memory afresh."""
    n = len(rule.triggers)
    if len(state.since) == n and len(state.spans) == n:
        return state
    return replace(state, since=(None,) * n, spans=((),) * n)
