"""``POST /api/v1/sync`` on the real hub, over SQLite and PostgreSQL: batches as JSON or in
columns, the agent's token, malformed and hostile bodies, older agents, the agent's own client."""

from __future__ import annotations

import gzip
import json
import struct

import httpx
import pytest

from sync import columns, envelope
from sync.client import SyncClient, TokenRefused
from sync.columns import Readings, Row
from sync.hub import auth
from sync.protocol import SyncAck
from tests.hubfixtures import (
    T0,
    Credentials,
    RunningHub,
    access,
    batch,
    bearer,
    excursion,
    meter_event,
    push,
    reading,
    seed_batch,
)
from tests.web.api.calls import get, get_excursions, get_meter_events, token

ACKED = {
    "readings": 3,
    "access_events": 2,
    "alarm_events": 1,
    "meter_events": 0,
    "actions": 0,
    "rollups": 0,
    "excursions": 0,
}


def test_sync_stores_and_acknowledges(http: httpx.Client, creds: Credentials) -> None:
    response = push(http, creds.agent, seed_batch())
    ack = SyncAck.model_validate_json(response.content)
    assert ack.acked == ACKED


def test_sync_accepts_plain_json(http: httpx.Client, creds: Credentials) -> None:
    body = batch(readings=[reading(1)]).model_dump_json()
    response = http.post("/api/v1/sync", content=body, headers=bearer(creds.agent))
    assert (response.status_code, response.json()["acked"]["readings"]) == (200, 1)


@pytest.mark.parametrize("headers", [{}, bearer("nope"), {"Authorization": "Basic eDp5"}])
def test_sync_without_a_valid_agent_token(
    http: httpx.Client, creds: Credentials, headers: dict[str, str]
) -> None:
    response = http.post("/api/v1/sync", content=batch().model_dump_json(), headers=headers)
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "unknown, revoked or expired agent token"},
    )
    assert response.headers["www-authenticate"] == "Bearer"


def test_sync_with_a_revoked_token(hub: RunningHub, http: httpx.Client, creds: Credentials) -> None:
    auth.revoke_agent(hub.hubdb, creds.agent, T0)
    assert push(http, creds.agent, batch()).status_code == 401


def test_sync_with_a_user_token_is_refused(http: httpx.Client, creds: Credentials) -> None:
    assert push(http, creds.api, batch()).status_code == 401


def test_sync_for_another_site_is_forbidden(http: httpx.Client, creds: Credentials) -> None:
    response = push(http, creds.agent, batch("school", readings=[reading(1)]))
    assert (response.status_code, response.json()["detail"]) == (
        403,
        "this agent token belongs to site 'clinic', not to site 'school'",
    )


@pytest.mark.parametrize(
    ("body", "encoding", "detail"),
    [
        (b"{", "", "invalid sync batch: body: Invalid JSON"),
        (b'{"site": "clinic"}', "", "invalid sync batch: sent_at: Field required"),
        (b"not gzip", "gzip", "invalid sync batch: body is not valid gzip"),
        (b"{}", "br", "invalid sync batch: unsupported Content-Encoding 'br'"),
        (
            gzip.compress(
                b'{"site":"clinic","sent_at":1,"readings":{"after":3,"through":1}}', mtime=0
            ),
            "gzip",
            "invalid sync batch: readings: through 1 < after 3",
        ),
    ],
)
def test_sync_with_a_malformed_batch(
    http: httpx.Client, creds: Credentials, body: bytes, encoding: str, detail: str
) -> None:
    headers = bearer(creds.agent) | {"Content-Encoding": encoding}
    response = http.post("/api/v1/sync", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)


def test_an_older_agents_gzip_json_is_still_taken(http: httpx.Client, creds: Credentials) -> None:
    response = push(http, creds.agent, batch(readings=[reading(1), reading(2, ts=T0 + 60)]))
    ack = SyncAck.model_validate_json(response.content)
    assert (ack.acked["readings"], ack.accepts) == (2, ["columns-1"])


def test_sync_takes_readings_in_columns(http: httpx.Client, creds: Credentials) -> None:
    rows: list[Row] = [(i, "freezer-1", "temperature", T0 + 60 * i, -18.5 + i, T0) for i in (1, 2)]
    body, headers = envelope.encode(batch(access_events=[access(1)]), Readings(0, 2, rows))
    response = http.post("/api/v1/sync", content=body, headers=bearer(creds.agent) | headers)
    ack = SyncAck.model_validate_json(response.content)
    found = get(http, creds, "/api/v1/readings").json()["items"]
    assert (ack.acked["readings"], ack.acked["access_events"], ack.accepts) == (2, 1, ["columns-1"])
    assert [r["value"] for r in found] == [-17.5, -16.5]


def columns_body(readings: bytes) -> bytes:
    head = batch().model_dump_json(exclude={"readings"}).encode()
    # mtime=0: the same bytes on every run, so a parameter's test id is stable (--lf, -k).
    return gzip.compress(b"FWB1" + struct.pack("<I", len(head)) + head + readings, mtime=0)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (gzip.compress(b"FWB1", mtime=0), "a columns body starts with FWB1"),
        (columns_body(b"FWR1" + struct.pack("<I", 2) + b"[]"), "readings: header is not an object"),
        (
            columns_body(columns.encode(Readings(0, 1, [(1, "d", "m", T0, 1.0, T0)]))[:-3]),
            "readings: 37 bytes of columns for 1 rows",
        ),
        (
            columns_body(columns.encode(Readings(5, 6, [(9, "d", "m", T0, 1.0, T0)]))),
            "readings: seq 9 outside (5, 6]",
        ),
        # 65 MiB of zeros in 65 KB: the hub stops inflating at its limit.
        (gzip.compress(bytes(65 * 1024 * 1024), mtime=0), "batch larger than 67108864 bytes once"),
    ],
)
def test_sync_refuses_a_hostile_columns_body(
    http: httpx.Client, creds: Credentials, body: bytes, detail: str
) -> None:
    headers = bearer(creds.agent) | {
        "Content-Type": envelope.COLUMNS_TYPE,
        "Content-Encoding": "gzip",
    }
    response = http.post("/api/v1/sync", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"invalid sync batch: {detail}")


def test_the_agents_own_client_is_understood(http: httpx.Client, creds: Credentials) -> None:
    ack = SyncClient(http, creds.agent).push(seed_batch())
    assert ack.acked == ACKED


def test_the_agents_own_client_hears_a_refusal(http: httpx.Client, creds: Credentials) -> None:
    with pytest.raises(TokenRefused, match=r"\(401\): unknown, revoked .* hub rotate-agent SITE"):
        SyncClient(http, "nope").push(seed_batch())


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"rule": "r" * 201}, "excursions.items.1.rule"),
        ({"device": ""}, "excursions.items.1.device"),
        ({"ended_by": "x" * 21}, "excursions.items.1.ended_by"),
        (
            {"doors": [{"door": "d", "at": T0, "open": "sometimes"}]},
            "excursions.items.1.doors.0.open",
        ),
        ({"doors_dropped": -1}, "excursions.items.1.doors_dropped"),
        ({"highest": float("inf")}, "excursions.items.1.highest"),
        ({"doors": [{"door": "d", "at": float("nan"), "open": True}]}, "items.1.doors.0.at"),
    ],
)
def test_a_hostile_excursion_is_refused_whole_and_stores_nothing(
    http: httpx.Client, creds: Credentials, change: dict[str, object], reason: str
) -> None:
    good = excursion(1).model_dump()
    body = {
        "site": "clinic",
        "sent_at": T0,
        "readings": {
            "after": 0,
            "through": 1,
            "items": [
                {
                    "seq": 1,
                    "device": "d",
                    "metric": "temperature",
                    "ts": T0,
                    "value": 1,
                    "received_at": T0,
                }
            ],
        },
        "excursions": {"after": 0, "through": 2, "items": [good, good | change | {"seq": 2}]},
    }
    headers = bearer(creds.agent) | {"Content-Encoding": "gzip"}
    response = http.post(
        "/api/v1/sync", content=gzip.compress(json.dumps(body).encode()), headers=headers
    )
    readings = http.get("/api/v1/readings", headers=bearer(creds.api)).json()["items"]
    assert (response.status_code, reason in response.json()["detail"], readings) == (422, True, [])
    assert get_excursions(http, bearer(creds.api)).json()["items"] == []


def test_an_older_agent_without_excursions_syncs(http: httpx.Client, creds: Credentials) -> None:
    old = {"site": "clinic", "sent_at": T0, "readings": {"after": 0, "through": 0, "items": []}}
    response = http.post("/api/v1/sync", content=json.dumps(old), headers=bearer(creds.agent))
    assert (response.status_code, response.json()["acked"]["excursions"]) == (200, 0)


def test_an_older_agent_without_meter_events_syncs(http: httpx.Client, creds: Credentials) -> None:
    old = {"site": "clinic", "sent_at": T0, "readings": {"after": 0, "through": 0, "items": []}}
    response = http.post("/api/v1/sync", content=json.dumps(old), headers=bearer(creds.agent))
    assert (response.status_code, response.json()["acked"]["meter_events"]) == (200, 0)


def test_a_resent_batch_stores_meter_events_once(
    hub: RunningHub, http: httpx.Client, creds: Credentials
) -> None:
    sent = batch(meter_events=[meter_event(1), meter_event(2, ts=T0 + 5)])
    acks = [push(http, creds.agent, sent).json()["acked"]["meter_events"] for _ in range(2)]
    items = get_meter_events(http, token(hub, "admin")).json()["items"]
    assert (acks, [e["seq"] for e in items]) == ([2, 2], [1, 2])
