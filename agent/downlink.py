"""Site configuration delivered by the hub: which version runs, what became of each, and why.

The hub manages a site's devices, posts and rules (``rules.site``); the agent's own file keeps
the rest (site, mqtt, hub, storage, metrics, notify). Precedence:

* Until the hub delivers a version, the file's devices, posts and rules run (reported as
  version 0).
* A delivered version is validated as the file is at start (``agent.config.with_spec``). Valid,
  the writer switches to it between two entries of its queue and records it in ``hub_config`` in
  the same transaction; refused, the previous configuration keeps running and the reason is
  recorded and reported to the hub, which never sends that version again (a fix is a new
  version).
* From then on the newest applied hub version wins over the file's devices, posts and rules,
  at every start too: edits to those sections of the file are ignored (and logged at start).
  The hub is where they change; to go back to the file's, send them to the hub as a new version.
* A stored version that no longer validates at start (an environment variable it needs is gone,
  a device format dropped by an upgrade) is marked refused with the reason, and the newest
  older applied version that still validates runs instead, or else the file's sections.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from agent.config import ConfigError, SiteConfig, with_spec
from rules.alarm import AlarmChange, clear
from rules.engine import Engine
from sync.protocol import MAX_REASON, ConfigRejected, ConfigVersion

log = logging.getLogger(__name__)

__all__ = ["NewConfig", "check", "effective", "record", "report", "seen", "switch"]


@dataclass(frozen=True, slots=True)
class NewConfig:
    """A delivered version, checked: ``config`` to run, or the ``reason`` it was refused."""

    version: ConfigVersion
    config: SiteConfig | None
    reason: str | None
    at: float


def check(
    running: SiteConfig, version: ConfigVersion, at: float, env: Mapping[str, str] | None = None
) -> NewConfig:
    """Validate a delivered version against the running configuration's own sections."""
    try:
        config, warnings = with_spec(running, version.text, version.format, env)
    except ConfigError as error:
        reason = "\n".join(error.errors)[:MAX_REASON]
        log.error("hub configuration version %d refused: %s", version.version, reason)
        return NewConfig(version, None, reason, at)
    for warning in warnings:
        log.warning("hub configuration version %d: %s", version.version, warning)
    return NewConfig(version, config, None, at)


def record(conn: sqlite3.Connection, new: NewConfig) -> None:
    """What became of a version (in the writer's transaction that applies it, if it does)."""
    v = new.version
    applied_at = new.at if new.config is not None else None
    conn.execute(
        "INSERT OR REPLACE INTO hub_config"
        " (version, format, text, by, at, received_at, applied_at, error)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (v.version, v.format, v.text, v.by, v.at, new.at, applied_at, new.reason),
    )


def switch(
    conn: sqlite3.Connection, engine: Engine, new: NewConfig
) -> tuple[Engine, list[AlarmChange]] | None:
    """In the writer's transaction: record what became of ``new`` and, when it is to run, the
    engine for its rules with the changes the switch makes. A rule that keeps its id and type
    keeps its state and open alarm (``rules.kinds.fits``); a new one starts afresh; a removed
    one's active alarm clears and its state is dropped."""
    if new.config is None:
        record(conn, new)
        return None
    rules = list(new.config.rules)
    switched = Engine.restore(rules, new.at, engine.states, engine.alarms.values())
    switched.new_id = engine.new_id
    changes = [
        AlarmChange(clear(alarm, new.at, alarm.value), "cleared", new.at)
        for rule, alarm in engine.alarms.items()
        if rule not in switched.alarms and alarm.active
    ]
    kept = list(switched.states)
    conn.execute(f"DELETE FROM rule_states WHERE rule NOT IN ({', '.join('?' * len(kept))})", kept)
    record(conn, new)
    log.warning(
        "hub configuration version %d: %d devices, %d rules",
        new.version.version,
        len(new.config.devices),
        len(rules),
    )
    return switched, changes


def seen(conn: sqlite3.Connection, version: int) -> bool:
    """Whether this version was already applied or refused here."""
    found = conn.execute("SELECT 1 FROM hub_config WHERE version = ?", (version,)).fetchone()
    return found is not None


def report(conn: sqlite3.Connection) -> tuple[int, ConfigRejected | None]:
    """The version running (0: the file's) and the newest refused one, if newer."""
    applied = _applied(conn)
    row = conn.execute(
        "SELECT version, error FROM hub_config WHERE error IS NOT NULL AND version > ?"
        " ORDER BY version DESC LIMIT 1",
        (applied.version if applied else 0,),
    ).fetchone()
    rejected = ConfigRejected(version=row[0], reason=row[1]) if row else None
    return (applied.version if applied else 0), rejected


def effective(
    conn: sqlite3.Connection, config: SiteConfig, now: float, env: Mapping[str, str] | None = None
) -> tuple[SiteConfig, int]:
    """The configuration to start with (the file's, or the newest applied hub version in it),
    and its hub version (0: the file's). Writes: call it before the writer starts."""
    while (applied := _applied(conn)) is not None:
        checked = check(config, applied, now, env)
        if checked.config is None:
            record(conn, checked)
            continue
        if _managed(checked.config) != _managed(config):
            log.warning(
                "devices, posts and rules come from hub configuration version %d; the file's"
                " are ignored (change them at the hub)",
                applied.version,
            )
        return checked.config, applied.version
    return config, 0


def _applied(conn: sqlite3.Connection) -> ConfigVersion | None:
    row = conn.execute(
        "SELECT version, format, text, by, at FROM hub_config"
        " WHERE applied_at IS NOT NULL AND error IS NULL ORDER BY version DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return ConfigVersion(version=row[0], format=row[1], text=row[2], by=row[3], at=row[4])


def _managed(config: SiteConfig) -> tuple[object, ...]:
    return (config.devices, config.posts, config.rules)
