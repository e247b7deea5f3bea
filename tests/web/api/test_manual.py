"""``POST /api/v1/sites/{site}/readings/import`` on the real hub, over SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from sqlalchemy import select

from sync.hub import auth, schema
from sync.protocol import DeviceInfo
from tests.hubfixtures import T0, RunningHub, batch, push, reading
from tests.web.api.calls import token

NOV_1 = datetime.fromisoformat("2026-11-01T08:00+08:00").timestamp()
NOV_20 = datetime.fromisoformat("2026-11-20T08:00+08:00").timestamp()
CSV = {"Content-Type": "text/csv"}
DEVICES = [
    DeviceInfo(id="water-1", name="Main water", kind="water_meter"),
    DeviceInfo(id="main-meter", kind="power_meter"),
    DeviceInfo(id="freezer-1", kind="temperature"),
]


@pytest.fixture
def site(hub: RunningHub, http: httpx.Client) -> None:
    """Site ``clinic`` (Asia/Shanghai) whose agent has sent a water reading of 120 m³ at T0."""
    agent = auth.create_agent(hub.hubdb, "clinic", now=T0)
    sent = batch(
        devices=DEVICES, readings=[reading(1, T0, 120.0, device="water-1", metric="water")]
    )
    assert push(http, agent, sent.model_copy(update={"timezone": "Asia/Shanghai"})).is_success


def stored(hub: RunningHub) -> list[tuple[int, str, float, float]]:
    r = schema.readings
    with hub.hubdb.read() as conn:
        rows = conn.execute(select(r.c.seq, r.c.device, r.c.ts, r.c.value).order_by(r.c.seq))
        return [(row.seq, row.device, row.ts, row.value) for row in rows]


@pytest.mark.usefixtures("site")
@pytest.mark.parametrize("role", ["admin", "energy"])
def test_a_csv_is_checked_row_by_row_and_the_good_rows_stored(
    hub: RunningHub, http: httpx.Client, role: str
) -> None:
    body = (
        "device,time,value,replacement\n"
        "main-meter,2026-11-01T08:00,5021.5,\n"
        "water-1,2026-11-20T08:00,110,\n"
        "pump-9,2026-11-20T08:00,1,\n"
        "water-1,2026-11-20T08:00,3.5,yes\n"
    )
    response = http.post(
        "/api/v1/sites/clinic/readings/import", content=body, headers=CSV | token(hub, role)
    )
    assert response.status_code == 200
    assert response.json() == {
        "stored": 2,
        "rejected": [
            {
                "line": 3,
                "reason": "value 110 is lower than the previous reading 120 at "
                "2026-11-18T19:06:40+08:00; mark the row as a replacement if the meter "
                "was replaced",
            },
            {"line": 4, "reason": "unknown device 'pump-9'"},
        ],
    }
    # Negative sequence numbers: the agent's own (positive) ones can never collide with them.
    assert stored(hub) == [
        (-2, "water-1", NOV_20, 3.5),
        (-1, "main-meter", NOV_1, 5021.5),
        (1, "water-1", T0, 120.0),
    ]


@pytest.mark.usefixtures("site")
def test_json_rows_update_the_latest_readings_and_number_on_downwards(
    hub: RunningHub, http: httpx.Client
) -> None:
    headers = token(hub, "energy")
    url = "/api/v1/sites/clinic/readings/import"
    first = [{"device": "water-1", "time": "2026-11-20T08:00", "value": 130}]
    second = [
        {"device": "water-1", "time": "2026-11-21T00:00:00Z", "value": 131.25, "metric": "water"},
        {"device": "freezer-1", "time": "2026-11-21T08:00", "value": -18},
        {"device": "water-1", "time": "2026-11-21T08:00"},
    ]
    assert http.post(url, json={"rows": first}, headers=headers).json() == {
        "stored": 1,
        "rejected": [],
    }
    assert http.post(url, json={"rows": second}, headers=headers).json() == {
        "stored": 1,
        "rejected": [
            {"line": 2, "reason": "a temperature device has no meter to read; name the metric"},
            {"line": 3, "reason": "value empty is not a number (use a point, no separators)"},
        ],
    }
    assert [seq for seq, *_ in stored(hub)] == [-2, -1, 1]
    lr = schema.latest_readings
    with hub.hubdb.read() as conn:
        latest = conn.execute(select(lr.c.value).where(lr.c.device == "water-1")).scalar_one()
    assert latest == 131.25


@pytest.mark.usefixtures("site")
@pytest.mark.parametrize("role", ["maintenance", "security"])
def test_other_roles_may_not_import(hub: RunningHub, http: httpx.Client, role: str) -> None:
    body = "device,time,value\nwater-1,2026-11-20T08:00,130\n"
    response = http.post(
        "/api/v1/sites/clinic/readings/import", content=body, headers=CSV | token(hub, role)
    )
    assert response.status_code == 403
    assert response.json() == {"detail": f"role {role!r} may not import readings"}
    assert len(stored(hub)) == 1


@pytest.mark.usefixtures("site")
def test_an_unknown_site_is_not_found(hub: RunningHub, http: httpx.Client) -> None:
    body = "device,time,value\nwater-1,2026-11-20T08:00,130\n"
    response = http.post(
        "/api/v1/sites/school/readings/import", content=body, headers=CSV | token(hub, "admin")
    )
    assert (response.status_code, response.json()) == (404, {"detail": "no site 'school'"})


BODIES: list[tuple[str, bytes, str]] = [
    ("text/csv", b"meter,reading\nwater-1,130\n", "line 1: unknown column 'meter'"),
    ("text/csv", b"device,time,value\n\xff\n", "the CSV is not UTF-8"),
    ("application/json", b"[1, 2]", 'the JSON body must be {"rows": [...]}'),
    ("application/json", b"{rows", "not JSON"),
    ("application/xml", b"<rows/>", "send text/csv or application/json"),
]


@pytest.mark.usefixtures("site")
@pytest.mark.parametrize(("kind", "body", "reason"), BODIES, ids=[b[2] for b in BODIES])
def test_a_body_that_is_not_rows_is_refused_whole(
    hub: RunningHub, http: httpx.Client, kind: str, body: bytes, reason: str
) -> None:
    headers = {"Content-Type": kind} | token(hub, "admin")
    response = http.post("/api/v1/sites/clinic/readings/import", content=body, headers=headers)
    assert response.status_code == 422
    assert reason in response.json()["detail"]


@pytest.mark.usefixtures("site")
def test_an_import_needs_a_user_token(http: httpx.Client) -> None:
    body = "device,time,value\nwater-1,2026-11-20T08:00,130\n"
    response = http.post("/api/v1/sites/clinic/readings/import", content=body, headers=CSV)
    assert response.status_code == 401


@pytest.mark.usefixtures("site")
def test_a_replacement_is_recorded_as_a_meter_event(hub: RunningHub, http: httpx.Client) -> None:
    headers = CSV | token(hub, "energy")
    url = "/api/v1/sites/clinic/readings/import"
    body = (
        "device,time,value,metric,replacement\n"
        "water-1,2026-11-20T08:00,3.5,,yes\n"
        "water-1,2026-11-21T08:00,4,,\n"
        "water-1,2026-11-22T08:00,1,,yes\n"
        "freezer-1,2026-11-22T08:00,-18,temperature,yes\n"
        "main-meter,2026-11-01T08:00,5021.5,,yes\n"
    )
    later = "device,time,value,replacement\nwater-1,2026-11-23T08:00,0.5,yes\n"
    assert http.post(url, content=body, headers=headers).json()["stored"] == 5
    assert http.post(url, content=later, headers=headers).json()["stored"] == 1
    events = http.get("/api/v1/meter-events", headers=headers).json()["items"]
    # The replaced meter's last value: stored before the import, or an earlier row of it.
    assert [(e["seq"], e["device"], e["ts"][:10], e["value"], e["previous"]) for e in events] == [
        (-3, "main-meter", "2026-11-01", 5021.5, None),
        (-1, "water-1", "2026-11-20", 3.5, 120.0),
        (-2, "water-1", "2026-11-22", 1.0, 4.0),
        (-4, "water-1", "2026-11-23", 0.5, 1.0),
    ]
    assert {e["kind"] for e in events} == {"replacement"}
