"""What the fault tests publish and what they expect at both ends.

Bulk readings travel as the native batched payload (a JSON array of up to 1000 ``{"ts",
"value"}``), so 100,000 of them are 100 MQTT messages. Between the batches come single
temperature readings that raise and clear the freezer alarm again and again, and card swipes, so
every stream has records in flight whenever a fault strikes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from paho.mqtt.client import MQTTMessageInfo

from agent.outbox import FILTERS
from tests.support.agent import AgentProcess
from tests.support.ledger import HubView, Ledger, agent_ledger
from tests.support.mosquitto import Broker
from tests.support.site import publisher, site_yaml
from tests.support.wait import until

T0 = 1_763_900_000.0
BATCH = 1000
# The freezer alarm (site.py: above -15 °C, deadband 1) raises at -10 and clears at -20.
WARM, COLD = -10.0, -20.0
STREAMS = ("readings", "access_events", "alarm_events", "meter_events", "rollups")


@dataclass(frozen=True)
class Workload:
    site: str
    readings: int
    # One temperature reading and one swipe after every ``every`` batches.
    every: int = 5

    @property
    def batches(self) -> int:
        return -(-self.readings // BATCH)

    def temperatures(self) -> list[tuple[float, float]]:
        moments = range(0, self.batches, self.every)
        return [(T0 + n, WARM if k % 2 == 0 else COLD) for k, n in enumerate(moments)]

    def swipes(self) -> list[tuple[float, str]]:
        return [(T0 + n, f"card-{n}") for n in range(0, self.batches, self.every)]

    def expected_readings(self) -> list[tuple[str, str, float, float]]:
        power = [("main-meter", "power", T0 + i, float(i)) for i in range(self.readings)]
        freezer = [("freezer-1", "temperature", ts, v) for ts, v in self.temperatures()]
        return sorted(power + freezer)

    def expected_access(self) -> list[tuple[str, float, str, str]]:
        return sorted(("gate-north", ts, card, "granted") for ts, card in self.swipes())


def publish_workload(port: int, work: Workload) -> None:
    """Publish everything at QoS 1 and wait until the broker has taken it all."""
    client = publisher(port)
    topic = f"fw/{work.site}"
    temperatures = dict(work.temperatures())
    swipes = dict(work.swipes())
    sent: list[MQTTMessageInfo] = []
    for n in range(work.batches):
        first = n * BATCH
        rows = [
            {"ts": T0 + i, "value": float(i)}
            for i in range(first, min(first + BATCH, work.readings))
        ]
        sent.append(client.publish(f"{topic}/main-meter/power", json.dumps(rows), qos=1))
        if T0 + n in temperatures:
            body = {"ts": T0 + n, "value": temperatures[T0 + n]}
            sent.append(client.publish(f"{topic}/freezer-1/temperature", json.dumps(body), qos=1))
            swipe = {"ts": T0 + n, "card": swipes[T0 + n], "result": "granted"}
            sent.append(client.publish(f"{topic}/gate-north/access", json.dumps(swipe), qos=1))
    for info in sent:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def site_agent(
    workdir: Path,
    broker: Broker,
    hub_url: str,
    token: str,
    site: str,
    hub_options: str = "",
    storage_options: str = "",
) -> AgentProcess:
    config = site_yaml(
        workdir / "agent.db",
        broker.url,
        hub_url=hub_url,
        token=token,
        site=site,
        hub_options=hub_options,
        storage_options=storage_options,
    )
    return AgentProcess(workdir, config)


def unsent(agent: AgentProcess) -> int:
    """Records the hub has not acknowledged (-1 before the store exists)."""
    owed = " + ".join(
        f"(SELECT COUNT(*) FROM {s} WHERE {FILTERS.get(s, '')}id >"
        f" COALESCE((SELECT acked FROM sync_cursors WHERE stream = '{s}'), 0))"
        for s in STREAMS
    )
    return agent.count(f"SELECT {owed}")


def stored(agent: AgentProcess) -> int:
    return agent.count("SELECT COUNT(*) FROM readings")


def settle(agent: AgentProcess, hub: HubView, work: Workload, timeout: float = 90) -> Ledger:
    """Wait until the agent holds every published reading and the hub has acknowledged all it
    holds; then both sides must hold the same records, each once, and exactly what was
    published. Returns the agent's ledger."""
    total = len(work.expected_readings())
    until(lambda: stored(agent) == total and unsent(agent) == 0, timeout=timeout, every=0.2)
    here, there = agent_ledger(agent.db), hub.ledger(work.site)
    assert here.counts() == there.counts()
    assert here == there
    assert here.readings == work.expected_readings()
    assert here.access_events == work.expected_access()
    return here


def alarm_history(work: Workload) -> list[str]:
    """The freezer alarm's history when every temperature is evaluated once: raised at the first
    warm reading, cleared at each cold one, raised again (a new activation) at each warm one."""
    kinds = ["cleared" if v == COLD else "reraised" for _, v in work.temperatures()]
    return ["raised", *kinds[1:]]
