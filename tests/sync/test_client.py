"""The agent end of the wire (``sync.client``): back-off while the hub is away."""

import random

from sync.client import Backoff


def delays(backoff: Backoff, n: int) -> list[float]:
    return [backoff.next_delay() for _ in range(n)]


def test_back_off_doubles_its_ceiling_up_to_the_cap() -> None:
    got = delays(Backoff(base=1.0, cap=60.0, rng=random.Random(7)), 200)
    ceilings = [min(60.0, 2.0 ** min(n, 20)) for n in range(1, 201)]
    assert all(0 <= d <= c for d, c in zip(got, ceilings, strict=True))
    assert max(got[-50:]) > 30  # later failures wait longer, up to the cap


def test_back_off_is_jittered_so_agents_do_not_return_in_step() -> None:
    first = [Backoff(base=5.0, rng=random.Random(seed)).next_delay() for seed in range(20)]
    assert len(set(first)) == 20
    assert all(0 <= d <= 10.0 for d in first)


def test_success_starts_the_back_off_over() -> None:
    backoff = Backoff(base=1.0, cap=300.0, rng=random.Random(3))
    delays(backoff, 10)
    backoff.reset()
    assert backoff.next_delay() <= 2.0
