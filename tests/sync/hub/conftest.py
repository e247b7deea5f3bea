"""The real hub, on SQLite and on PostgreSQL (see ``tests.hubfixtures``)."""

from tests.hubfixtures import creds, http, hub, hub_db_url, hubdb, pg_database

__all__ = ["creds", "http", "hub", "hub_db_url", "hubdb", "pg_database"]
