"""The garbage collector's settings for the agent's processes."""

from __future__ import annotations

import gc

GC_THRESHOLD = 50_000


def tune_gc() -> None:
    """Collect garbage less often. Every reading is a new object and thousands are in flight at
    once, so the default threshold (700 allocations) ran the collector constantly — at batched
    rates it took half the time of parsing — while the agent makes almost no cyclic garbage.
    What exists at start (configuration, rules, modules) is frozen out of every collection.

    For the agent's own processes only (``agent run`` and the receiver, ``agent.receiver``),
    never from ``Agent.start``: it is process-wide, and a process that embeds agents and makes
    cyclic garbage (a SQLite connection is a cycle, closed only by the collector if not closed
    by hand) would keep what it froze."""
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
