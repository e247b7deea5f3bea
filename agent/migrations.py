"""The agent store's schema history: sqlite-utils migrations, applied in order by
``agent.store.open_store`` and recorded by name in the database's ``_sqlite_migrations``.

A migration never changes once released: a store that already ran it would not run it again.
A change to the schema is a new migration at the end.
"""

from __future__ import annotations

import sqlite_utils

__all__ = ["migrations"]

migrations = sqlite_utils.Migrations("facilitywatch.agent")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    # AUTOINCREMENT: ids are the sync sequence numbers, so they must never be reused, even after
    # old rows are thinned out.
    db.execute(
        """CREATE TABLE readings (
            id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, metric TEXT NOT NULL,
            ts REAL NOT NULL, value REAL NOT NULL, received_at REAL NOT NULL)"""
    )
    db.execute("CREATE INDEX readings_device_metric_ts ON readings (device, metric, ts)")
    db.execute(
        """CREATE TABLE access_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, ts REAL NOT NULL,
            card TEXT NOT NULL, result TEXT NOT NULL, direction TEXT, reason TEXT,
            received_at REAL NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE alarms (
            id TEXT PRIMARY KEY, rule TEXT NOT NULL, device TEXT NOT NULL, metric TEXT,
            severity TEXT NOT NULL, post TEXT, message TEXT NOT NULL, raised_at REAL NOT NULL,
            changed_at REAL NOT NULL, active INTEGER NOT NULL, activations INTEGER NOT NULL,
            value REAL, acked_at REAL,
            acked_by TEXT, cleared_at REAL, state TEXT NOT NULL)"""
    )
    db.execute("CREATE INDEX alarms_state ON alarms (state)")
    db.execute(
        """CREATE TABLE alarm_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, alarm_id TEXT NOT NULL, kind TEXT NOT NULL,
            at REAL NOT NULL, by TEXT, snapshot TEXT NOT NULL)"""
    )
    db.execute("CREATE TABLE rule_states (rule TEXT PRIMARY KEY, state TEXT NOT NULL)")
    db.execute(
        """CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY AUTOINCREMENT, received_at REAL NOT NULL, topic TEXT NOT NULL,
            payload BLOB NOT NULL, reason TEXT NOT NULL, device TEXT)"""
    )
    db.execute("CREATE TABLE sync_cursors (stream TEXT PRIMARY KEY, acked INTEGER NOT NULL)")
    db.execute(
        """CREATE TABLE hub_actions (
            id INTEGER PRIMARY KEY, alarm_id TEXT NOT NULL, action TEXT NOT NULL,
            applied_at REAL NOT NULL, reported INTEGER NOT NULL DEFAULT 0)"""
    )
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migrations()
def m002_one_row_per_message(db: sqlite_utils.Database) -> None:
    # A message committed but killed before its PUBACK left is delivered again: its device, metric
    # and timestamp identify it, so the second copy is ignored instead of counted twice.
    db.execute(
        "DELETE FROM readings WHERE id NOT IN"
        " (SELECT MIN(id) FROM readings GROUP BY device, metric, ts)"
    )
    db.execute("DROP INDEX readings_device_metric_ts")
    db.execute("CREATE UNIQUE INDEX readings_identity ON readings (device, metric, ts)")
    db.execute(
        "DELETE FROM access_events WHERE id NOT IN"
        " (SELECT MIN(id) FROM access_events GROUP BY device, ts, card, result)"
    )
    db.execute(
        "CREATE UNIQUE INDEX access_events_identity ON access_events (device, ts, card, result)"
    )


@migrations()
def m003_meter_events(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE meter_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, metric TEXT NOT NULL,
            ts REAL NOT NULL, kind TEXT NOT NULL, value REAL NOT NULL, previous REAL)"""
    )


@migrations()
def m004_identity_includes_the_value(db: sqlite_utils.Database) -> None:
    # Device clocks often have whole seconds (Zigbee2MQTT's local last_seen, Tasmota's Time): a
    # door opened and closed within one second is two readings, not one and a duplicate. A
    # redelivered message repeats the value too, so it is still recognised.
    db.execute("DROP INDEX readings_identity")
    db.execute("CREATE UNIQUE INDEX readings_identity ON readings (device, metric, ts, value)")


@migrations()
def m005_import_queue(db: sqlite_utils.Database) -> None:
    # Readings imported by hand (agent import-readings, another process) that the writer's rule
    # engine has not seen yet: the writer evaluates and deletes them in one transaction.
    db.execute("CREATE TABLE import_queue (reading INTEGER PRIMARY KEY)")


@migrations()
def m006_notifications(db: sqlite_utils.Database) -> None:
    # The notification outbox (agent.notify.outbox). The trigger queues every alarm change in the
    # transaction that records it, so a change committed just before a crash is still notified;
    # it copies the row rather than naming its id, which a sync may renumber. Changes recorded
    # before this migration are history, not news: none is queued.
    db.execute(
        """CREATE TABLE notify_queue (
            id INTEGER PRIMARY KEY AUTOINCREMENT, alarm_id TEXT NOT NULL, kind TEXT NOT NULL,
            at REAL NOT NULL, by TEXT, snapshot TEXT NOT NULL)"""
    )
    db.execute(
        """CREATE TRIGGER alarm_events_notify AFTER INSERT ON alarm_events BEGIN
            INSERT INTO notify_queue (alarm_id, kind, at, by, snapshot)
            VALUES (NEW.alarm_id, NEW.kind, NEW.at, NEW.by, NEW.snapshot);
        END"""
    )
    # target: the URL's fingerprint, shown: its redacted form; the URL stays in the config.
    db.execute(
        """CREATE TABLE notifications (
            id INTEGER PRIMARY KEY AUTOINCREMENT, alarm_id TEXT NOT NULL, change TEXT NOT NULL,
            recipient TEXT NOT NULL, target TEXT NOT NULL, shown TEXT NOT NULL,
            kind TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
            created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL, delivered_at REAL, failed_at REAL, last_error TEXT)"""
    )
    db.execute(
        "CREATE INDEX notifications_pending ON notifications (target, id)"
        " WHERE delivered_at IS NULL AND failed_at IS NULL"
    )


@migrations()
def m007_notify_intents(db: sqlite_utils.Database) -> None:
    # What escalation (agent.notify.escalation) planned, one row per rules.escalation.Intent, in
    # the transaction that inserts its notifications: rebuilt into ``sent`` after a restart, so a
    # step planned once is never planned again. ``alarms``: a flood's, as JSON.
    db.execute(
        """CREATE TABLE notify_intents (
            id INTEGER PRIMARY KEY AUTOINCREMENT, post TEXT, alarm_id TEXT NOT NULL,
            activation INTEGER NOT NULL, reason TEXT NOT NULL, run INTEGER NOT NULL,
            step INTEGER NOT NULL, who TEXT NOT NULL, at REAL NOT NULL, alarms TEXT NOT NULL,
            planned_at REAL NOT NULL, UNIQUE (alarm_id, activation, reason, run, step, who))"""
    )
    db.execute("ALTER TABLE notifications ADD COLUMN intent INTEGER")
    # An alarm's history, read on every pass of the notifier.
    db.execute("CREATE INDEX alarm_events_alarm ON alarm_events (alarm_id, id)")


@migrations()
def m008_operator_actions(db: sqlite_utils.Database) -> None:
    # Latched alarms and their dispositions (rules.alarm), and the operator action log
    # (rules.actions): ``uid`` is the action's id at both ends, ``id`` its sync sequence here.
    # ``applied_at`` NULL: taken by `agent` CLI commands (another process) and not yet applied by
    # the writer, which owns the alarms.
    for column in ("latched INTEGER NOT NULL DEFAULT 0", "closed_at REAL", "closed_by TEXT"):
        db.execute(f"ALTER TABLE alarms ADD COLUMN {column}")
    db.execute("ALTER TABLE alarms ADD COLUMN disposition TEXT")
    db.execute(
        """CREATE TABLE actions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
            rule TEXT NOT NULL, alarm_id TEXT, by TEXT NOT NULL, at REAL NOT NULL, note TEXT,
            until REAL, activation INTEGER, origin TEXT NOT NULL, applied_at REAL, error TEXT)"""
    )
    db.execute("CREATE INDEX actions_rule ON actions (rule, at)")
    db.execute("CREATE INDEX actions_pending ON actions (id) WHERE applied_at IS NULL")


@migrations()
def m009_notify_routing(db: sqlite_utils.Database) -> None:
    # Grouping (agent.notify.groups): a step escalation planned waits in notify_held for its
    # group's message, which releases it in the transaction that inserts the message; each
    # group's last message and the alarms it told of are in notify_groups. Both survive a
    # restart, so a group wait under way is neither lost nor sent twice. ``grp``: the values of
    # the group_by labels, as JSON.
    db.execute(
        """CREATE TABLE notify_held (
            intent INTEGER PRIMARY KEY, post TEXT NOT NULL, who TEXT NOT NULL,
            grp TEXT NOT NULL, first INTEGER NOT NULL, held_at REAL NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE notify_groups (
            post TEXT NOT NULL, who TEXT NOT NULL, grp TEXT NOT NULL, last_sent_at REAL NOT NULL,
            told TEXT NOT NULL, PRIMARY KEY (post, who, grp))"""
    )
    # Silences (agent.notify.silences), keyed by a uuid so the hub can take them over later.
    db.execute(
        """CREATE TABLE silences (
            id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at REAL NOT NULL,
            ends_at REAL NOT NULL, created_by TEXT NOT NULL, comment TEXT NOT NULL,
            created_at REAL NOT NULL)"""
    )


@migrations()
def m010_hub_config(db: sqlite_utils.Database) -> None:
    # Every site configuration version the hub delivered (agent.downlink), as it was sent, and
    # what became of it: applied (applied_at) or refused (error). The newest applied one is what
    # a restart runs; a refused one is reported to the hub and never tried again.
    db.execute(
        """CREATE TABLE hub_config (
            version INTEGER PRIMARY KEY, format TEXT NOT NULL, text TEXT NOT NULL,
            by TEXT NOT NULL, at REAL NOT NULL, received_at REAL NOT NULL, applied_at REAL,
            error TEXT)"""
    )


@migrations()
def m011_rollups(db: sqlite_utils.Database) -> None:
    # Hourly rollups of thinned readings (agent.retention). A rollup with replaces_through set
    # stands in for the unsent readings with ids in (replaces_after, replaces_through] and goes to
    # the hub as the rollups stream; the others summarise readings the hub already holds. Rows
    # are never merged after the fact: several of one hour combine (agent.retention.rollup).
    db.execute(
        """CREATE TABLE rollups (
            id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, metric TEXT NOT NULL,
            hour REAL NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
            sum REAL NOT NULL, first_ts REAL NOT NULL, first REAL NOT NULL,
            last_ts REAL NOT NULL, last REAL NOT NULL,
            replaces_after INTEGER, replaces_through INTEGER)"""
    )
    db.execute("CREATE INDEX rollups_hour ON rollups (hour)")
    db.execute("CREATE INDEX rollups_stand_ins ON rollups (id) WHERE replaces_through IS NOT NULL")
    # Rows thinned per kind since the store began: reported to the hub with every batch.
    db.execute("CREATE TABLE thinned (kind TEXT PRIMARY KEY, count INTEGER NOT NULL)")


@migrations()
def m012_excursions(db: sqlite_utils.Database) -> None:
    # Completed cold-chain excursions (rules.excursion.ExcursionRecord), inserted by the writer in
    # the transaction that saves the drained rule state, so each is here exactly once. ``doors``:
    # the door events during it, as JSON. AUTOINCREMENT: ids are the sync sequence numbers.
    db.execute(
        """CREATE TABLE excursions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, device TEXT NOT NULL,
            metric TEXT NOT NULL, started_at REAL NOT NULL, ended_at REAL NOT NULL,
            lowest REAL NOT NULL, highest REAL NOT NULL, ended_by TEXT NOT NULL,
            doors TEXT NOT NULL, doors_dropped INTEGER NOT NULL)"""
    )
    db.execute("CREATE INDEX excursions_device_started ON excursions (device, started_at)")
