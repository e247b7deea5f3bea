"""The real hub, on SQLite and on PostgreSQL (see ``tests.hubfixtures``), for agent-to-hub tests;
and the test site's agent, running against the module's broker."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.runtime import Agent
from tests.hubfixtures import hub, hub_db_url, hubdb, pg_database
from tests.support.mosquitto import Broker
from tests.support.site import site_config
from tests.support.wait import until

__all__ = ["agent", "hub", "hub_db_url", "hubdb", "pg_database"]


@pytest.fixture
def agent(tmp_path: Path, broker: Broker) -> Iterator[Agent]:
    """The test site's agent (``tests.support.site``), started and subscribed."""
    running = Agent(site_config(tmp_path / "agent.db", broker.url))
    running.start()
    until(lambda: running.subscriber.subscribed)
    yield running
    running.stop()
