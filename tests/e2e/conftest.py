"""The real hub, on SQLite and on PostgreSQL (see ``tests.hubfixtures``), with a user and an agent
token, for end-to-end tests."""

from tests.hubfixtures import creds, http, hub, hub_db_url, pg_database

__all__ = ["creds", "http", "hub", "hub_db_url", "pg_database"]
