"""agent.receiver: the hand-over between its threads."""

from __future__ import annotations

from collections import deque

from agent.receiver import drain


class Growing(deque[int]):
    """A queue another thread appends to while the first item is being taken."""

    def popleft(self) -> int:
        item = super().popleft()
        if item == 1:
            self.append(99)
        return item


def test_a_drain_takes_what_was_appended_while_it_ran() -> None:
    # Left behind, 99 would never be forwarded: its producer wakes the consumer only for an
    # item that finds the queue empty.
    queue = Growing([1, 2])
    assert drain(queue) == [1, 2, 99]
    assert not queue


def test_a_drain_of_an_empty_queue_is_empty() -> None:
    assert drain(deque()) == []
