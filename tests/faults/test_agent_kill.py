"""The agent killed with SIGKILL while readings arrive and while it syncs, then started again:
every record reaches the hub once, and the alarms and their histories are the same on both
sides."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.faults.workload import Workload, publish_workload, settle, site_agent, stored, unsent
from tests.support.hub import Hub
from tests.support.ledger import HubView
from tests.support.mosquitto import Broker
from tests.support.wait import until

WORK = Workload(site="fault-agent-kill", readings=60_000, every=2)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_agent_killed_during_ingest_and_during_sync(
    tmp_path: Path, broker: Broker, hub: Hub, hub_view: HubView
) -> None:
    token = hub.create_agent(WORK.site)
    agent = site_agent(tmp_path / "agent", broker, hub.url, token, WORK.site, "batch_size: 1000")
    agent.start()
    agent.wait_subscribed()
    sender = threading.Thread(target=publish_workload, args=(broker.port, WORK))
    sender.start()
    # During ingest: messages are arriving and being committed.
    until(lambda: stored(agent) >= 15_000, timeout=60, every=0.01)
    agent.kill()
    agent.start()
    sender.join(120)
    # During sync: the agent holds everything and is catching the hub up, batch after batch.
    total = len(WORK.expected_readings())
    until(lambda: stored(agent) == total, timeout=60)
    until(lambda: hub_view.count(WORK.site) >= total // 5, timeout=60, every=0.01)
    assert unsent(agent) > 0
    agent.kill()
    agent.start()
    held = settle(agent, hub_view, WORK)
    assert held.alarm_events
    assert agent.stop() == 0
