"""What a group's message says, and whether it is due (``rules.grouping.flush_at``), from the
group in the store and the alarms as they stand now.

A held step is one of three things at the group's turn: *live* (its alarm's activation goes on,
or it was an event, or its severity is ``immediate``, or it is the clearing of an alarm the
person was told of or is told of now), *muted* (a silence or an inhibition holds it: it stays
held, and counts for nothing until the mute ends), or *gone* (its activation ended before the
group's message and was never told, or it clears an alarm the person never heard of): dropped,
never sent, as Alertmanager drops an alert resolved within ``group_wait``.

The message lists what is new (the live steps), what it told of before and is still active, and
what it told of and has cleared since; a message about one alarm alone reads as it did before
grouping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from agent.notify.groups import Group, HeldStep
from rules.alarm import Alarm
from rules.grouping import Grouping, Held, flush_at

__all__ = ["Flush", "decide"]


@dataclass(frozen=True, slots=True)
class Flush:
    """A group's turn: the steps to take off the wait and, when ``send``, its message."""

    steps: tuple[HeldStep, ...]
    send: bool
    new: tuple[HeldStep, ...] = ()  # the live steps, the latest per alarm
    still: tuple[Alarm, ...] = ()
    resolved: tuple[Alarm, ...] = ()
    # The alarms it leaves told of, still active; None: as they were.
    told: tuple[str, ...] | None = None
    first: bool = False  # the post's own URLs go with it


def decide(
    group: Group,
    grouping: Grouping,
    alarms: Mapping[str, Alarm],
    muted: Callable[[Alarm], bool],
    event: Callable[[Alarm], bool],
    repeats: Callable[[Alarm], bool],
    present: bool,
    now: float,
) -> Flush | None:
    """``alarms``: the current state of every alarm the group names; ``event``: whether an
    inactive alarm's activation was an event (active and cleared at one instant); ``repeats``:
    whether an alarm still active and unacknowledged makes its group repeat (its severity has
    reminders: a low one notifies once); ``present``: whether the group's person is still on
    duty, for a repeat. None: nothing to do now."""
    live, gone = _sort(group, grouping, alarms, muted, event)
    told = [alarms[a] for a in group.told if a in alarms]
    firing = any(a.active and a.acked_at is None and repeats(a) and not muted(a) for a in told)
    held = [Held(s.held_at, alarms[s.intent.alarm].severity) for s in live]
    ongoing = any(a.active for a in told)
    at = flush_at(held, group.last_sent_at, ongoing, firing and present, grouping)
    if at is None or at > now:
        if not group.held and group.told and not ongoing:
            return Flush((), False, told=())  # all cleared, nothing to say: a new group next
        return Flush(tuple(gone), False) if gone else None
    new = _latest(s for s in live if s.intent.reason != "cleared")
    news = {s.intent.alarm for s in new}
    cleared = {s.intent.alarm for s in live if s.intent.reason == "cleared"} - news
    still = [a for a in told if a.active and a.id not in news and not muted(a)]
    resolved = [alarms[a] for a in sorted(cleared)]
    # Cleared since the last message: news while the group goes on, not once it is over.
    resolved += [a for a in told if ongoing and not a.active and a.id not in news | cleared]
    keep = [s.intent.alarm for s in new if alarms[s.intent.alarm].active]
    keep += [a.id for a in told if a.active and a.id not in news]
    return Flush(
        (*live, *gone),
        True,
        new,
        tuple(still),
        tuple(resolved),
        tuple(dict.fromkeys(keep)),
        any(s.first for s in live),
    )


def _sort(
    group: Group,
    grouping: Grouping,
    alarms: Mapping[str, Alarm],
    muted: Callable[[Alarm], bool],
    event: Callable[[Alarm], bool],
) -> tuple[list[HeldStep], list[HeldStep]]:
    openings: list[HeldStep] = []
    rest: list[HeldStep] = []
    for step in group.held:
        (rest if step.intent.reason == "cleared" else openings).append(step)
    live: list[HeldStep] = []
    gone: list[HeldStep] = []
    for step in openings:
        alarm = alarms.get(step.intent.alarm)
        if alarm is None or not _current(step, alarm, grouping, event):
            gone.append(step)
        elif not muted(alarm):
            live.append(step)
    told = set(group.told) | {s.intent.alarm for s in live}
    for step in rest:  # a clearing is told to whoever heard of the activation, or hears now
        alarm = alarms.get(step.intent.alarm)
        if alarm is None or alarm.id not in told:
            gone.append(step)
        elif not muted(alarm):
            live.append(step)
    return live, gone


def _current(
    step: HeldStep, alarm: Alarm, grouping: Grouping, event: Callable[[Alarm], bool]
) -> bool:
    """An immediate severity is never held back, so never found cleared "within the wait"."""
    if alarm.activations != step.intent.activation:
        return False
    return alarm.active or event(alarm) or alarm.severity in grouping.immediate


def _latest(steps: Iterable[HeldStep]) -> tuple[HeldStep, ...]:
    latest: dict[str, HeldStep] = {}
    for step in steps:
        latest[step.intent.alarm] = step
    return tuple(latest.values())
