"""The agent's store at its size limit during an outage: with the hub stopped, 150,000 readings,
the freezer alarm raised and cleared again and again and card swipes arrive, and take the store
(at the smallest ``storage.max_size`` allowed, 16MB) past the 90% where it thins, to about 16.7MB.
The agent raises ``storage_pressure`` and rolls readings it could not send up into hourly rollups
that stand in for them; the hub comes back while it still thins, and the agent catches it up.
Every access event and alarm change is at the hub once, the alarm histories are the same on both
sides, every reading is there either raw or counted in exactly one stand-in rollup, and the store
is back under its limit."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import reduce
from pathlib import Path

import pytest

from agent.retention import RULE, Rollup, combine, measure, roll_up
from tests.faults.workload import Workload, alarm_history, publish_workload, site_agent, unsent
from tests.support.agent import AgentProcess
from tests.support.hub import Hub
from tests.support.ledger import HubView, Ledger, Row, agent_ledger, agent_stand_ins
from tests.support.mosquitto import Broker
from tests.support.sqlite import connected
from tests.support.wait import until

# 150,000 readings take the store (about 83 bytes a reading, and a WAL of 4MB) past 16MB: the
# writer thins 2,000 a second from 90% of it until it is under 80%.
WORK = Workload(site="fault-store-full", readings=150_000, every=2)
MAX_SIZE = 16 * 1000**2
HELD = "SELECT (SELECT COUNT(*) FROM readings)"
HELD += " + (SELECT COALESCE(SUM(count), 0) FROM rollups WHERE replaces_through IS NOT NULL)"
STAND_INS = "SELECT COUNT(*) FROM rollups WHERE replaces_through IS NOT NULL"
PRESSURE = f"SELECT COUNT(*) FROM alarms WHERE rule = '{RULE}' AND active = {{}}"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_store_full_during_an_outage(
    tmp_path: Path, broker: Broker, hub: Hub, hub_view: HubView
) -> None:
    token = hub.create_agent(WORK.site)
    # The workload's readings are of November 2025 (T0): rollups older than keep_rollups by the
    # wall clock expire once sent, so keep them ten years, or the test would fail from 2027.
    storage = f"max_size: {MAX_SIZE}, keep_rollups: 3650d"
    agent = site_agent(tmp_path / "agent", broker, hub.url, token, WORK.site, "", storage)
    agent.start()
    agent.wait_subscribed()
    until(lambda: hub_view.count(WORK.site, "sync_cursors") > 0, timeout=30)
    hub.stop()
    publish_workload(broker.port, WORK)
    total = len(WORK.expected_readings())
    # Everything arrived, and readings the hub never had are being rolled up.
    until(lambda: agent.count(HELD) == total and agent.count(STAND_INS) > 0, timeout=60)
    assert agent.count(PRESSURE.format(1)) == 1
    assert hub_view.count(WORK.site) == 0
    # Back while the agent still thins. Not later: its retries back off with full jitter up to
    # 300 s, so after a 40 s outage the first one to find the hub could be a minute away.
    hub.start(Path(hub.db_url.removeprefix("sqlite:///")).parent / "hub.log")
    until(lambda: agent.count(PRESSURE.format(0)) == 1 and unsent(agent) == 0, timeout=90)
    here, there = agent_ledger(agent.db), hub_view.ledger(WORK.site)
    assert (here.alarms, here.alarm_events) == (there.alarms, there.alarm_events)
    assert here.access_events == there.access_events == WORK.expected_access()
    assert history(here, "freezer-warm") == alarm_history(WORK)
    assert history(here, RULE) == ["raised", "cleared"]
    stand_ins = hub_view.stand_ins(WORK.site)
    assert stand_ins == agent_stand_ins(agent.db)
    assert_every_reading_once(hub_view.raw_readings(WORK.site), stand_ins)
    assert size(agent) < MAX_SIZE
    assert agent.stop() == 0


def history(ledger: Ledger, rule: str) -> list[str]:
    rules = {row[0]: row[1] for row in ledger.alarms}
    return [kind for _, alarm_id, kind, _, _ in ledger.alarm_events if rules[alarm_id] == rule]


def assert_every_reading_once(raw: list[Row], stand_ins: list[Row]) -> None:
    """Each published reading is at the hub raw, or else in the stand-in rollups of its hour
    (which hold exactly the readings missing raw), and no raw reading lies in a replaced range."""
    published = WORK.expected_readings()
    held = Counter(row[1:] for row in raw)
    assert max(held.values()) == 1
    assert set(held) <= set(published)
    missing = [r for r in published if r not in held]
    rolled_up = sum(row[4] for row in stand_ins)
    assert (len(raw), rolled_up, len(raw) + rolled_up) == (len(held), len(missing), len(published))
    assert hourly(roll_up(missing)) == hourly(Rollup(*row[1:12]) for row in stand_ins)
    ranges = sorted({(row[12], row[13]) for row in stand_ins})
    assert not any(after < row[0] <= through for row in raw for after, through in ranges)


def hourly(rollups: Iterable[Rollup]) -> dict[tuple[str, str, float], Rollup]:
    """One rollup per series and hour, however many slices made it."""
    series: dict[tuple[str, str, float], list[Rollup]] = defaultdict(list)
    for r in rollups:
        series[(r.device, r.metric, r.hour)].append(r)
    return {key: reduce(combine, parts) for key, parts in series.items()}


def size(agent: AgentProcess) -> int:
    with connected(agent.db, timeout=30) as conn:
        return measure(conn).size
