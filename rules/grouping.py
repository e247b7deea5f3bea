"""Grouping notifications (Alertmanager's ``group_wait``, ``group_interval``, ``repeat_interval``):
when a person's group of alarms gets its next message, as a pure function.

Escalation (``rules.escalation``) says whom to tell about which alarm; grouping says when, and
folds what falls due for one person close together into one message. A group is one post's
alarms that share the labels in ``group_by`` (``rules.muting``: the device's ``building`` by
default), as one person (or the supervisor, or the post itself) hears of them. What escalation
planned for a person waits in the group ("held") until the group's message is due:

- a new group's first message waits ``group_wait`` after its first held step (30 s): alarms that
  follow within it ride along, and an alarm that clears within it is never sent. A group is new
  when none of the alarms it told of is still active;
- two messages of a group are at least ``group_interval`` apart (5 min);
- a group whose alarms are still active and unacknowledged, and that has had no message for
  ``repeat_interval`` (4 h), is told again, if its person is still on duty: after escalation's
  chain has run out, nobody would hear of them again. An acknowledged alarm has escalation's
  ``reminder`` instead, and a severity without reminders (``low``: it notifies, it does not
  insist) makes no group repeat;
- a step of an alarm whose severity is ``immediate`` (``critical``) is sent at once, without
  group wait or interval, and takes what else is held along: an urgent job is answered at once
  (急活随叫随到), and the defaults give a critical alarm only 5 minutes before the supervisor
  hears of it, which a 5-minute group interval would eat up.

The defaults are Alertmanager's (``shared/reference/alarms.md``, "Notification pipeline").

YAML (the site's ``notify.grouping``, or a post's ``grouping`` for that post)::

    grouping: {group_by: [post, building], group_wait: 30s, group_interval: 5m,
               repeat_interval: 4h, immediate: [critical]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from pydantic import Field

from collector.config import Strict
from collector.duration import Duration
from rules.muting import Label, Labels

__all__ = ["Grouping", "Held", "flush_at"]


class Grouping(Strict):
    # "post" is implied: a group never spans posts, whose people differ.
    group_by: list[Label] = ["post", "building"]
    group_wait: Duration = timedelta(seconds=30)
    group_interval: Duration = timedelta(minutes=5)
    repeat_interval: Duration | None = timedelta(hours=4)
    immediate: list[str] = Field(default_factory=lambda: ["critical"])

    def key(self, labels: Labels) -> tuple[str, ...]:
        return tuple(labels.get(name, "") for name in self.group_by if name != "post")


@dataclass(frozen=True, slots=True)
class Held:
    """A planned step waiting for its group's message: since when, and its alarm's severity."""

    held_at: float
    severity: str


def flush_at(
    held: Sequence[Held],
    last_sent_at: float | None,
    ongoing: bool,
    repeat: bool,
    grouping: Grouping,
) -> float | None:
    """When the group's next message is due; None: nothing to say.

    ``held``: the steps waiting (none muted); ``last_sent_at``: the group's last message;
    ``ongoing``: whether alarms it told of are still active (it is not a new group, so no group
    wait); ``repeat``: whether some of them are unacknowledged, of a severity with reminders,
    and the person still on duty."""
    urgent = [h.held_at for h in held if h.severity in grouping.immediate]
    if urgent:
        return min(urgent)
    previous = -float("inf") if last_sent_at is None else last_sent_at
    if held:
        wait = 0.0 if ongoing else grouping.group_wait.total_seconds()
        return max(
            min(h.held_at for h in held) + wait, previous + grouping.group_interval.total_seconds()
        )
    if repeat and last_sent_at is not None and grouping.repeat_interval is not None:
        return last_sent_at + grouping.repeat_interval.total_seconds()
    return None
