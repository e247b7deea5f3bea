"""Back-off: doubling from the first wait to the cap, jittered, never past the give-up time."""

from __future__ import annotations

import random

import pytest

from agent.notify.retry import RetryPolicy, next_attempt

POLICY = RetryPolicy(first=30.0, cap=3600.0, give_up_after=86400.0)


class Top:
    """The upper end of every jittered range."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize(
    ("attempts", "wait"),
    [(1, 30.0), (2, 60.0), (3, 120.0), (7, 1920.0), (8, 3600.0), (200, 3600.0)],
)
def test_the_wait_doubles_up_to_the_cap(attempts: int, wait: float) -> None:
    assert next_attempt(POLICY, attempts, 0.0, 1000.0, Top()) == 1000.0 + wait


def test_jitter_keeps_between_half_and_all_of_the_wait() -> None:
    rng = random.Random(4)
    waits = [next_attempt(POLICY, 3, 0.0, 0.0, rng) for _ in range(200)]
    assert all(w is not None and 60.0 <= w <= 120.0 for w in waits)
    assert len(set(waits)) == 200


def test_the_last_attempt_is_at_the_give_up_time_then_none() -> None:
    assert next_attempt(POLICY, 30, 0.0, 86000.0, Top()) == 86400.0
    assert next_attempt(POLICY, 31, 0.0, 86400.0, Top()) is None
