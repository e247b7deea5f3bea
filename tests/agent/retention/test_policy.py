"""What the agent thins first, and when storage_pressure is active: the planning table."""

from __future__ import annotations

import pytest

from agent.retention.policy import (
    Backlog,
    Policy,
    Step,
    alarm_active,
    next_step,
    under_pressure,
)

POLICY = Policy(max_size=1000, keep_raw=86400.0, keep_rollups=86400.0 * 400)


@pytest.mark.parametrize(
    ("size", "was", "expected"),
    [
        (899, False, False),
        (900, False, True),  # the high-water mark starts it
        (1200, False, True),
        (850, True, True),  # and it lasts until the low-water mark
        (800, True, True),
        (799, True, False),
        (850, False, False),  # the band between the marks does not start it
    ],
)
def test_pressure_has_hysteresis(size: int, was: bool, expected: bool) -> None:
    assert under_pressure(POLICY, size, was) is expected


def test_an_unbounded_store_is_never_under_pressure() -> None:
    unbounded = Policy(max_size=None, keep_raw=1.0, keep_rollups=1.0)
    assert under_pressure(unbounded, 10**15, was=True) is False


EVERYTHING = Backlog(expired_rollups=True, expired_raw=True, synced=True, unsent=True)


@pytest.mark.parametrize(
    ("pressure", "backlog", "expected"),
    [
        (False, Backlog(), None),
        (True, Backlog(), None),
        (False, EVERYTHING, "expire_rollups"),
        (False, Backlog(expired_raw=True, synced=True), "expire_raw"),
        # Without pressure, what the hub has is kept until it is old, and unsent readings stay.
        (False, Backlog(synced=True, unsent=True), None),
        (True, Backlog(expired_raw=True, synced=True, unsent=True), "expire_raw"),
        # Under pressure: what the hub holds goes first ...
        (True, Backlog(synced=True, unsent=True), "thin_synced"),
        # ... and unsent readings only once none of that is left.
        (True, Backlog(unsent=True), "roll_up_unsent"),
    ],
)
def test_thinning_goes_in_order(pressure: bool, backlog: Backlog, expected: Step | None) -> None:
    assert next_step(pressure, backlog) == expected


@pytest.mark.parametrize(
    ("was", "pressure", "step", "expected"),
    [
        (False, False, None, False),
        (False, True, "thin_synced", False),  # routine: the hub has what goes
        (False, True, "expire_raw", False),
        (False, True, "roll_up_unsent", True),
        (False, True, None, True),  # pressure and nothing left to thin
        (True, True, "thin_synced", True),  # held while the pressure lasts
        (True, True, "expire_rollups", True),
        (True, False, None, False),  # cleared once it has gone
        (True, False, "expire_raw", False),
    ],
)
def test_storage_pressure_is_active_while_unsent_readings_are_at_risk(
    was: bool, pressure: bool, step: Step | None, expected: bool
) -> None:
    assert alarm_active(was, pressure, step) is expected
