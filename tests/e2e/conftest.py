"""The real hub, on SQLite and on PostgreSQL (see ``tests.hubfixtures``), for in-process
agent-to-hub tests; ``test_site`` runs its own hub process instead."""

from tests.hubfixtures import hub, hub_db_url, pg_database

__all__ = ["hub", "hub_db_url", "pg_database"]
