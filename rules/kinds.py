"""The rule types the engine runs, by the ``type`` the YAML gives, and their persisted states."""

from __future__ import annotations

import json
from typing import Any

import orjson

from rules import (
    after_hours,
    after_hours_power,
    budget,
    denied_burst,
    deviation,
    door_forced,
    door_held,
    excursion,
    night_flow,
    rate,
    stale,
    threshold,
)
from rules.base import Kind, RuleBase, State

__all__ = ["KINDS", "dump_state", "fits", "kind_of", "load_state"]

KINDS: dict[str, Kind[Any, Any]] = {
    "threshold": threshold.KIND,
    "stale": stale.KIND,
    "rate": rate.KIND,
    "door_held": door_held.KIND,
    "door_forced": door_forced.KIND,
    "denied_burst": denied_burst.KIND,
    "after_hours_access": after_hours.KIND,
    "night_flow": night_flow.KIND,
    "after_hours_power": after_hours_power.KIND,
    "excursion": excursion.KIND,
    "budget": budget.KIND,
    "deviation": deviation.KIND,
}
_BY_STATE = {kind.state: name for name, kind in KINDS.items()}


def kind_of(rule: RuleBase) -> Kind[Any, Any]:
    return KINDS[rule.type]


def fits(rule: RuleBase, state: object) -> bool:
    """A persisted state still belongs to this rule (its type may have changed under its id)."""
    return isinstance(state, kind_of(rule).state)


def dump_state(state: State) -> str:
    """The state as a flat JSON object with its ``kind``. orjson writes a dataclass several
    times faster than json with asdict(), and states are saved at every commit touching them."""
    fields_json = orjson.dumps(state, default=_plain)
    kind = orjson.dumps(_BY_STATE[type(state)])
    return (b'{"kind":' + kind + (b"," if fields_json != b"{}" else b"") + fields_json[1:]).decode()


def _plain(value: object) -> object:
    # orjson writes dataclasses and tuples, but not NamedTuples (a state's records): as lists,
    # which a kind's ``load`` turns back.
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} in a rule state is not JSON")


def load_state(text: str) -> Any:
    data = json.loads(text)
    kind = KINDS[data.pop("kind")]
    return kind.load(data) if kind.load is not None else kind.state(**data)
