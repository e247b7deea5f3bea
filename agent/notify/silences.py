"""Silences kept in the agent's store (table ``silences``, migration ``m009_notify_routing``):
written with ``facilitywatch agent silence add``, read by the notifier through
``active_silences``. The model and the matching are ``rules.muting``'s.

A silence always has an author, a comment and an end: one forgotten mutes a site for good.
Expiring one sets its end to now, so the record of who muted what, and why, stays.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from collector.duration import DurationError, parse_duration
from rules.muting import LABELS, Silence

__all__ = [
    "SilenceError",
    "active_silences",
    "add",
    "expire",
    "listed",
    "parse_matchers",
    "parse_when",
]


log = logging.getLogger(__name__)


class SilenceError(ValueError):
    """A silence that cannot be written or expired as asked."""


def parse_matchers(items: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``label=value`` items; a label given twice accepts either value."""
    found: dict[str, tuple[str, ...]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise SilenceError(f"{item!r}: write label=value")
        if name not in LABELS:
            raise SilenceError(f"{name!r} is not a label; use one of {', '.join(LABELS)}")
        found[name] = (*found.get(name, ()), value)
    if not found:
        raise SilenceError("a silence needs at least one matcher: one without would mute all")
    return found


def parse_when(text: str, zone: tzinfo, now: float) -> float:
    """A duration from ``now`` (``2h``, ``1d``) or an ISO 8601 time, the site's local time when
    it has no UTC offset."""
    try:
        return now + parse_duration(text).total_seconds()
    except DurationError:
        pass
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SilenceError(
            f"{text[:40]!r} is neither a duration (2h, 1d) nor a time (2026-11-01T08:30)"
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).timestamp()


def add(
    conn: sqlite3.Connection,
    matchers: Mapping[str, tuple[str, ...]],
    starts_at: float,
    ends_at: float,
    created_by: str,
    comment: str,
    now: float,
) -> Silence:
    if not matchers:
        raise SilenceError("a silence needs at least one matcher: one without would mute all")
    if ends_at <= max(starts_at, now):
        raise SilenceError("the silence ends before it begins (or in the past)")
    if not created_by.strip() or not comment.strip():
        raise SilenceError("a silence needs its author and a comment saying why")
    silence = Silence(str(uuid.uuid4()), dict(matchers), starts_at, ends_at, created_by, comment)
    with conn:
        conn.execute(
            "INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                silence.id,
                json.dumps({k: list(v) for k, v in silence.matchers.items()}),
                starts_at,
                ends_at,
                created_by,
                comment,
                now,
            ),
        )
    return silence


def listed(conn: sqlite3.Connection, since: float | None = None) -> list[Silence]:
    """Every silence, or those not ended before ``since``; by start."""
    rows = conn.execute(
        "SELECT id, matchers, starts_at, ends_at, created_by, comment FROM silences"
        " WHERE ends_at > ? ORDER BY starts_at, id",
        (-float("inf") if since is None else since,),
    ).fetchall()
    return _parsed(rows)


def expire(conn: sqlite3.Connection, silence_id: str, now: float) -> Silence:
    """End a silence now (one that has not begun yet ends before it begins)."""
    with conn:
        cursor = conn.execute(
            "UPDATE silences SET ends_at = MAX(starts_at, ?) WHERE id = ? AND ends_at > ?",
            (now, silence_id, now),
        )
    if not cursor.rowcount:
        raise SilenceError(f"no silence {silence_id!r} in force or to come")
    row = conn.execute(
        "SELECT id, matchers, starts_at, ends_at, created_by, comment FROM silences WHERE id = ?",
        (silence_id,),
    ).fetchone()
    return _silence(*row)


def active_silences(conn: sqlite3.Connection) -> Callable[[float], list[Silence]]:
    """The notifier's provider: the silences in force at a given instant."""

    def provide(now: float) -> list[Silence]:
        rows = conn.execute(
            "SELECT id, matchers, starts_at, ends_at, created_by, comment FROM silences"
            " WHERE starts_at <= ? AND ends_at > ?",
            (now, now),
        ).fetchall()
        return _parsed(rows)

    return provide


def _parsed(rows: Sequence[tuple[Any, ...]]) -> list[Silence]:
    found = []
    for row in rows:
        try:
            found.append(_silence(*row))
        except (ValueError, TypeError, AttributeError):  # written by hand, or by a bug
            log.warning("silence %s has unreadable matchers: ignored", row[0])
    return found


def _silence(
    silence_id: str, matchers: str, starts_at: float, ends_at: float, by: str, comment: str
) -> Silence:
    parsed = {str(k): tuple(str(x) for x in v) for k, v in json.loads(matchers).items()}
    return Silence(silence_id, parsed, starts_at, ends_at, by, comment)
