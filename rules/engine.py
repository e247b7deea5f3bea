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
from dataclasses import dataclass, field, replace
from typing import Any

from collector.models import AccessEvent, Reading
from rules.alarm import Alarm, AlarmChange, acknowledge, clear, close, realarm, reraise
from rules.base import Transition
from rules.kinds import fits, kind_of
from rules.spec import Rule

# A rule's state: a frozen dataclass of its type's module, with at least ``active``.
RuleState = Any
SeriesFn = Callable[[Any, Any, str, Sequence[float], float], tuple[Any, list[Transition]]]


class UnknownAlarm(LookupError):
    """An action names an alarm this engine does not hold open."""


@dataclass
class Engine:
    rules: list[Rule]
    started_at: float
    states: dict[str, RuleState] = field(default_factory=dict)
    alarms: dict[str, Alarm] = field(default_factory=dict)
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex
    _by_id: dict[str, Rule] = field(default_factory=dict)
    _by_device: dict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    _by_reader: dict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    _series_fns: dict[tuple[str, str], tuple[tuple[Rule, SeriesFn], ...]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        for rule in self.rules:
            self._by_id[rule.id] = rule
            for device in {device for device, _ in rule.reads()}:
                self._by_device[device].append(rule)
            for reader in rule.readers():
                self._by_reader[reader].append(rule)
            self.states.setdefault(rule.id, kind_of(rule).initial(rule, self.started_at))
        for alarm in self.alarms.values():
            # A condition that was active before a restart stays active: no second alarm.
            state = self.states[alarm.rule]
            if alarm.active and not state.active:
                self.states[alarm.rule] = replace(state, active=True)

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
            states={k: v for k, v in states.items() if k in known and fits(known[k], v)},
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
        states = self.states
        for rule, series in self._series_for(device, metric):
            state, transitions = series(rule, states[rule.id], metric, values, at)
            states[rule.id] = state
            if transitions:
                changes += self._settle(rule, state, transitions)
        return changes

    def on_access(self, event: AccessEvent) -> list[AlarmChange]:
        changes: list[AlarmChange] = []
        for rule in self._by_reader.get(event.device, ()):
            access = kind_of(rule).access
            if access is not None:
                changes += self._settle(rule, *access(rule, self.states[rule.id], event))
        return changes

    def on_availability(self, device: str, online: bool, at: float) -> list[AlarmChange]:
        """A device's own word that it went offline (or came back)."""
        changes: list[AlarmChange] = []
        for rule in self._by_device.get(device, ()):
            availability = kind_of(rule).availability
            if availability is not None:
                state = self.states[rule.id]
                changes += self._settle(rule, *availability(rule, state, online, at))
        return changes

    def on_tick(self, now: float) -> list[AlarmChange]:
        changes: list[AlarmChange] = []
        for rule in self.rules:
            tick = kind_of(rule).tick
            if tick is not None:
                changes += self._settle(rule, *tick(rule, self.states[rule.id], now))
            changes += self._realarm(rule, now)
        return changes

    def _realarm(self, rule: Rule, now: float) -> list[AlarmChange]:
        alarm = self.alarms.get(rule.id)
        if rule.realarm is None or alarm is None or not alarm.active or alarm.acked_at is None:
            return []
        if now - alarm.acked_at < rule.realarm.total_seconds():
            return []
        again = realarm(alarm, now)
        self.alarms[rule.id] = again
        # "reraised": a new activation, as hubs of every version already understand it.
        return [AlarmChange(again, "reraised", now)]

    def _series_for(self, device: str, metric: str) -> tuple[tuple[Rule, SeriesFn], ...]:
        """The rules reading this series, with their series function (looked up once)."""
        key = (device, metric)
        found = self._series_fns.get(key)
        if found is None:
            found = tuple(
                (rule, fn)
                for rule in self._by_device.get(device, ())
                if any(d == device and m in (None, metric) for d, m in rule.reads())
                and (fn := _series_fn(rule, device)) is not None
            )
            self._series_fns[key] = found
        return found

    def take_records(self, rule_ids: Iterable[str]) -> list[object]:
        """What the states of these rules hold for the agent to keep (a type's ``records``),
        taken out of them. The caller stores it in the transaction that saves the states, and
        reloads both if that rolls back."""
        taken: list[object] = []
        for rule_id in rule_ids:
            rule = self._by_id.get(rule_id)
            take = None if rule is None else kind_of(rule).records
            if rule is None or take is None:
                continue
            found, state = take(rule, self.states[rule_id])
            if found:
                self.states[rule_id] = state
                taken += found
        return taken

    def acknowledge(
        self, alarm_id: str, by: str, at: float, activation: int | None = None
    ) -> AlarmChange | None:
        """Acknowledge an open alarm; None when it already was, or when the acknowledgement
        was given for an earlier activation (see ``rules.alarm.merge``)."""
        rule_id, alarm = self._open(alarm_id)
        if activation is not None and activation != alarm.activations:
            return None
        acked = acknowledge(alarm, by, at)
        if acked is alarm:
            return None
        self._keep(rule_id, acked)
        return AlarmChange(acked, "acked", at, by)

    def close(
        self, alarm_id: str, by: str, at: float, disposition: str, activation: int | None = None
    ) -> list[AlarmChange]:
        """Close a latched alarm with a disposition; nothing when it already was or the
        disposition was for an earlier activation. An alarm still active closes only when its
        rule type can put the condition to rest (``Kind.dispose``: an excursion's exposure is
        forgotten), which clears it first. Raises ``NotClosable`` otherwise."""
        rule_id, alarm = self._open(alarm_id)
        if activation is not None and activation != alarm.activations:
            return []
        changes = []
        rule = self._by_id.get(rule_id)
        dispose = kind_of(rule).dispose if rule is not None else None
        if alarm.active and alarm.latched and rule is not None and dispose is not None:
            state = dispose(rule, self.states[rule_id], at)
            if not state.active:
                self.states[rule_id] = state
                alarm = clear(alarm, at, alarm.value)
                changes.append(AlarmChange(alarm, "cleared", at))
        closed = close(alarm, by, at, disposition)
        if closed is alarm:
            return changes
        self._keep(rule_id, closed)
        return [*changes, AlarmChange(closed, "closed", at, by)]

    def _open(self, alarm_id: str) -> tuple[str, Alarm]:
        for rule_id, alarm in self.alarms.items():
            if alarm.id == alarm_id:
                return rule_id, alarm
        raise UnknownAlarm(alarm_id)

    def _settle(
        self, rule: Rule, state: RuleState, transitions: list[Transition]
    ) -> list[AlarmChange]:
        self.states[rule.id] = state
        return [c for t in transitions for c in self._transition(rule, t)]

    def _transition(self, rule: Rule, t: Transition) -> list[AlarmChange]:
        alarm = self.alarms.get(rule.id)
        if t.active:
            if alarm is None:
                raised = _raise(rule, self.new_id(), t.at, t.value)
                self.alarms[rule.id] = raised
                return [AlarmChange(raised, "raised", t.at)]
            if alarm.active:
                return []
            changed = reraise(alarm, t.at, t.value)
            self._keep(rule.id, changed)
            return [AlarmChange(changed, "reraised", t.at)]
        if alarm is None or not alarm.active:
            return []
        cleared = clear(alarm, t.at, t.value)
        self._keep(rule.id, cleared)
        return [AlarmChange(cleared, "cleared", t.at)]

    def _keep(self, rule_id: str, alarm: Alarm) -> None:
        if alarm.is_open:
            self.alarms[rule_id] = alarm
        else:
            self.alarms.pop(rule_id, None)


def _series_fn(rule: Rule, device: str) -> SeriesFn | None:
    kind = kind_of(rule)
    whose = kind.device_series
    if whose is None:
        return kind.series
    return lambda r, state, metric, values, at: whose(r, state, device, metric, values, at)


def _raise(rule: Rule, alarm_id: str, at: float, value: float | None) -> Alarm:
    return Alarm(
        id=alarm_id,
        rule=rule.id,
        device=rule.device,
        metric=rule.metric,
        severity=rule.severity,
        post=rule.post,
        message=rule.message or rule.describe(),
        raised_at=at,
        changed_at=at,
        value=value,
        latched=rule.latch,
    )
