"""A TCP proxy between the agent and the hub cuts requests and responses in the middle and holds
answers past the agent's timeout: the hub stores what it committed once however often it is
sent, and the agent resends what it never heard acknowledged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.workload import Workload, alarm_history, publish_workload, settle, site_agent
from tests.support.hub import Hub
from tests.support.ledger import HubView
from tests.support.mosquitto import Broker
from tests.support.proxy import Fault, FaultProxy

WORK = Workload(site="fault-proxy", readings=20_000, every=2)
# A fault at every third request: each costs the agent a back-off (about a second).
PLAN = [
    Fault.PASS,
    Fault.PASS,
    Fault.CUT_REQUEST,
    Fault.PASS,
    Fault.PASS,
    Fault.DELAY_RESPONSE,
    Fault.PASS,
    Fault.PASS,
    Fault.CUT_RESPONSE,
]


@pytest.fixture
def proxy(hub: Hub) -> Iterator[FaultProxy]:
    running = FaultProxy(hub.port, PLAN, delay=1.5)
    running.start()
    yield running
    running.stop()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_requests_cut_and_answers_late_store_every_record_once(
    tmp_path: Path, broker: Broker, hub: Hub, hub_view: HubView, proxy: FaultProxy
) -> None:
    token = hub.create_agent(WORK.site)
    # Batches of 2000 readings: ten of them, so every fault of the plan strikes while they go.
    options = "timeout: 1s, batch_size: 2000"
    agent = site_agent(tmp_path / "agent", broker, proxy.url, token, WORK.site, options)
    agent.start()
    agent.wait_subscribed()
    publish_workload(broker.port, WORK)
    held = settle(agent, hub_view, WORK)
    assert [kind for _, _, kind, _, _ in held.alarm_events] == alarm_history(WORK)
    assert min(proxy.seen[f] for f in PLAN) >= 1
    assert agent.stop() == 0
