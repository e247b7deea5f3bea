"""The hub end of the sync protocol: its database, its users and agents, ingest and queries."""

from sync.hub.actions import acknowledge_alarm
from sync.hub.alarms import HubAlarm, get_alarm
from sync.hub.auth import User, create_agent, create_user, login, logout, user_for_token
from sync.hub.db import HubDB, open_hub
from sync.hub.errors import HubError
from sync.hub.ingest import apply_batch

__all__ = [
    "HubAlarm",
    "HubDB",
    "HubError",
    "User",
    "acknowledge_alarm",
    "apply_batch",
    "create_agent",
    "create_user",
    "get_alarm",
    "login",
    "logout",
    "open_hub",
    "user_for_token",
]
