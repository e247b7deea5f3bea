"""Instants as JSON shows them: one format for the hub's API and the agent's MQTT alarm states."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso"]


def iso(ts: float) -> str:
    """``2026-11-23T08:00:00.123Z``: ISO 8601 UTC, to the millisecond."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
