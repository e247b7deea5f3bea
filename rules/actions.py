"""Operator actions on alarms (ISA-18.2: acknowledge, shelve, suppress, out of service, note,
disposition), as an append-only log both ends keep and merge by union.

An action is a fact with an id that is the same wherever it is seen (a uuid made where a person
took it). The agent and the hub each hold the set of actions they have seen; sending them across
is a set union, and whatever is derived from the set — the *standing* of a rule now — is a pure
function of it, folded in (at, id) order. So the result does not depend on which end an action was
taken at or in which order the two ends learn of each other's actions (issue 5, "merge on both
sides").

Acknowledgements and dispositions also change the alarm itself (``rules.alarm``); shelving,
suppression and removal from service change what is *announced*, never what is evaluated or
recorded (alarms.md: "still evaluated and logged"). They belong to the rule (the alarm point), not
to one occurrence, so a rule taken out of service before its alarm is raised stays quiet, and a
timed shelve covers every occurrence within its time. A one-shot shelve is the exception: it ends
when the alarm it was taken on is no longer active ("ends when the alarm returns to normal").

Precedence when several hold at once: out of service, then suppressed, then shelved.
"""

from __future__ import annotations

import uuid
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, get_args

from rules.alarm import Alarm
from rules.schedule import Schedule

__all__ = [
    "ACTION_KINDS",
    "ALARM_KINDS",
    "CATEGORY_OF",
    "DESIGN_AUTHOR",
    "IN_SERVICE",
    "MAX_SHELVE",
    "Action",
    "ActionKind",
    "InvalidAction",
    "Mode",
    "Standing",
    "by_design",
    "check",
    "new_id",
    "standing",
]

ActionKind = Literal[
    "ack", "close", "note", "shelve", "unshelve", "suppress", "unsuppress", "disable", "enable"
]
ACTION_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)
# Actions on one occurrence; the others act on the rule (the alarm point).
ALARM_KINDS: frozenset[str] = frozenset({"ack", "close", "note"})
Mode = Literal["in_service", "shelved", "suppressed", "out_of_service"]
# alarms.md: "Shelving is one-shot … or timed, with a maximum (24 h is a common cap)".
MAX_SHELVE = timedelta(hours=24)
NOTE_MAX = 2000
DESIGN_AUTHOR = "(schedule)"
_DESIGN = uuid.UUID("5f1d0c1e-6d1f-4d59-9a55-2b3c8e0e7a11")  # namespace of by-design ids

_CATEGORY: dict[str, tuple[str, bool]] = {
    "shelve": ("shelve", True),
    "unshelve": ("shelve", False),
    "suppress": ("suppress", True),
    "unsuppress": ("suppress", False),
    "disable": ("service", True),
    "enable": ("service", False),
}

# Which standing each point action decides (an action and its undoing share one).
CATEGORY_OF: dict[str, str] = {kind: category for kind, (category, _) in _CATEGORY.items()}

_PRECEDENCE: tuple[tuple[str, Mode], ...] = (
    ("service", "out_of_service"),
    ("suppress", "suppressed"),
    ("shelve", "shelved"),
)


class InvalidAction(ValueError):
    """An action that cannot be taken as given (the message says what to change)."""


@dataclass(frozen=True, slots=True)
class Action:
    id: str
    kind: ActionKind
    rule: str
    by: str
    at: float
    alarm_id: str | None = None
    note: str | None = None
    # Shelve: the end of a timed shelve (None: one-shot); suppress, disable: when it ends.
    until: float | None = None
    # Ack and close: the activation the person saw (``rules.alarm.merge``).
    activation: int | None = None


@dataclass(frozen=True, slots=True)
class Standing:
    """How a rule's alarms are announced now, and the action that made it so."""

    mode: Mode
    until: float | None = None
    action: Action | None = None


IN_SERVICE = Standing("in_service")


def new_id() -> str:
    return uuid.uuid4().hex


def check(action: Action, max_shelve: timedelta = MAX_SHELVE) -> None:
    """Refuse an action that is incomplete or out of bounds, saying why."""
    if action.kind not in ACTION_KINDS:
        raise InvalidAction(f"unknown action {action.kind!r}; one of {', '.join(ACTION_KINDS)}")
    if not action.by.strip():
        raise InvalidAction("say who takes the action")
    if action.note is not None and len(action.note) > NOTE_MAX:
        raise InvalidAction(f"a note is at most {NOTE_MAX} characters")
    if action.kind in ALARM_KINDS and not action.alarm_id:
        raise InvalidAction(f"{action.kind} needs the alarm it is about")
    if action.kind in ("note", "close") and not (action.note or "").strip():
        what = "a disposition (what was found and done)" if action.kind == "close" else "a note"
        raise InvalidAction(f"{action.kind} needs {what}")
    if action.until is not None and action.until <= action.at:
        raise InvalidAction("the end time must be after the action")
    if action.kind == "shelve":
        _check_shelve(action, max_shelve)
    if action.kind == "suppress" and action.until is None:
        raise InvalidAction("an operator's suppression needs an end time")


def _check_shelve(action: Action, max_shelve: timedelta) -> None:
    if action.until is None and not action.alarm_id:
        raise InvalidAction("a one-shot shelve needs the alarm it is taken on")
    if action.until is not None and action.until - action.at > max_shelve.total_seconds():
        raise InvalidAction(f"shelving is limited to {max_shelve} (alarms.md)")


def by_design(rule: str, schedule: Schedule, known: Container[str], now: float) -> Action | None:
    """The suppression a rule's ``suppress`` schedule calls for at ``now``, as an action of its
    own so that both ends see it like any other; None when the schedule is closed or this
    window's action is already in the log (``known`` ids). Its id is made from the rule and the
    window's end, so a restart does not take it twice, and an operator who lifts it early
    (``unsuppress``) is not overruled before the next window."""
    end = schedule.open_until(now)
    if end is None:
        return None
    action_id = uuid.uuid5(_DESIGN, f"{rule}\x00{end!r}").hex
    if action_id in known:
        return None
    return Action(
        id=action_id,
        kind="suppress",
        rule=rule,
        by=DESIGN_AUTHOR,
        at=now,
        until=end,
        note="suppressed by design (the rule's suppress schedule)",
    )


def standing(
    actions: Iterable[Action],
    now: float,
    alarm: Alarm | None = None,
    max_shelve: timedelta = MAX_SHELVE,
) -> Standing:
    """The standing of one rule at ``now`` from its actions (in any order) and its current alarm
    (for a one-shot shelve)."""
    latest: dict[str, Action] = {}
    for action in sorted(actions, key=lambda a: (a.at, a.id)):
        found = _CATEGORY.get(action.kind)
        if found is not None and action.at <= now:
            latest[found[0]] = action
    for category, mode in _PRECEDENCE:
        last = latest.get(category)
        if last is None or not _CATEGORY[last.kind][1]:
            continue
        until = _holds_until(last, now, alarm, max_shelve)
        if until is not None:
            return Standing(mode, None if until == float("inf") else until, last)
    return IN_SERVICE


def _holds_until(
    action: Action, now: float, alarm: Alarm | None, max_shelve: timedelta
) -> float | None:
    """When the action stops holding (inf: not by time), or None when it no longer holds."""
    end = action.until if action.until is not None else float("inf")
    if action.kind == "shelve":
        end = min(end, action.at + max_shelve.total_seconds())
        one_shot = action.until is None
        if one_shot and (alarm is None or alarm.id != action.alarm_id or not alarm.active):
            return None
    return end if now < end else None
