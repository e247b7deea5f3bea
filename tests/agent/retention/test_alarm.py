"""The agent's own storage_pressure alarm: its life cycle and acknowledgements from the hub."""

from __future__ import annotations

from agent.retention.alarm import RULE, acknowledged, transition
from rules.alarm import Alarm

T0 = 1_763_900_000.0
MB = 1000**2


def step(held: Alarm | None, active: bool, now: float, size: int = 19 * MB) -> Alarm | None:
    change = transition(
        held,
        active,
        site="clinic",
        size=size,
        max_size=20 * MB,
        now=now,
        new_id=f"agent-{now}",
        post="facilities",
    )
    return change.alarm if change else held


def test_raised_with_the_store_size_then_cleared() -> None:
    raised = step(None, True, T0)
    cleared = step(raised, False, T0 + 60, size=15 * MB)
    assert raised is not None and cleared is not None
    assert (raised.id, raised.rule, raised.device, raised.severity, raised.post) == (
        f"agent-{T0}",
        RULE,
        "clinic",
        "high",
        "facilities",
    )
    assert raised.value == 95.0  # percent of max_size
    assert "19MB of 20MB" in raised.message
    assert (cleared.state, cleared.cleared_at, cleared.value) == (
        "cleared_unacknowledged",
        T0 + 60,
        75.0,
    )


def test_nothing_changes_while_the_condition_holds_or_stays_away() -> None:
    raised = step(None, True, T0)
    assert (
        transition(raised, True, site="s", size=1, max_size=2, now=T0 + 1, new_id="x"),
        transition(None, False, site="s", size=1, max_size=2, now=T0 + 1, new_id="x"),
    ) == (None, None)


def test_returning_before_anyone_acknowledged_is_a_new_activation_of_the_same_alarm() -> None:
    again = step(step(step(None, True, T0), False, T0 + 60), True, T0 + 120)
    assert again is not None
    assert (again.id, again.activations, again.state) == (f"agent-{T0}", 2, "unacknowledged")


def test_the_hubs_acknowledgement_counts_for_its_activation_only() -> None:
    held = step(None, True, T0)
    assert held is not None
    change = acknowledged(held, "ann", T0 + 5, activation=1)
    assert change is not None
    assert (change.kind, change.alarm.acked_by, change.alarm.state) == (
        "acked",
        "ann",
        "acknowledged",
    )
    assert acknowledged(held, "ann", T0 + 5, activation=2) is None
    assert acknowledged(change.alarm, "bob", T0 + 9, activation=None) is None
