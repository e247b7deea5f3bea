"""The real hub for tests: its database on SQLite and on PostgreSQL, its app under uvicorn, data.

``hub_db_url`` is parametrized over both databases. PostgreSQL (127.0.0.1:5432, trust auth) gets
one fresh database per test session, created through the ``test`` database and dropped at the end;
each test starts from empty tables.
"""

from __future__ import annotations

import gzip
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text

from sync.hub import auth
from sync.hub.db import HubDB, open_hub
from sync.hub.schema import metadata, schema_migrations
from sync.protocol import (
    AccessRecord,
    AlarmEventRecord,
    AlarmRecord,
    Chunk,
    DeviceInfo,
    ExcursionRecord,
    MeterEventRecord,
    OperatorActionRecord,
    ReadingRecord,
    RollupRecord,
    SyncBatch,
)
from tests.support.wait import until
from web.app import create_app

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    name = f"fw_test_{secrets.token_hex(6)}"
    with psycopg.connect(f"{PG_SERVER}/test", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with psycopg.connect(f"{PG_SERVER}/test", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/hub-data/hub.db"
    url: str = request.getfixturevalue("pg_database")
    empty_tables(url)
    return url


def empty_tables(url: str) -> None:
    # DELETE and a sequence reset: TRUNCATE makes new files for every table, ten times slower here.
    hubdb = open_hub(url)
    tables = [t for t in reversed(metadata.sorted_tables) if t is not schema_migrations]
    with hubdb.write() as conn:
        for table in tables:
            conn.execute(table.delete())
        for table in (t for t in tables if "id" in t.c and t.c.id.autoincrement is True):
            conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), 1, false)")
            )
    hubdb.close()


@pytest.fixture
def hubdb(hub_db_url: str) -> Iterator[HubDB]:
    opened = open_hub(hub_db_url)
    yield opened
    opened.close()


@dataclass
class RunningHub:
    url: str
    app: FastAPI

    @property
    def hubdb(self) -> HubDB:
        db: HubDB = self.app.state.hubdb
        return db


@contextmanager
def serve_hub(
    db_url: str, agent_silent_after: timedelta | None = None, check_interval: float = 30.0
) -> Iterator[RunningHub]:
    """The hub app under a real uvicorn, in a thread, on a free loopback port."""
    app = create_app(db_url, agent_silent_after=agent_silent_after, check_interval=check_interval)
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it every response waits out the client's delayed ACK (40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        until(lambda: server.started or not thread.is_alive())
        yield RunningHub(f"http://127.0.0.1:{sock.getsockname()[1]}", app)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def hub(hub_db_url: str) -> Iterator[RunningHub]:
    with serve_hub(hub_db_url) as running:
        yield running


@pytest.fixture
def http(hub: RunningHub) -> Iterator[httpx.Client]:
    # verify=False: plain HTTP on loopback, so skip loading the CA bundle (60 ms per client).
    with httpx.Client(base_url=hub.url, timeout=30, verify=False) as client:
        yield client


@dataclass(frozen=True)
class Credentials:
    agent: str
    password: str
    api: str


@pytest.fixture
def creds(hub: RunningHub) -> Credentials:
    """An agent token for site ``clinic`` and a ``maintenance`` user ``ann``."""
    agent = auth.create_agent(hub.hubdb, "clinic", now=T0)
    password, api = auth.create_user(hub.hubdb, "ann", "maintenance", now=T0)
    return Credentials(agent, password, api)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def reading(seq: int, ts: float = T0, value: float = 1.0, **fields: str) -> ReadingRecord:
    base = {"device": "freezer-1", "metric": "temperature"} | fields
    return ReadingRecord(seq=seq, ts=ts, value=value, received_at=ts, **base)


def access(seq: int, ts: float = T0, card: str = "0001", **fields: str) -> AccessRecord:
    base = {"device": "gate-north", "result": "granted"} | fields
    return AccessRecord(seq=seq, ts=ts, card=card, received_at=ts, **base)  # type: ignore[arg-type]


def alarm(alarm_id: str = "a1", at: float = T0, **fields: object) -> AlarmRecord:
    base: dict[str, object] = {
        "rule": "freezer-warm",
        "device": "freezer-1",
        "metric": "temperature",
        "severity": "high",
        "post": "cold-store",
        "message": "freezer-1 temperature above -15",
        "raised_at": at,
        "changed_at": at,
        "active": True,
        "value": -12.0,
    }
    return AlarmRecord.model_validate(base | fields | {"id": alarm_id})


def alarm_event(seq: int, record: AlarmRecord, kind: str = "raised") -> AlarmEventRecord:
    return AlarmEventRecord.model_validate(
        {"seq": seq, "kind": kind, "at": record.changed_at, "alarm": record}
    )


def meter_event(
    seq: int, ts: float = T0, kind: str = "reset", value: float = 3.0, **fields: object
) -> MeterEventRecord:
    base: dict[str, object] = {"device": "main-meter", "metric": "energy", "previous": 5021.5}
    return MeterEventRecord.model_validate(
        base | fields | {"seq": seq, "ts": ts, "kind": kind, "value": value}
    )


def rollup(seq: int, replaces: tuple[int, int] = (0, 1), **fields: object) -> RollupRecord:
    base: dict[str, object] = {"device": "freezer-1", "metric": "temperature", "hour": T0 - 400}
    values = {"count": 2, "min": -19.0, "max": -18.0, "sum": -37.0, "first": -19.0, "last": -18.0}
    return RollupRecord.model_validate(
        base
        | values
        | {"first_ts": T0 - 400, "last_ts": T0 - 100}
        | fields
        | {"seq": seq, "replaces_after": replaces[0], "replaces_through": replaces[1]}
    )


def excursion(
    seq: int, start: float = T0, minutes: float = 70.0, **fields: object
) -> ExcursionRecord:
    """A vaccine fridge out of range from ``start`` for ``minutes``, its door opened once."""
    base: dict[str, object] = {
        "rule": "vaccines",
        "device": "fridge-1",
        "metric": "temperature",
        "lowest": -1.5,
        "highest": -0.5,
        "ended_by": "range",
        "doors": [{"door": "fridge-1-door", "at": start + 60, "open": True}],
        "doors_dropped": 0,
    }
    times = {"seq": seq, "started_at": start, "ended_at": start + minutes * 60}
    return ExcursionRecord.model_validate(base | fields | times)


DEVICES = [
    DeviceInfo(id="freezer-1", name="Kitchen freezer", kind="temperature", building="Canteen"),
    DeviceInfo(id="gate-north", name="North gate", kind="access_reader"),
]


def batch(
    site: str = "clinic",
    *,
    readings: list[ReadingRecord] | None = None,
    access_events: list[AccessRecord] | None = None,
    alarm_events: list[AlarmEventRecord] | None = None,
    meter_events: list[MeterEventRecord] | None = None,
    rollups: list[RollupRecord] | None = None,
    excursions: list[ExcursionRecord] | None = None,
    actions: list[OperatorActionRecord] | None = None,
    after: int = 0,
    devices: list[DeviceInfo] | None = None,
    applied_actions: list[int] | None = None,
) -> SyncBatch:
    """A batch whose chunks start ``after`` and run through their last item (or ``after``)."""
    return SyncBatch(
        site=site,
        sent_at=T0,
        agent_version="test",
        devices=devices,
        readings=_chunk(after, readings or []),
        access_events=_chunk(after, access_events or []),
        alarm_events=_chunk(after, alarm_events or []),
        meter_events=_chunk(after, meter_events or []),
        rollups=_chunk(after, rollups or []),
        excursions=_chunk(after, excursions or []),
        actions=_chunk(after, actions or []) if actions else None,
        applied_actions=applied_actions or [],
    )


Record = TypeVar(
    "Record",
    ReadingRecord,
    AccessRecord,
    AlarmEventRecord,
    MeterEventRecord,
    RollupRecord,
    ExcursionRecord,
    OperatorActionRecord,
)


def _chunk(after: int, items: list[Record]) -> Chunk[Record]:
    through = max((i.seq for i in items), default=after)
    return Chunk[Record](after=after, through=through, items=items)


def push(http: httpx.Client, token: str, sent: SyncBatch) -> httpx.Response:
    """POST a batch the way the agent does: gzip JSON with a bearer token."""
    body = gzip.compress(sent.model_dump_json().encode())
    headers = bearer(token) | {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    return http.post("/api/v1/sync", content=body, headers=headers)


def seed_batch() -> SyncBatch:
    """A clinic with an open alarm, readings, access events and hostile strings."""
    hostile = DeviceInfo(id="probe-x", name="<script>alert('x')</script>", kind="temperature")
    return batch(
        devices=[*DEVICES, hostile],
        readings=[
            reading(1, ts=T0, value=-18.5),
            reading(2, ts=T0 + 60, value=-12.25),
            reading(3, ts=T0 + 30, device="probe-x", value=4),
        ],
        access_events=[
            access(1, ts=T0, card="0001"),
            access(2, ts=T0 + 5, card="<script>card</script>", result="denied", reason="unknown"),
        ],
        alarm_events=[alarm_event(1, alarm("a1", at=T0 + 60))],
    )
