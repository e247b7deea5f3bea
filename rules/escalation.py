"""Escalation: whom to tell about an alarm and when, as a pure function of its history and time.

Each severity has a chain of steps (PagerDuty, Grafana OnCall; ``shared/reference/alarms.md``):
the first step falls due ``delay`` after an activation (a raise, reraise or re-alarm), each next
one ``ack_timeout`` later while nobody acknowledges, and the chain runs ``repeat`` more times (at
most 5, as OnCall allows). A step names targets: ``on_duty`` (the roster's people at that moment),
``next_on_duty`` (who comes on at the next handover), ``post`` (every member) and ``supervisor``.
A step that finds nobody goes to the supervisor, and a post without one hands the supervisor's
messages to every member: an alarm must reach someone.

An acknowledgement stops the chain. An alarm still active ``reminder`` after its acknowledgement
goes through the steps once more (reason ``reminder``), and again every ``reminder`` until it
clears. A rule's ``realarm_after`` is the stronger tool: a new, unacknowledged activation that
runs the whole chain again and that only a new acknowledgement stops.

Clearing ends the chain too, and whoever was told about the activation is told it cleared. An
event alarm (a forced door: active and cleared at the same instant) has nothing to clear, so it
escalates until someone acknowledges it.

Flood guard: more than ``more_than`` activations of one post's alarms within ``within`` begin a
flood, which ends once fewer than ``ends_below`` are left in the window (ISA-18.2: >10 and <5 per
10 minutes; a sliding window, not the review's fixed ones). A flood is announced once, to the
supervisor, and every other message that would fall due during it is left out.

``due`` is deterministic and idempotent. An intent carries the instant it fell due, and whom it
names is read from the roster at that instant, not at ``now``; given what was sent, ``due``
returns what is due at ``now`` and not sent yet, so recording its answer silences it until the
next step. When several steps of one alarm fall due at once for one person (the notifier was
down), only the latest is sent.

YAML (a post's ``escalation:``; a severity or field not written keeps its default, ``LEVELS``)::

    escalation:
      critical: {ack_timeout: 3m, steps: [on_duty, [on_duty, supervisor]]}
      low: {reminder: 8h}
      flood: {more_than: 10, within: 10m, ends_below: 5, notify: [on_duty, supervisor]}
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta, tzinfo
from typing import Annotated, Literal, NamedTuple

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from collector.config import Strict
from collector.duration import Duration
from rules.alarm import Alarm, AlarmChange
from rules.roster import Roster, next_on_duty, on_duty

__all__ = [
    "LEVELS",
    "SUPERVISOR",
    "Escalation",
    "EscalationPolicy",
    "Flood",
    "Intent",
    "Reason",
    "Target",
    "due",
]

Target = Literal["on_duty", "next_on_duty", "post", "supervisor"]
Reason = Literal["raised", "reraised", "escalated", "reminder", "cleared", "flood"]
SUPERVISOR = "supervisor"
ACTIVATING = frozenset({"raised", "reraised"})
INFINITY = float("inf")


def _listed(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


# One target or a list of them, notified together.
Step = Annotated[tuple[Target, ...], BeforeValidator(_listed), Field(min_length=1)]
Positive = Annotated[Duration, AfterValidator(_positive)]


class Escalation(Strict):
    steps: tuple[Step, ...] = Field(min_length=1)
    ack_timeout: Positive = timedelta(minutes=15)
    repeat: int = Field(default=0, ge=0, le=5)
    # Before the first step (Alertmanager's group_wait): an alarm that clears or is acknowledged
    # sooner is never sent.
    delay: Duration = timedelta(0)
    reminder: Positive | None = None


class Flood(Strict):
    more_than: int = Field(default=10, ge=1)
    within: Positive = timedelta(minutes=10)
    ends_below: int = Field(default=5, ge=1)
    notify: Step = ("supervisor",)

    @model_validator(mode="after")
    def _hysteresis(self) -> Flood:
        if self.ends_below > self.more_than:
            raise ValueError(f"ends_below ({self.ends_below}) is above more_than")
        return self


# The defaults (alarms.md, "Escalation"); a post's YAML overrides them field by field.
LEVELS: dict[str, dict[str, object]] = {
    "critical": {
        "steps": ["on_duty", "supervisor"],
        "ack_timeout": "5m",
        "repeat": 3,
        "reminder": "1h",
    },
    "high": {
        "steps": ["on_duty", "supervisor"],
        "ack_timeout": "15m",
        "repeat": 2,
        "reminder": "4h",
    },
    "medium": {
        "steps": ["on_duty", "supervisor"],
        "ack_timeout": "30m",
        "delay": "30s",
        "reminder": "4h",
    },
    "low": {"steps": ["on_duty"], "delay": "30s"},
}


class EscalationPolicy(Strict):
    critical: Escalation = Escalation.model_validate(LEVELS["critical"])
    high: Escalation = Escalation.model_validate(LEVELS["high"])
    medium: Escalation = Escalation.model_validate(LEVELS["medium"])
    low: Escalation = Escalation.model_validate(LEVELS["low"])
    flood: Flood | None = Flood()

    @model_validator(mode="before")
    @classmethod
    def _over_defaults(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            return value
        return {
            key: {**LEVELS[key], **given} if key in LEVELS and isinstance(given, Mapping) else given
            for key, given in value.items()
        }

    def level(self, severity: str) -> Escalation:
        """An unknown severity is treated as critical: better a message too many than none."""
        levels = {
            "critical": self.critical,
            "high": self.high,
            "medium": self.medium,
            "low": self.low,
        }
        return levels.get(severity, self.critical)


@dataclass(frozen=True, slots=True)
class Intent:
    """Tell ``who`` (a member's name, or ``SUPERVISOR``) about ``alarm`` because of ``reason``,
    due at ``at``. ``run`` 0 is the escalation of the activation, ``run`` n its nth reminder;
    ``step`` counts the run's steps, repeats included. A flood's intent names the alarm whose
    activation began it, and lists the alarms in the window then."""

    who: str
    reason: Reason
    at: float
    alarm: str
    activation: int
    post: str | None
    run: int = 0
    step: int = 0
    alarms: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str | int | None, ...]:
        """What identifies the intent among those sent; not ``at``, which a changed policy
        would move."""
        return (self.post, self.alarm, self.activation, self.reason, self.run, self.step, self.who)


@dataclass(frozen=True, slots=True)
class _Activation:
    alarm: Alarm
    start: float
    cleared_at: float | None

    @property
    def event(self) -> bool:
        return self.cleared_at == self.start


def _latest(history: Sequence[AlarmChange]) -> _Activation:
    """The alarm's current activation. Without the change that began it in the history, its
    start is read from the alarm itself, which knows it only while active or for the first."""
    alarm = history[-1].alarm
    starts = [
        c.at for c in history if c.kind in ACTIVATING and c.alarm.activations == alarm.activations
    ]
    first = alarm.raised_at if alarm.activations == 1 else alarm.changed_at
    cleared = None if alarm.active else alarm.cleared_at
    return _Activation(alarm, starts[-1] if starts else first, cleared)


@dataclass(frozen=True, slots=True)
class _Crew:
    roster: Roster | None
    members: tuple[str, ...]
    tz: tzinfo
    supervisor: bool

    def resolve(self, targets: Iterable[Target], at: float) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(n for t in targets for n in self._one(t, at)))
        return names or tuple(self._one("supervisor", at))

    def _one(self, target: Target, at: float) -> Sequence[str]:
        if target == "on_duty":
            return on_duty(self.roster, self.members, self.tz, at)
        if target == "next_on_duty":
            handover = next_on_duty(self.roster, self.members, self.tz, at)
            now = on_duty(self.roster, self.members, self.tz, at)
            return [] if handover is None else [m for m in handover.members if m not in now]
        if target == "post" or not self.supervisor:
            return self.members
        return (SUPERVISOR,)


class _Position(NamedTuple):
    run: int
    step: int
    at: float
    reason: Reason
    targets: tuple[Target, ...]


def _positions(act: _Activation, level: Escalation, now: float) -> list[_Position]:
    """The steps of the activation's current run that are due at ``now``, in order."""
    wait = level.ack_timeout.total_seconds()
    alarm = act.alarm
    if alarm.acked_at is None and (alarm.active or act.event):
        first = act.start + level.delay.total_seconds()
        count = len(level.steps) * (level.repeat + 1)
        opening: Reason = "raised" if alarm.activations == 1 else "reraised"
        return [
            _Position(
                0, k, at, opening if k == 0 else "escalated", level.steps[k % len(level.steps)]
            )
            for k in range(count)
            if (at := first + k * wait) <= now
        ]
    if alarm.acked_at is None or not alarm.active or level.reminder is None:
        return []
    every = level.reminder.total_seconds()
    run = int((now - alarm.acked_at) // every)
    begins = alarm.acked_at + run * every
    return [
        _Position(run, k, at, "reminder", step)
        for k, step in enumerate(level.steps)
        if run >= 1 and (at := begins + k * wait) <= now
    ]


class _Flood(NamedTuple):
    start: float
    end: float
    alarm: str
    activation: int
    post: str | None
    alarms: tuple[str, ...]


def _floods(histories: Sequence[Sequence[AlarmChange]], flood: Flood | None) -> list[_Flood]:
    if flood is None:
        return []
    hits = sorted(
        (c.at, c.alarm.id, c.alarm.activations, c.alarm.post)
        for history in histories
        for c in history
        if c.kind in ACTIVATING
    )
    window = flood.within.total_seconds()
    recent: deque[tuple[float, str, int, str | None]] = deque()
    floods: list[_Flood] = []
    begun: _Flood | None = None
    for hit in [*hits, (INFINITY, "", 0, None)]:  # the last one only empties the window
        while recent and recent[0][0] + window <= hit[0]:
            gone = recent.popleft()
            if begun is not None and len(recent) < flood.ends_below:
                floods.append(begun._replace(end=gone[0] + window))
                begun = None
        recent.append(hit)
        if begun is None and len(recent) > flood.more_than:
            at, alarm, activation, post = hit
            alarms = tuple(dict.fromkeys(h[1] for h in recent))
            begun = _Flood(at, INFINITY, alarm, activation, post, alarms)
    return floods


def _muted(at: float, floods: Sequence[_Flood]) -> bool:
    return any(f.start <= at < f.end for f in floods)


def _pages(
    act: _Activation, level: Escalation, crew: _Crew, floods: Sequence[_Flood], now: float
) -> list[Intent]:
    """The latest due step for each person: earlier ones are stale once a later one is due."""
    latest: dict[str, Intent] = {}
    alarm = act.alarm
    for p in _positions(act, level, now):
        if not _muted(p.at, floods):
            for who in crew.resolve(p.targets, p.at):
                latest[who] = Intent(
                    who, p.reason, p.at, alarm.id, alarm.activations, alarm.post, p.run, p.step
                )
    return list(latest.values())


def _cleared(act: _Activation, sent: Sequence[Intent], floods: Sequence[_Flood]) -> list[Intent]:
    alarm, at = act.alarm, act.cleared_at
    if at is None or act.event or _muted(at, floods):
        return []
    told = dict.fromkeys(
        i.who
        for i in sent
        if i.alarm == alarm.id
        and i.activation == alarm.activations
        and i.reason not in ("cleared", "flood")
    )
    return [Intent(who, "cleared", at, alarm.id, alarm.activations, alarm.post) for who in told]


def _announce(flood: _Flood, crew: _Crew, notify: Iterable[Target]) -> list[Intent]:
    return [
        Intent(
            who,
            "flood",
            flood.start,
            flood.alarm,
            flood.activation,
            flood.post,
            alarms=flood.alarms,
        )
        for who in crew.resolve(notify, flood.start)
    ]


def due(
    histories: Iterable[Sequence[AlarmChange]],
    policy: EscalationPolicy,
    roster: Roster | None,
    members: Sequence[str],
    tz: tzinfo,
    sent: Iterable[Intent],
    now: float,
    *,
    supervisor: bool = True,
) -> list[Intent]:
    """What to send at ``now`` about one post's alarms, given what was ``sent`` already.

    ``histories`` holds, per alarm, its changes in the order they were made (the last one is its
    current state), for every alarm of the post that is open or changed within the flood window
    (a closed alarm still owes a ``cleared``); ``sent`` the intents sent about them, at least
    since their current activations began. ``supervisor``: whether the post has one."""
    histories = [h for h in histories if h]
    sent = list(sent)
    done = {i.key for i in sent}
    crew = _Crew(roster, tuple(dict.fromkeys(members)), tz, supervisor)
    floods = _floods(histories, policy.flood)
    notify = policy.flood.notify if policy.flood else ()
    intents = [i for f in floods if f.start <= now for i in _announce(f, crew, notify)]
    for history in histories:
        act = _latest(history)
        level = policy.level(act.alarm.severity)
        intents += _pages(act, level, crew, floods, now) + _cleared(act, sent, floods)
    fresh = [i for i in intents if i.key not in done]
    return sorted(fresh, key=lambda i: (i.at, i.alarm, i.run, i.step, i.reason, i.who))
