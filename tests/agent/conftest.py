"""The real hub, on SQLite and on PostgreSQL (see ``tests.hubfixtures``), for agent-to-hub tests."""

from tests.hubfixtures import hub, hub_db_url, hubdb, pg_database

__all__ = ["hub", "hub_db_url", "hubdb", "pg_database"]
