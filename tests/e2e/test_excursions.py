"""Cold-chain excursion records from the agent to the hub's API, every part real but the MQTT hop:
readings and door contacts into the writer, the rule's records into the store, the syncer to the
hub under uvicorn (SQLite and PostgreSQL), ``GET /api/v1/excursions`` — each record exactly once,
however often it is sent."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from agent import outbox, store
from agent.config import SiteConfig, parse_site
from agent.syncer import Syncer
from agent.writer import SyncAcked, Writer
from collector.models import Reading
from rules.engine import Engine
from sync.client import SyncClient
from sync.hub import auth
from tests.hubfixtures import RunningHub, bearer

T0 = 1_763_900_000.0  # 2025-11-23T12:13:20Z
M = 60.0
SITE = """
site: {{id: clinic}}
storage: {{path: "{db}"}}
devices:
  - {{id: fridge-1, kind: temperature}}
  - {{id: fridge-1-door, kind: door}}
rules:
  - {{id: vaccines, type: excursion, device: fridge-1, low: 2, high: 8, doors: [fridge-1-door],
     triggers: [{{above: 8, for: 30m}}]}}
"""


@pytest.fixture
def config(tmp_path: Path) -> SiteConfig:
    parsed, _ = parse_site(SITE.format(db=tmp_path / "agent.db"), env={})
    return parsed


@pytest.fixture
def writer(config: SiteConfig) -> Iterator[Writer]:
    conn = store.open_store(config.storage.path, "clinic")
    running = Writer(conn, Engine.restore(list(config.rules), T0, {}, []), commit_interval=0.01)
    running.start()
    yield running
    running.stop()
    conn.close()


@pytest.fixture
def syncer(hub: RunningHub, config: SiteConfig, writer: Writer) -> Iterator[Syncer]:
    token = auth.create_agent(hub.hubdb, "clinic", now=T0)
    with httpx.Client(base_url=hub.url, timeout=30, verify=False) as http:
        yield Syncer(
            store.connect(config.storage.path, readonly=True),
            SyncClient(http, token),
            writer,
            site="clinic",
            devices=list(config.devices),
            interval=1.0,
            batch_size=1,
        )


def feed(writer: Writer, readings: Sequence[tuple[str, float, float]]) -> None:
    for device, minutes, value in readings:
        metric = "contact" if device.endswith("door") else "temperature"
        at = T0 + minutes * M
        writer.submit(Reading(device, metric, at, value, at))
    assert writer.flush()


def sync_all(syncer: Syncer) -> None:
    while syncer.sync_once():
        pass


@pytest.fixture
def keeper(hub: RunningHub) -> dict[str, str]:
    """A maintenance user's API token: the cold-store keeper reads the records."""
    _, api = auth.create_user(hub.hubdb, "li", "maintenance", now=T0)
    return bearer(api)


Seen = tuple[int, str, str, float, list[tuple[str, bool]]]


def at_the_hub(hub: RunningHub, keeper: dict[str, str]) -> list[Seen]:
    with httpx.Client(base_url=hub.url, verify=False) as http:
        found = http.get("/api/v1/excursions", headers=keeper).json()["items"]
    return [
        (
            x["seq"],
            x["started_at"],
            x["ended_at"],
            x["highest"],
            [(d["door"], d["open"]) for d in x["doors"]],
        )
        for x in found
    ]


FIRST = [("fridge-1", 0, 5), ("fridge-1", 10, 9), ("fridge-1-door", 15, 1), ("fridge-1", 20, 10)]
SECOND = [("fridge-1-door", 25, 0), ("fridge-1", 50, 5), ("fridge-1", 60, 12), ("fridge-1", 65, 6)]


def test_excursions_reach_the_api_exactly_once_after_a_resend(
    hub: RunningHub, writer: Writer, syncer: Syncer, keeper: dict[str, str]
) -> None:
    feed(writer, FIRST)  # an excursion going on: nothing to send yet
    sync_all(syncer)
    assert at_the_hub(hub, keeper) == []
    feed(writer, SECOND)
    sync_all(syncer)
    # The hub's answers lost: the agent sends every excursion again.
    writer.submit(SyncAcked(cursors={"excursions": 0}, actions=[], reported=[], at=T0 + 70 * M))
    assert writer.flush()
    again = outbox.build_batch(syncer.conn, "clinic", limit=10, now=T0 + 70 * M).excursions
    assert again is not None and [x.seq for x in again.items] == [1, 2]
    sync_all(syncer)
    assert at_the_hub(hub, keeper) == [
        (
            1,
            "2025-11-23T12:23:20.000Z",
            "2025-11-23T13:03:20.000Z",
            10.0,
            [("fridge-1-door", True), ("fridge-1-door", False)],
        ),
        (2, "2025-11-23T13:13:20.000Z", "2025-11-23T13:18:20.000Z", 12.0, []),
    ]
    assert store.cursors(syncer.conn)["excursions"] == 2
