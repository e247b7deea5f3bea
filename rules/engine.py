"""Evaluates a site's rules against readings and the passing of time, and keeps its alarms.

The engine is single-threaded and deterministic: time comes in with every call, alarm ids from an
injected factory. Rules run on the agent's clock (a reading's ``received_at``), the same clock the
ticks use: device clocks drift or lie (devices.md), and an on-delay measured across two clocks is
wrong by their difference. The agent owns one engine in its writer thread and persists what it
returns.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from collector.duration import format_duration
from collector.models import Reading
from rules import stale, threshold
from rules.alarm import Alarm, AlarmChange, acknowledge, clear, reraise
from rules.spec import Rule, StaleRule, ThresholdRule

RuleState = threshold.ThresholdState | stale.StaleState


class UnknownAlarm(LookupError):
    """An action names an alarm this engine does not hold open."""


@dataclass
class Engine:
    rules: list[Rule]
    started_at: float
    states: dict[str, RuleState] = field(default_factory=dict)
    alarms: dict[str, Alarm] = field(default_factory=dict)
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex
    _by_device: dict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    _by_series: dict[tuple[str, str], tuple[Rule, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rule in self.rules:
            self._by_device[rule.device].append(rule)
            self.states.setdefault(rule.id, _initial(rule, self.started_at))
        for alarm in self.alarms.values():
            # A condition that was active before a restart stays active: no second alarm.
            state = self.states[alarm.rule]
            if alarm.active and not state.active:
                self.states[alarm.rule] = _mark_active(state)

    @classmethod
    def restore(
        cls,
        rules: list[Rule],
        started_at: float,
        states: Mapping[str, RuleState],
        open_alarms: Iterable[Alarm],
    ) -> Engine:
        known = {rule.id: rule for rule in rules}
        return cls(
            rules=rules,
            started_at=started_at,
            # A rule whose type changed under the same id starts afresh.
            states={k: v for k, v in states.items() if k in known and _fits(known[k], v)},
            alarms={a.rule: a for a in open_alarms if a.rule in known},
        )

    def on_reading(self, reading: Reading) -> list[AlarmChange]:
        return self.on_series(reading.device, reading.metric, (reading.value,), reading.received_at)

    def on_series(
        self, device: str, metric: str, values: Sequence[float], at: float
    ) -> list[AlarmChange]:
        """Readings of one metric of one device received together (one message, or one batch of
        a device's buffered readings), in order. Each value is evaluated, so a breach inside a
        batch is not hidden by a normal last value; the device is seen once."""
        changes: list[AlarmChange] = []
        if not values:
            return changes
        for rule in self._rules_for(device, metric):
            if isinstance(rule, ThresholdRule):
                changes.extend(self._run_threshold(rule, values, at))
            else:
                state = stale.seen(_stale(self.states[rule.id]), at)
                changes.extend(self._apply(rule, state, at, values[-1]))
        return changes

    def _run_threshold(
        self, rule: ThresholdRule, values: Sequence[float], at: float
    ) -> list[AlarmChange]:
        final, transitions = threshold.evaluate_series(
            rule, _threshold(self.states[rule.id]), values, at
        )
        changes = [c for state, value in transitions for c in self._apply(rule, state, at, value)]
        self.states[rule.id] = final
        return changes

    def _rules_for(self, device: str, metric: str) -> tuple[Rule, ...]:
        key = (device, metric)
        rules = self._by_series.get(key)
        if rules is None:
            rules = tuple(
                rule
                for rule in self._by_device.get(device, ())
                if rule.metric is None or rule.metric == metric
            )
            self._by_series[key] = rules
        return rules

    def on_availability(self, device: str, online: bool, at: float) -> list[AlarmChange]:
        """A device's own word that it went offline (or came back) drives its stale rules."""
        changes: list[AlarmChange] = []
        for rule in self._by_device.get(device, ()):
            if isinstance(rule, StaleRule):
                state = stale.availability(rule, _stale(self.states[rule.id]), online, at)
                changes.extend(self._apply(rule, state, at, None))
        return changes

    def on_tick(self, now: float) -> list[AlarmChange]:
        changes: list[AlarmChange] = []
        for rule in self.rules:
            current = self.states[rule.id]
            if isinstance(rule, ThresholdRule):
                state: RuleState = threshold.tick(rule, _threshold(current), now)
                value = _threshold(current).last_value
            else:
                state, value = stale.tick(rule, _stale(current), now), None
            changes.extend(self._apply(rule, state, now, value))
        return changes

    def acknowledge(
        self, alarm_id: str, by: str, at: float, activation: int | None = None
    ) -> AlarmChange | None:
        """Acknowledge an open alarm; None when it already was, or when the acknowledgement
        was given for an earlier activation (see ``rules.alarm.merge``)."""
        for rule_id, alarm in self.alarms.items():
            if alarm.id == alarm_id:
                if activation is not None and activation != alarm.activations:
                    return None
                acked = acknowledge(alarm, by, at)
                if acked is alarm:
                    return None
                self._keep(rule_id, acked)
                return AlarmChange(acked, "acked", at, by)
        raise UnknownAlarm(alarm_id)

    def _apply(
        self, rule: Rule, state: RuleState, at: float, value: float | None
    ) -> list[AlarmChange]:
        was = self.states[rule.id].active
        self.states[rule.id] = state
        if state.active == was:
            return []
        alarm = self.alarms.get(rule.id)
        if state.active:
            if alarm is not None:
                changed = reraise(alarm, at, value)
                self._keep(rule.id, changed)
                return [AlarmChange(changed, "reraised", at)]
            raised = _raise(rule, self.new_id(), at, value)
            self.alarms[rule.id] = raised
            return [AlarmChange(raised, "raised", at)]
        if alarm is None:
            return []
        cleared = clear(alarm, at, value)
        self._keep(rule.id, cleared)
        return [AlarmChange(cleared, "cleared", at)]

    def _keep(self, rule_id: str, alarm: Alarm) -> None:
        if alarm.is_open:
            self.alarms[rule_id] = alarm
        else:
            self.alarms.pop(rule_id, None)


def _initial(rule: Rule, started_at: float) -> RuleState:
    if isinstance(rule, StaleRule):
        return stale.StaleState(last_seen=started_at)
    return threshold.ThresholdState()


def _fits(rule: Rule, state: RuleState) -> bool:
    return isinstance(rule, StaleRule) == isinstance(state, stale.StaleState)


def _mark_active(state: RuleState) -> RuleState:
    if isinstance(state, stale.StaleState):
        return stale.StaleState(state.last_seen, active=True)
    return threshold.ThresholdState(active=True, last_value=state.last_value)


def _threshold(state: RuleState) -> threshold.ThresholdState:
    assert isinstance(state, threshold.ThresholdState)
    return state


def _stale(state: RuleState) -> stale.StaleState:
    assert isinstance(state, stale.StaleState)
    return state


def _raise(rule: Rule, alarm_id: str, at: float, value: float | None) -> Alarm:
    metric = rule.metric
    return Alarm(
        id=alarm_id,
        rule=rule.id,
        device=rule.device,
        metric=metric,
        severity=rule.severity,
        post=rule.post,
        message=rule.message or _describe(rule),
        raised_at=at,
        changed_at=at,
        value=value,
    )


def _describe(rule: Rule) -> str:
    if isinstance(rule, StaleRule):
        return f"no data from {rule.device} for {format_duration(rule.after)}"
    limits = [
        f"above {rule.above:g}" if rule.above is not None else "",
        f"below {rule.below:g}" if rule.below is not None else "",
    ]
    return f"{rule.device} {rule.metric} {' or '.join(x for x in limits if x)}"
