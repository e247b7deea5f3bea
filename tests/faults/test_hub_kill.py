"""The hub killed with SIGKILL while it ingests an agent's backlog, on SQLite and on PostgreSQL,
then started again: a transaction cut short leaves nothing behind, the agent resends it, and
every record is at the hub once, the alarms and their histories the same on both sides."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.faults.workload import Workload, publish_workload, settle, site_agent
from tests.hubfixtures import PG_SERVER
from tests.support.hub import Hub, running_hub
from tests.support.ledger import HubView
from tests.support.mosquitto import Broker
from tests.support.wait import until

WORK = Workload(site="fault-hub-kill", readings=40_000, every=2)


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/hub/hub.db"
        return
    name = f"fw_faults_{secrets.token_hex(6)}"
    with psycopg.connect(f"{PG_SERVER}/test", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield f"{PG_SERVER}/{name}"
    with psycopg.connect(f"{PG_SERVER}/test", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def hub(tmp_path: Path, hub_db: str) -> Iterator[Hub]:
    with running_hub(tmp_path / "hub", hub_db) as running:
        yield running


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_hub_killed_during_ingest(
    tmp_path: Path, broker: Broker, hub: Hub, hub_view: HubView
) -> None:
    token = hub.create_agent(WORK.site)
    agent = site_agent(tmp_path / "agent", broker, hub.url, token, WORK.site, "batch_size: 5000")
    agent.start()
    agent.wait_subscribed()
    publish_workload(broker.port, WORK)
    # The agent syncs back to back, 5000 readings a batch: the hub is killed in the middle.
    until(lambda: hub_view.count(WORK.site) >= 10_000, timeout=60, every=0.01)
    hub.kill()
    assert hub_view.count(WORK.site) < len(WORK.expected_readings())
    hub.start(tmp_path / "hub" / "hub.log")
    held = settle(agent, hub_view, WORK)
    assert held.alarm_events
    assert agent.stop() == 0
