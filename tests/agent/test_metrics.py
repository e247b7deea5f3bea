"""``GET /metrics`` on a running agent, scraped over HTTP and parsed as Prometheus would."""

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from agent.runtime import Agent
from sync.hub import auth
from tests.hubfixtures import T0, RunningHub
from tests.support.mosquitto import Broker
from tests.support.site import publish, publisher, site_config
from tests.support.wait import until


def scrape(agent: Agent) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{agent.metrics_port}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_what_the_agent_did(agent: Agent, broker: Broker) -> None:
    client = publisher(broker.port)
    publish(client, "fw/clinic/main-meter/power", {"ts": 1_763_900_000, "value": 5})
    publish(client, "fw/clinic/main-meter/power", {"ts": 1_763_900_000, "value": 5})
    publish(client, "fw/clinic/ghost/power", b"1")
    until(lambda: agent.writer.stats.commits > 0 and sum(agent.writer.stats.quarantined.values()))
    metrics = scrape(agent)
    assert metrics[("fw_messages_received_total", (("format", "native"),))] == 3
    assert metrics[("fw_readings_stored_total", ())] == 1
    assert metrics[("fw_duplicates_total", ())] == 1
    assert metrics[("fw_quarantined_total", (("device", "ghost"),))] == 1
    assert metrics[("fw_unsent", (("stream", "readings"),))] == 1
    assert metrics[("fw_mqtt_connected", ())] == 1
    assert metrics[("fw_mqtt_receiver_restarts_total", ())] == 0
    assert metrics[("fw_queue_depth", ())] == 0
    assert metrics[("fw_commit_seconds_total", ())] > 0
    assert 0 < metrics[("fw_store_bytes", ())] < metrics[("fw_store_max_bytes", ())] == 500e6
    assert metrics[("fw_storage_pressure", ())] == 0
    assert metrics[("fw_thinned_total", (("kind", "rolled_up"),))] == 0


def test_metrics_show_the_clock_offset_of_the_last_sync(
    tmp_path: Path, broker: Broker, hub: RunningHub
) -> None:
    token = auth.create_agent(hub.hubdb, "clinic", now=T0)
    running = Agent(site_config(tmp_path / "agent.db", broker.url, hub_url=hub.url, token=token))
    running.start()
    try:
        until(lambda: running.syncer is not None and running.syncer.status.clock is not None)
        metrics = scrape(running)
    finally:
        running.stop()
    offset = metrics[("fw_clock_offset_seconds", ())]
    round_trip = metrics[("fw_sync_round_trip_seconds", ())]
    # One machine, one clock: the hub read it between the request and the answer.
    assert abs(offset) <= round_trip / 2 + 1e-6
