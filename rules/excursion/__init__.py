"""Cold-chain excursion (issue 4): a temperature outside its range, recorded excursion by excursion,
raising when a WHO-style trigger holds (shared/reference/coldchain.md):

- single event: beyond a limit continuously for ``for`` ("≤ −0.5 °C for 60 min continuous"; a
  freeze with ``for: 0s``, as freezing wants no on-delay);
- cumulative: beyond a limit for ``total`` within the last ``within`` ("> 8 °C for 10 h in total").

A trigger without a limit of its own is beyond when outside the range; a limit must lie on or
beyond the range, so a trigger only ever holds during an excursion.

Time is counted on the agent's clock. A reading stands for its value until the next one, but for no
longer than ``max_gap`` (default 1h: twice coldchain.md's 30-minute logging interval): the rest of a
longer gap is unknown, neither in nor out of range (a missing probe is the stale rule's to see).
Ticks let that time pass, so a probe repeating a value, or gone quiet, raises on time, as readings
would. A gap ends the excursion (``ended_by: gap``) and every continuous run; so does the agent's
clock going back, crediting nothing. Values received together share one time: each counts (an
excursion inside a batch is recorded, lasting 0s).

The alarm is meant to be latched: coldchain.md's response is "label DO NOT USE, keep cold, record,
ask the manufacturer", closed by a person with a disposition (alarms.md, "Latched"). Until the
alarm model has dispositions it raises when a trigger holds and clears once a fresh reading is back
in range and no trigger holds; a cumulative trigger holds until enough of its time leaves the
window. A disposition should call ``reset``: the exposure is forgotten and the alarm inactive, so
the next trigger raises again.

Each excursion keeps the door events during it: the rule's ``doors`` (contacts, metric ``contact``)
are read as series of their own (``doors.py``). Completed excursions wait in the state (at most
``max_unsaved``; beyond that the oldest are dropped and counted in ``dropped``) until the writer
takes them as records (``ExcursionRecord``: the kind's ``records``, ``record.py``) and stores them
in the transaction that saves the drained state: a crash loses or repeats nothing, and an
excursion going on at a restart (``ongoing(state)``) goes on from the saved state.

Cumulative time is kept per trigger as spans, those wholly outside the window forgotten, at most
``max_spans``: past that the two closest merge keeping their exact seconds, so a window edge cutting
a merged span may count more time than was out, never less.
"""

from rules.excursion.doors import MAX_DOOR_EVENTS
from rules.excursion.exposure import observe, reset, settle
from rules.excursion.kind import KIND
from rules.excursion.record import ExcursionRecord, record_of, take
from rules.excursion.spec import DOOR_METRIC, ExcursionRule, Trigger
from rules.excursion.state import (
    DoorEvent,
    Excursion,
    ExcursionState,
    Span,
    completed,
    drained,
    ongoing,
)

__all__ = [
    "DOOR_METRIC",
    "KIND",
    "MAX_DOOR_EVENTS",
    "DoorEvent",
    "Excursion",
    "ExcursionRecord",
    "ExcursionRule",
    "ExcursionState",
    "Span",
    "Trigger",
    "completed",
    "drained",
    "observe",
    "ongoing",
    "record_of",
    "reset",
    "settle",
    "take",
]
