"""Operator actions taken at both ends while they cannot talk, then synced: the real agent writer,
outbox and syncer, the real hub under uvicorn (SQLite and PostgreSQL) and its HTTP API. Both ends
end with the same action log, the same standing and the same alarm, whichever synced first."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent import actions, store
from agent.config import SiteConfig, parse_site
from agent.syncer import Syncer
from agent.writer import Tick, Writer
from collector.models import Reading
from rules.engine import Engine
from sync.client import SyncClient
from tests.hubfixtures import Credentials, bearer
from tests.support.site import site_yaml
from tests.support.sqlite import connected


@pytest.fixture
def config(tmp_path: Path) -> SiteConfig:
    parsed, _ = parse_site(site_yaml(tmp_path / "agent.db", "mqtt://127.0.0.1:1"), env={})
    return parsed


@pytest.fixture
def writer(config: SiteConfig) -> Iterator[Writer]:
    conn = store.open_store(config.storage.path, "clinic")
    running = Writer(
        conn, Engine.restore(list(config.rules), time.time(), {}, []), commit_interval=0.01
    )
    running.start()
    yield running
    running.stop()
    conn.close()


@pytest.fixture
def syncer(http: httpx.Client, creds: Credentials, config: SiteConfig, writer: Writer) -> Syncer:
    return Syncer(
        store.connect(config.storage.path, readonly=True),
        SyncClient(http, creds.agent),
        writer,
        site="clinic",
        devices=list(config.devices),
        interval=1.0,
        batch_size=100,
    )


def sync(syncer: Syncer) -> None:
    for _ in range(5):
        if not syncer.sync_once():
            return


def agent_log(config: SiteConfig) -> set[tuple[object, ...]]:
    with connected(config.storage.path) as conn:
        return set(conn.execute("SELECT uid, kind, by, note FROM actions"))


def hub_log(http: httpx.Client, creds: Credentials, alarm_id: str) -> set[tuple[object, ...]]:
    found = http.get(f"/api/v1/alarms/{alarm_id}/actions", headers=bearer(creds.api)).json()
    return {(a["id"], a["kind"], a["by"], a["note"]) for a in found["items"]}


@pytest.mark.parametrize("first", ["agent", "hub"])
def test_actions_at_both_ends_merge_to_the_same_result(
    first: str,
    config: SiteConfig,
    writer: Writer,
    syncer: Syncer,
    http: httpx.Client,
    creds: Credentials,
) -> None:
    now = time.time()
    writer.submit(Reading("freezer-1", "temperature", now, -10.0, now))
    assert writer.flush()
    sync(syncer)
    conn = store.connect(config.storage.path)
    alarm_id = conn.execute("SELECT id FROM alarms").fetchone()[0]
    target = actions.resolve(conn, alarm_id, ["freezer-warm"])

    def on_site() -> None:
        for kind, note, until in [("shelve", None, now + 3600), ("note", "door ajar", None)]:
            actions.take(conn, actions.new_action(kind, target, "Li", now + 1, note, until))
        writer.submit(Tick(now + 2))
        assert writer.flush()

    def at_hub() -> None:
        for body in ({"kind": "disable", "note": "compressor repair"}, {"kind": "ack"}):
            response = http.post(
                f"/api/v1/alarms/{alarm_id}/actions", json=body, headers=bearer(creds.api)
            )
            assert response.status_code == 200

    for side in (on_site, at_hub) if first == "agent" else (at_hub, on_site):
        side()
    sync(syncer)
    sync(syncer)

    assert agent_log(config) == hub_log(http, creds, alarm_id)
    assert len(agent_log(config)) == 4
    seen = http.get(f"/api/v1/alarms/{alarm_id}", headers=bearer(creds.api)).json()
    held = store.open_alarms(conn)[0]
    mine = actions.standings(conn, {held.rule: held}, time.time())["freezer-warm"]
    assert (seen["mode"], seen["acked_by"], seen["state"]) == (
        mine.mode,
        held.acked_by,
        held.state,
    )
    assert (mine.mode, held.acked_by) == ("out_of_service", "ann")
    conn.close()
