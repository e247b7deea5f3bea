"""A Modbus meter polled by the agent: pymodbus's own server on loopback, the real agent."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.config import parse_site
from agent.runtime import Agent
from tests.support.modbus import SDM630_IMAGE, MeterServer
from tests.support.mosquitto import Broker
from tests.support.sqlite import rows
from tests.support.wait import until

SITE = """
site: {{id: plant, timezone: Asia/Shanghai}}
mqtt: {{url: "{url}", client_id: "modbus-{name}"}}
storage: {{path: "{db}", commit_interval: 20ms}}
metrics: {{port: 0}}
devices:
  - {{id: switch-room, kind: power_meter,
     source: {{format: modbus, host: 127.0.0.1, port: {port}, map: sdm630, interval: 200ms,
              timeout: 500ms, retries: 0}}}}
rules:
  - {{id: meter-silent, type: stale, device: switch-room, after: 1h, severity: medium}}
"""


@pytest.fixture
def meter() -> Iterator[MeterServer]:
    server = MeterServer(SDM630_IMAGE)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def agent(tmp_path: Path, broker: Broker, meter: MeterServer) -> Iterator[Agent]:
    text = SITE.format(
        url=broker.url, db=tmp_path / "agent.db", name=tmp_path.name, port=meter.port
    )
    config, _ = parse_site(text, env={})
    running = Agent(config)
    running.start()
    yield running
    running.stop()


def test_a_polled_meter_is_stored_and_goes_offline_when_it_stops_answering(
    agent: Agent, meter: MeterServer
) -> None:
    db = agent.config.storage.path
    until(lambda: len(rows(db, "SELECT 1 FROM readings")) >= 2)
    assert set(rows(db, "SELECT DISTINCT metric, value FROM readings")) == {
        ("energy", 12345.6),
        ("power", 2875.3),
    }
    meter.stop()
    until(lambda: rows(db, "SELECT rule, state FROM alarms"), timeout=30)
    assert rows(db, "SELECT rule, state FROM alarms") == [("meter-silent", "unacknowledged")]
    scraped = httpx.get(f"http://127.0.0.1:{agent.metrics_port}/metrics").text
    assert 'fw_modbus_offline{device="switch-room"} 1.0' in scraped
    assert 'fw_modbus_poll_errors_total{device="switch-room",kind="unreachable"}' in scraped
