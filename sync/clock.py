"""The agent's clock against the hub's, measured at every sync.

NTP's on-wire method (RFC 5905, section 8) with the one timestamp the hub sends back, its time of
receipt (``SyncAck.server_time``): the hub read its clock somewhere between the agent sending the
request and receiving the answer, so the agent's clock read at the midpoint of the two is off by
``server_time - midpoint``, give or take half the round trip. A large batch makes the round trip
long and the measurement loose; the round trip is kept beside the offset so that a reader knows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sync.protocol import ClockReport

__all__ = ["describe", "measure"]


def measure(sent: float, received: float, server_time: float) -> ClockReport:
    """The offset (add it to the agent's time to get the hub's) from the agent's clock read just
    before sending (``sent``) and just after the answer (``received``)."""
    round_trip = max(0.0, received - sent)
    return ClockReport(
        offset=server_time - (sent + received) / 2, round_trip=round_trip, measured_at=received
    )


def describe(report: ClockReport | None) -> str:
    """``0.412 s behind the hub (± 0.003 s, measured 2026-11-23T14:05:00Z)``, for people."""
    if report is None:
        return "not measured yet (no sync acknowledged)"
    side = "behind" if report.offset >= 0 else "ahead of"
    when = datetime.fromtimestamp(report.measured_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"{abs(report.offset):.3f} s {side} the hub"
        f" (± {report.round_trip / 2:.3f} s, measured {when})"
    )
