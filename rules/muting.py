"""Muting notifications, not alarms: silences and inhibition (Alertmanager's), as pure functions
over an alarm's labels.

An alarm is known to these functions by its labels: ``site``, ``post``, ``rule``, ``type`` (the
rule's), ``device``, ``metric``, ``severity`` and the device's ``building``, ``floor``, ``room``
and ``department``, and ``alarm`` (its id, which no matcher may name). A matcher names a label
and the values it accepts; an alarm matches when every label named has one of them.

A **silence** mutes the alarms its matchers match from ``starts_at`` until ``ends_at``: written
by a person, with a comment, always with an end (``shared/reference/alarms.md``, "Silences").

An **inhibition rule** mutes the alarms matching ``target`` while an alarm matching ``source`` is
active *in the same scope*: every label in ``equal`` present on both, and the same. A gateway
offline mutes the stale sensors of its building, mains lost mutes what loses power with it.
Unscoped inhibition silently mutes everything (alarms.md, "Inhibition"), so ``equal`` may be
empty only when ``target`` names its devices: an explicit dependency list. An alarm never
inhibits itself.

Muted alarms are still evaluated, recorded and synced; only their notifications wait, and they
are told, as escalation stands then, once nothing mutes them any more.

YAML (the site's ``notify.inhibit``)::

    inhibit:
      - source: {type: stale, device: gw-canteen}          # the canteen's Zigbee gateway
        target: {type: stale}
        equal: [building]
      - source: {rule: mains-lost}
        target: {device: [freezer-1, freezer-2, door-1]}  # behind the lost supply
        equal: []
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from collector.config import Strict

__all__ = [
    "LABELS",
    "InhibitRule",
    "Label",
    "Labels",
    "Matchers",
    "Silence",
    "inhibited",
    "matches",
    "silenced",
]

Label = Literal[
    "site",
    "post",
    "rule",
    "type",
    "device",
    "metric",
    "severity",
    "building",
    "floor",
    "room",
    "department",
]
LABELS: tuple[str, ...] = Label.__args__  # type: ignore[attr-defined]
Labels = Mapping[str, str]
# A label and the values it accepts.
Matchers = Mapping[str, tuple[str, ...]]


def _values(value: object) -> object:
    if isinstance(value, Mapping):
        return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
    return value


Values = tuple[Annotated[str, Field(min_length=1)], ...]
MatcherField = Annotated[
    dict[Label, Annotated[Values, Field(min_length=1)]],
    BeforeValidator(_values),
    Field(min_length=1),
]


def matches(matchers: Mapping[Any, tuple[str, ...]], labels: Labels) -> bool:
    """Every label named has one of its values; a label the alarm lacks matches nothing."""
    return all(labels.get(name) in values for name, values in matchers.items())


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: Matchers
    starts_at: float
    ends_at: float
    created_by: str
    comment: str

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at


def silenced(labels: Labels, silences: Iterable[Silence], now: float) -> bool:
    """A silence without matchers mutes nothing: it would otherwise mute everything."""
    return any(s.matchers and s.active(now) and matches(s.matchers, labels) for s in silences)


class InhibitRule(Strict):
    source: MatcherField
    target: MatcherField
    equal: list[Label] = ["building"]

    @model_validator(mode="after")
    def _scoped(self) -> InhibitRule:
        if not self.equal and "device" not in self.target:
            raise ValueError(
                "equal: [] mutes the target everywhere: name the scope (e.g. [building])"
                " or list the target's devices"
            )
        return self


def inhibited(labels: Labels, active: Sequence[Labels], rules: Iterable[InhibitRule]) -> bool:
    """Whether an alarm with ``labels`` is muted by one of the ``active`` alarms' (their labels)
    under ``rules``."""
    for rule in rules:
        if not matches(rule.target, labels):
            continue
        for source in active:
            if not _same(source, labels) and _inhibits(rule, source, labels):
                return True
    return False


def _same(one: Labels, other: Labels) -> bool:
    return one is other or ("alarm" in one and one.get("alarm") == other.get("alarm"))


def _inhibits(rule: InhibitRule, source: Labels, target: Labels) -> bool:
    if not matches(rule.source, source):
        return False
    # Absent on both is not "the same": a device without a building is in nobody's building.
    return all(source.get(n) and source.get(n) == target.get(n) for n in rule.equal)
