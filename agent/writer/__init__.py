"""The single writer: one thread owns the agent database and the rule engine.

Network callbacks validate and enqueue; this thread takes what is queued, stores it, runs the rules
on it and commits the whole batch in one transaction, then runs the batch's after-commit callbacks
(the MQTT acknowledgements). The queue is bounded, so a slow disk pushes back on the broker instead
of growing memory. ``core`` is the thread, ``entries`` what its queue carries, ``answers`` how it
applies the hub's answer to a sync, ``rows`` how readings go into their table, ``tables`` how
everything else it stores does.
"""

from agent.writer.core import Writer
from agent.writer.entries import Ack, Barrier, Entry, Item, Stats, SyncAcked, Tick

__all__ = ["Ack", "Barrier", "Entry", "Item", "Stats", "SyncAcked", "Tick", "Writer"]
