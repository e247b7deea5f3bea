"""The registry: every declared rule type runs, and its state survives the store."""

from __future__ import annotations

import json
import typing

import pytest
from pydantic import TypeAdapter

from collector.models import AccessEvent
from rules.kinds import KINDS, dump_state, fits, kind_of, load_state
from rules.spec import Rule
from rules.stale import StaleState
from rules.threshold import ThresholdState

T0 = 1_700_000_000.0
EXAMPLES: list[Rule] = TypeAdapter(list[Rule]).validate_python(
    [
        {"id": "warm", "type": "threshold", "device": "f1", "metric": "temperature", "above": 8},
        {"id": "silent", "type": "stale", "device": "f1", "after": "15m"},
        {
            "id": "warming",
            "type": "rate",
            "device": "f1",
            "metric": "temperature",
            "rise_per_min": 0.5,
        },
        {"id": "ajar", "type": "door_held", "device": "door-1", "after": "2m"},
        {"id": "forced", "type": "door_forced", "device": "door-1", "reader": "gate"},
        {"id": "burst", "type": "denied_burst", "device": "gate", "per": "card"},
        {
            "id": "late",
            "type": "after_hours_access",
            "device": "gate",
            "schedule": {"timezone": "Asia/Shanghai", "weekly": {"mon-fri": "07:00-19:00"}},
        },
        {
            "id": "vaccines",
            "type": "excursion",
            "device": "f1",
            "low": 2,
            "high": 8,
            "triggers": [{"at_or_below": -0.5, "for": "60m"}],
        },
        {"id": "leak", "type": "night_flow", "device": "w1", "timezone": "Asia/Shanghai"},
        {
            "id": "lit",
            "type": "after_hours_power",
            "device": "p1",
            "metric": "power",
            "limit_w": 500,
            "schedule": {"timezone": "Asia/Shanghai", "weekly": {"mon-fri": "07:00-19:00"}},
        },
        {
            "id": "month",
            "type": "budget",
            "device": "p1",
            "meters": ["p2"],
            "budget": 12000,
            "timezone": "Asia/Shanghai",
        },
        {
            "id": "high-day",
            "type": "deviation",
            "device": "w1",
            "metric": "water",
            "above_percent": 30,
            "timezone": "Asia/Shanghai",
        },
    ]
)


def declared_types() -> set[str]:
    members = typing.get_args(typing.get_args(Rule)[0])
    return {typing.get_args(m.model_fields["type"].annotation)[0] for m in members}


def test_every_rule_type_in_the_yaml_has_a_kind() -> None:
    assert declared_types() == set(KINDS)


@pytest.mark.parametrize("rule", EXAMPLES, ids=lambda r: r.type)
def test_a_state_reads_back_as_it_was_written(rule: Rule) -> None:
    state = kind_of(rule).initial(rule, T0)
    assert load_state(dump_state(state)) == state
    assert fits(rule, load_state(dump_state(state)))


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        pytest.param(
            {"kind": "threshold", "active": True, "pending_since": None, "last_value": 9.5},
            ThresholdState(active=True, last_value=9.5),
            id="threshold",
        ),
        pytest.param(
            {"kind": "stale", "last_seen": T0, "active": False, "offline": True},
            StaleState(T0, offline=True),
            id="stale",
        ),
    ],
)
def test_states_stored_by_earlier_versions_still_load(
    stored: dict[str, object], expected: object
) -> None:
    assert load_state(json.dumps(stored)) == expected


def test_a_state_of_another_type_does_not_fit() -> None:
    threshold_rule, stale_rule = EXAMPLES[:2]
    assert not fits(stale_rule, kind_of(threshold_rule).initial(threshold_rule, T0))


def test_a_state_holding_records_reads_back() -> None:
    burst = next(rule for rule in EXAMPLES if rule.type == "denied_burst")
    kind = kind_of(burst)
    assert kind.access is not None
    swipe = AccessEvent("gate", T0, "C7", "denied", "in", None, T0)
    state, _ = kind.access(burst, kind.initial(burst, T0), swipe)
    assert load_state(dump_state(state)) == state
