"""When to try a notification again, and when to stop: pure functions of the attempts made."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

__all__ = ["RetryPolicy", "next_attempt"]


class Uniform(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    first: float  # seconds before the first retry
    cap: float  # the longest wait between two attempts
    give_up_after: float  # from the notification's creation


def next_attempt(
    policy: RetryPolicy, attempts: int, created_at: float, now: float, rng: Uniform | None = None
) -> float | None:
    """After ``attempts`` failed attempts, when to try again; None to give up.

    The wait doubles from ``first`` up to ``cap``, of which a random half is kept ("equal
    jitter": never immediate, yet agents that lost the same server do not come back in step).
    The last attempt is made at the give-up time itself rather than skipped.
    """
    deadline = created_at + policy.give_up_after
    if now >= deadline:
        return None
    wait = min(policy.cap, policy.first * 2 ** min(attempts - 1, 40))
    jittered = (rng or random).uniform(wait / 2, wait)
    return min(now + jittered, deadline)
