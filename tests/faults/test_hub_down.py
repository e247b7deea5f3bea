"""The hub stopped while 100,000 readings arrive, then started again: every record reaches it
once, and the alarms and their histories are the same on both sides."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.workload import (
    Workload,
    alarm_history,
    publish_workload,
    settle,
    site_agent,
    stored,
)
from tests.support.hub import Hub
from tests.support.ledger import HubView
from tests.support.mosquitto import Broker
from tests.support.wait import until

WORK = Workload(site="fault-hub-down", readings=100_000)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_hub_down_while_100000_readings_arrive(
    tmp_path: Path, broker: Broker, hub: Hub, hub_view: HubView
) -> None:
    agent = site_agent(tmp_path / "agent", broker, hub.url, hub.create_agent(WORK.site), WORK.site)
    agent.start()
    agent.wait_subscribed()
    until(lambda: hub_view.count(WORK.site, "sync_cursors") > 0, timeout=30)
    hub.stop()
    publish_workload(broker.port, WORK)
    until(lambda: stored(agent) == len(WORK.expected_readings()), timeout=120)
    assert "sync: " in agent.log_text()
    assert hub_view.count(WORK.site) == 0
    hub.start(Path(hub.db_url.removeprefix("sqlite:///")).parent / "hub.log")
    held = settle(agent, hub_view, WORK)
    assert [kind for _, _, kind, _, _ in held.alarm_events] == alarm_history(WORK)
    # One machine, one clock: the offset the agent reported is within its uncertainty of 0.
    offset, round_trip = hub_view.clock(WORK.site)
    assert offset is not None and round_trip is not None
    assert abs(offset) <= round_trip / 2 + 1e-3
    assert agent.stop() == 0
