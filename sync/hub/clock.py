"""The hub's own alarm ``clock_offset``: a site whose agent's clock is far from the hub's.

Every batch reports the offset the agent measured at its previous sync (``sync.clock``); the hub
keeps the latest per site (``sites.clock_offset``) and raises this alarm when the agent's clock is
more than ``RAISE_AT`` off, clears it once it is within ``CLEAR_AT``, and leaves it as it is in
between, so an offset near the limit does not make it chatter (alarms.md: deadband). The
measurement is known to within half its round trip; only what is certain counts: a reading
raises when even its best case is over the limit and clears when even its worst case is within,
so a sync that took long says nothing either way.

Why a minute: the agent stamps every reading with its own clock and its rules time out on it
(on-delays, stale after), while people compare those times with the hub's and with other sites'.
A clock kept by NTP is within milliseconds and a free-running one drifts a second or two a day,
so a minute means weeks without time sync or a clock set by hand, wrong: a person should fix it.
"""

from __future__ import annotations

from sqlalchemy import Connection

from rules.alarm import AlarmChange
from sync.hub import hub_alarms
from sync.protocol import ClockReport

__all__ = ["CLEAR_AT", "RAISE_AT", "RULE", "check", "out_of_step"]

RULE = "clock_offset"
SEVERITY = "low"
RAISE_AT = 60.0
CLEAR_AT = 30.0


def out_of_step(report: ClockReport, raised: bool) -> bool:
    """Whether the alarm should be active after ``report``, when it is active now (``raised``)
    or not."""
    error = report.round_trip / 2
    if raised:
        return abs(report.offset) + error >= CLEAR_AT
    return abs(report.offset) - error > RAISE_AT


def check(conn: Connection, site: str, report: ClockReport, now: float) -> AlarmChange | None:
    """Raise or clear the site's ``clock_offset`` alarm, inside the caller's transaction, which
    must hold the site's row (``ingest.apply_batch`` upserts it first)."""
    held = hub_alarms.held(conn, RULE, site, lock=True).get(site)
    raised = held is not None and held.active
    condition = None
    if out_of_step(report, raised):
        condition = hub_alarms.Condition(RULE, SEVERITY, _message(site, report))
    change = hub_alarms.transition(held, site, condition, now, hub_alarms.new_id())
    if change is not None:
        hub_alarms.record(conn, site, held, change)
    return change


def _message(site: str, report: ClockReport) -> str:
    side = "behind" if report.offset >= 0 else "ahead of"
    return f"the clock of site {site}'s agent is {abs(report.offset):.0f} s {side} the hub's"
