"""The hub's tables, as SQLAlchemy Core metadata: the shape after every migration has run.

Times are float unix seconds (UTC), like on the wire; sequence numbers are the agent's row ids.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("applied_at", Double, nullable=False),
)

sites = Table(
    "sites",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("name", Text, nullable=False),
    Column("timezone", String(100)),
    Column("last_sync_at", Double),
    Column("agent_version", String(100)),
    Column("quarantined", Integer, nullable=False, default=0),
    # The agent's last clock measurement (sync.clock): add the offset to its time to get ours;
    # clock_measured_at is on the hub's clock.
    Column("clock_offset", Double),
    Column("clock_round_trip", Double),
    Column("clock_measured_at", Double),
)

devices = Table(
    "devices",
    metadata,
    Column("site", String(100), ForeignKey("sites.id"), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("name", Text),
    Column("kind", String(50), nullable=False),
    Column("building", Text),
    Column("floor", Text),
    Column("room", Text),
    Column("department", Text),
)

agents = Table(
    "agents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", String(100), ForeignKey("sites.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Double, nullable=False),
    Column("revoked_at", Double),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Double, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("expires_at", Double),
)

readings = Table(
    "readings",
    metadata,
    Column("site", String(100), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("device", String(200), nullable=False),
    Column("metric", String(50), nullable=False),
    Column("ts", Double, nullable=False),
    Column("value", Double, nullable=False),
    Column("received_at", Double, nullable=False),
    Index("readings_site_device_metric_ts", "site", "device", "metric", "ts"),
    Index("readings_ts", "ts"),
)

latest_readings = Table(
    "latest_readings",
    metadata,
    Column("site", String(100), primary_key=True),
    Column("device", String(200), primary_key=True),
    Column("metric", String(50), primary_key=True),
    Column("ts", Double, nullable=False),
    Column("value", Double, nullable=False),
)

# The last swipe at each reader, kept at ingest so the dashboard never scans the gate log.
latest_access = Table(
    "latest_access",
    metadata,
    Column("site", String(100), primary_key=True),
    Column("device", String(200), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("ts", Double, nullable=False),
    Column("card", String(200), nullable=False),
    Column("result", String(10), nullable=False),
    Column("direction", String(10)),
    Column("reason", Text),
)

access_events = Table(
    "access_events",
    metadata,
    Column("site", String(100), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("device", String(200), nullable=False),
    Column("ts", Double, nullable=False),
    Column("card", String(200), nullable=False),
    Column("result", String(10), nullable=False),
    Column("direction", String(10)),
    Column("reason", Text),
    Column("received_at", Double, nullable=False),
    Index("access_events_site_ts", "site", "ts"),
    Index("access_events_card_ts", "card", "ts"),
)

# Resets, rollovers, gaps, jitter from the agent (positive seq, its row id) and replacements entered
# at the hub with hand-read readings (negative seq, as for those readings).
meter_events = Table(
    "meter_events",
    metadata,
    Column("site", String(100), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("device", String(200), nullable=False),
    Column("metric", String(50), nullable=False),
    Column("ts", Double, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("value", Double, nullable=False),
    Column("previous", Double),
    Index("meter_events_site_device_ts", "site", "device", "ts"),
    Index("meter_events_ts", "ts"),
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("site", String(100), nullable=False),
    Column("rule", String(200), nullable=False),
    Column("device", String(200), nullable=False),
    Column("metric", String(50)),
    Column("severity", String(50), nullable=False),
    Column("post", String(200)),
    Column("message", Text, nullable=False),
    Column("raised_at", Double, nullable=False),
    Column("changed_at", Double, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("activations", Integer, nullable=False, server_default="1"),
    Column("value", Double),
    Column("acked_at", Double),
    Column("acked_by", String(200)),
    Column("cleared_at", Double),
    Column("latched", Boolean, nullable=False, server_default="0"),
    Column("closed_at", Double),
    Column("closed_by", String(200)),
    Column("disposition", Text),
    # Derived from active and acked_at (rules.alarm.Alarm.state), stored to filter in SQL.
    Column("state", String(30), nullable=False),
    Index("alarms_site_state", "site", "state"),
    Index("alarms_raised_at", "raised_at"),
)

alarm_events = Table(
    "alarm_events",
    metadata,
    Column("site", String(100), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("alarm_id", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("at", Double, nullable=False),
    Column("by", String(200)),
    Index("alarm_events_alarm", "alarm_id"),
)

# The operator action log (rules.actions) of every site, whichever end took each action. ``id``
# numbers the hub's deliveries to the agent; ``uid`` is the action's id at both ends. applied_at
# NULL: taken here and not yet applied by the agent. alarm_id '' : the action names a rule alone.
alarm_actions = Table(
    "alarm_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", String(100), nullable=False),
    Column("alarm_id", String(100), nullable=False),
    Column("action", String(20), nullable=False),
    Column("by", String(200), nullable=False),
    Column("at", Double, nullable=False),
    Column("note", Text),
    Column("activation", Integer),
    Column("applied_at", Double),
    Column("uid", String(100)),
    Column("rule", String(200)),
    Column("until", Double),
    Column("origin", String(10), nullable=False, server_default="hub"),
    Index("alarm_actions_site_applied", "site", "applied_at"),
    Index("alarm_actions_uid", "site", "uid", unique=True),
    Index("alarm_actions_rule", "site", "rule"),
)

sync_cursors = Table(
    "sync_cursors",
    metadata,
    Column("site", String(100), primary_key=True),
    Column("stream", String(20), primary_key=True),
    Column("acked", BigInteger, nullable=False),
)

# Site configuration versions edited at the hub (the devices, posts and rules of rules.site):
# immutable, numbered per site from 1. ``document`` is the validated mapping as JSON, the form
# sent to the agent; ``source`` the body as it was sent, comments and all.
site_configs = Table(
    "site_configs",
    metadata,
    Column("site", String(100), ForeignKey("sites.id"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("text", Text, nullable=False),
    Column("format", String(10), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", Double, nullable=False),
)

# What the site's agent last reported: the version it runs, and the last one it refused and why.
site_config_status = Table(
    "site_config_status",
    metadata,
    Column("site", String(100), ForeignKey("sites.id"), primary_key=True),
    Column("applied_version", Integer, nullable=False),
    Column("rejected_version", Integer),
    Column("error", Text),
    Column("reported_at", Double, nullable=False),
)

# Hourly rollups that stand in for readings an agent thinned before sending them (sync.protocol):
# each covers the readings of its series and hour with seq in (replaces_after, replaces_through].
rollups = Table(
    "rollups",
    metadata,
    Column("site", String(100), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("device", String(200), nullable=False),
    Column("metric", String(50), nullable=False),
    Column("hour", Double, nullable=False),
    Column("count", Integer, nullable=False),
    Column("min", Double, nullable=False),
    Column("max", Double, nullable=False),
    Column("sum", Double, nullable=False),
    Column("first_ts", Double, nullable=False),
    Column("first", Double, nullable=False),
    Column("last_ts", Double, nullable=False),
    Column("last", Double, nullable=False),
    Column("replaces_after", BigInteger, nullable=False),
    Column("replaces_through", BigInteger, nullable=False),
    Index("rollups_site_device_metric_hour", "site", "device", "metric", "hour"),
)

# Each site's agent store as its last sync reported it; thinned: JSON, rows per kind in total.
site_stores = Table(
    "site_stores",
    metadata,
    Column("site", String(100), ForeignKey("sites.id"), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("max_size", BigInteger),
    Column("pressure", Boolean, nullable=False),
    Column("thinned", Text, nullable=False),
    Column("reported_at", Double, nullable=False),
)

# Completed cold-chain excursions from the agent's rules (rules.excursion): seq is its row id.
excursions = Table(
    "excursions",
    metadata,
    Column("site", String(100), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("rule", String(200), nullable=False),
    Column("device", String(200), nullable=False),
    Column("metric", String(50), nullable=False),
    Column("started_at", Double, nullable=False),
    Column("ended_at", Double, nullable=False),
    Column("lowest", Double, nullable=False),
    Column("highest", Double, nullable=False),
    Column("ended_by", String(20), nullable=False),
    Column("doors", Text, nullable=False),  # JSON: [{"door", "at", "open"}], in time order
    Column("doors_dropped", Integer, nullable=False),
    Index("excursions_site_device_started", "site", "device", "started_at"),
    Index("excursions_started_at", "started_at"),
)
