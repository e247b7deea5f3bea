"""``GET /api/v1/reports/alarms`` on the real hub, over SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from sync.hub import auth
from sync.protocol import AlarmEventRecord, OperatorActionRecord
from tests.hubfixtures import T0, Credentials, RunningHub, alarm, batch, bearer, push

PATH = "/api/v1/reports/alarms"
HOUR = {"from": "2026-11-18T11:06:40Z", "to": "2026-11-18T12:06:40Z"}


def event(
    seq: int,
    kind: str,
    at: float,
    alarm_id: str,
    raised_at: float,
    by: str | None = None,
    **fields: object,
) -> AlarmEventRecord:
    """An alarm change as the agent sends it: the change and the alarm's snapshot after it."""
    record = alarm(alarm_id, at=raised_at, changed_at=at, **fields)
    return AlarmEventRecord(seq=seq, kind=kind, at=at, by=by, alarm=record)  # type: ignore[arg-type]


@pytest.fixture
def seeded(hub: RunningHub, http: httpx.Client, creds: Credentials) -> Credentials:
    """Clinic, in the hour from T0: a1 raised, cleared, reraised, acknowledged by Li after 240 s
    and cleared after 540 s; a2 raised in the second 10 minutes and left alone. School: s1."""
    li = {"activations": 2, "acked_at": T0 + 300, "acked_by": "Li"}
    door = {"rule": "door-held", "severity": "low", "post": "gate"}
    clinic = [
        event(1, "raised", T0 + 60, "a1", T0 + 60),
        event(2, "cleared", T0 + 120, "a1", T0 + 60, active=False, cleared_at=T0 + 120),
        event(3, "reraised", T0 + 180, "a1", T0 + 60, activations=2),
        event(4, "acked", T0 + 300, "a1", T0 + 60, "Li", **li),
        event(5, "cleared", T0 + 600, "a1", T0 + 60, **li, active=False, cleared_at=T0 + 600),
        event(6, "raised", T0 + 700, "a2", T0 + 700, **door),
    ]
    school_agent = auth.create_agent(hub.hubdb, "school", now=T0)
    hostile = {"post": '=HYPERLINK("http://x")', "severity": "medium"}
    school = [event(1, "raised", T0 + 100, "s1", T0 + 100, **hostile)]
    assert push(http, creds.agent, batch(alarm_events=clinic)).status_code == 200
    assert push(http, school_agent, batch("school", alarm_events=school)).status_code == 200
    return creds


def get(
    http: httpx.Client, token: str, headers: dict[str, str] | None = None, **params: str
) -> httpx.Response:
    return http.get(PATH, params=params, headers=bearer(token) | (headers or {}))


CLINIC = {
    "scope": "site",
    "site": "clinic",
    "key": "clinic",
    "load": {
        "activations": 3,
        "unannounced": 0,
        "per_hour": 3.0,
        "per_10min": 0.5,
        "peak_10min": 2,
        "peak_10min_at": "2026-11-18T11:06:40.000Z",
        "flood_share": 0.0,
        "floods": 0,
        "top10_share": 1.0,
        "top_rules": [
            {"site": "clinic", "rule": "freezer-warm", "activations": 2},
            {"site": "clinic", "rule": "door-held", "activations": 1},
        ],
        "chattering": 0,
        "stale": 0,
        "priority": {"low": 1 / 3, "medium": 0.0, "high": 2 / 3, "critical": 0.0},
    },
    "response": {
        "raised": 2,
        "acked": 1,
        "cleared": 1,
        "ack_p50": 240.0,
        "ack_p95": 240.0,
        "clear_p50": 540.0,
        "clear_p95": 540.0,
    },
}


def test_the_review_of_one_site(http: httpx.Client, seeded: Credentials) -> None:
    response = get(http, seeded.api, site="clinic", **HOUR)
    document = response.json()
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    assert {k: document[k] for k in ("site", "from", "to")} == {
        "site": "clinic",
        "from": "2026-11-18T11:06:40.000Z",
        "to": "2026-11-18T12:06:40.000Z",
    }
    assert document["groups"][0] == CLINIC
    assert [(g["scope"], g["key"], g["load"]["activations"]) for g in document["groups"]] == [
        ("site", "clinic", 3),
        ("post", "cold-store", 2),
        ("post", "gate", 1),
        ("person", "Li", 2),
        ("person", "(none)", 1),
    ]
    assert document["groups"][2]["load"]["peak_10min_at"] == "2026-11-18T11:16:40.000Z"


def test_every_site_with_an_overall_group(http: httpx.Client, seeded: Credentials) -> None:
    groups = get(http, seeded.api, **HOUR).json()["groups"]
    assert [(g["scope"], g["site"], g["key"], g["load"]["activations"]) for g in groups] == [
        ("all", None, "(all)", 4),
        ("site", "clinic", "clinic", 3),
        ("post", "clinic", "cold-store", 2),
        ("post", "clinic", "gate", 1),
        ("person", "clinic", "Li", 2),
        ("person", "clinic", "(none)", 1),
        ("site", "school", "school", 1),
        ("post", "school", '=HYPERLINK("http://x")', 1),
        ("person", "school", "(none)", 1),
    ]


def test_the_default_period_is_the_last_30_days(http: httpx.Client, seeded: Credentials) -> None:
    document = get(http, seeded.api, site="clinic").json()
    assert document["groups"][0]["load"]["activations"] == 3
    assert document["to"] > "2026-11-18T12:06:40.000Z"


def test_a_hub_acknowledgement_names_the_person(http: httpx.Client, seeded: Credentials) -> None:
    assert http.post("/api/v1/alarms/a2/ack", headers=bearer(seeded.api)).status_code == 200
    groups = get(http, seeded.api, site="clinic", **HOUR).json()["groups"]
    people = [(g["key"], g["response"]["acked"]) for g in groups if g["scope"] == "person"]
    assert people == [("Li", 1), ("ann", 1)]


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


HEADER = [
    "scope",
    "site",
    "key",
    "activations",
    "unannounced",
    "per_hour",
    "per_10min",
    "peak_10min",
    "peak_10min_at",
    "flood_share",
    "floods",
    "top10_share",
    "chattering",
    "stale",
    "priority_low",
    "priority_medium",
    "priority_high",
    "priority_critical",
    "raised",
    "acked",
    "cleared",
    "ack_p50",
    "ack_p95",
    "clear_p50",
    "clear_p95",
]
CLINIC_ROW = [
    *("site", "clinic", "clinic", "3", "0", "3.0", "0.5", "2", "2026-11-18T11:06:40.000Z", "0.0"),
    *("0", "1.0", "0", "0", str(1 / 3), "0.0", str(2 / 3), "0.0"),
    *("2", "1", "1", "240.0", "240.0", "540.0", "540.0"),
]


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"format": "csv"}, {}),
        ({}, {"Accept": "text/csv"}),
        ({}, {"Accept": "application/xml;q=0.9, TEXT/CSV;q=0.8"}),
        ({"format": "csv"}, {"Accept": "application/json"}),
    ],
)
def test_the_review_as_csv(
    http: httpx.Client, seeded: Credentials, params: dict[str, str], headers: dict[str, str]
) -> None:
    response = get(http, seeded.api, headers, site="clinic", **HOUR, **params)
    assert (response.status_code, response.headers["content-type"]) == (
        200,
        "text/csv; charset=utf-8",
    )
    assert response.headers["content-disposition"] == (
        'attachment; filename="alarm-review-clinic-20261118-20261118.csv"'
    )
    table = rows(response.text)
    assert (table[0], table[1], len(table)) == (HEADER, CLINIC_ROW, 6)
    assert table[5][:4] == ["person", "clinic", "(none)", "1"]
    assert table[5][-7:] == ["1", "0", "0", "", "", "", ""]


def test_json_when_asked_for_it_by_name(http: httpx.Client, seeded: Credentials) -> None:
    response = get(http, seeded.api, {"Accept": "text/csv"}, site="clinic", format="json", **HOUR)
    assert response.json()["groups"][0] == CLINIC


def test_a_cell_that_looks_like_a_formula_is_quoted(
    http: httpx.Client, seeded: Credentials
) -> None:
    response = get(http, seeded.api, format="csv", **HOUR)
    posts = [row[2] for row in rows(response.text) if row[0] == "post"]
    assert posts == ["cold-store", "gate", '\'=HYPERLINK("http://x")']
    assert (
        'filename="alarm-review-all-20261118-20261118.csv"'
        in (response.headers["content-disposition"])
    )


@pytest.mark.parametrize("role", ["admin", "maintenance", "energy", "security"])
def test_every_role_reads_the_review(
    hub: RunningHub, http: httpx.Client, seeded: Credentials, role: str
) -> None:
    _, token = auth.create_user(hub.hubdb, f"user-{role}", role, now=T0)
    assert get(http, token, **HOUR).json()["groups"][0]["load"]["activations"] == 4


@pytest.mark.parametrize("headers", [{}, bearer("nope")])
def test_the_review_needs_a_user_token(
    http: httpx.Client, seeded: Credentials, headers: dict[str, str]
) -> None:
    response = http.get(PATH, headers=headers)
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "unknown, revoked or expired user API token"},
    )
    assert http.get(PATH, headers=bearer(seeded.agent)).status_code == 401


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"from": "last tuesday"}, "from='last tuesday' is not a time"),
        ({"from": "2026-11-18T12:00:00Z", "to": "2026-11-18T11:00:00Z"}, "invalid report period"),
        ({"from": "2025-01-01T00:00:00Z"}, "invalid report period: at most 366 days"),
    ],
)
def test_a_bad_period_is_a_clear_422(
    http: httpx.Client, seeded: Credentials, params: dict[str, str], detail: str
) -> None:
    response = get(http, seeded.api, **params)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)


def test_an_unknown_format_is_422(http: httpx.Client, seeded: Credentials) -> None:
    assert get(http, seeded.api, format="xlsx").status_code == 422


def test_openapi_documents_the_report(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()["paths"][PATH]["get"]
    assert set(spec["responses"]["200"]["content"]) == {"application/json", "text/csv"}


def test_an_alarm_raised_while_its_rule_is_suppressed_loads_nobody(
    hub: RunningHub, http: httpx.Client, creds: Credentials
) -> None:
    """Cleaning, 11:10 to 11:30 site clock: the door alarm raised in it is counted apart and has
    no response time; the one after it counts as usual."""
    door = {"rule": "door-held", "severity": "low", "post": "gate"}
    cleaning = OperatorActionRecord(
        seq=1,
        uid="clean-1",
        kind="suppress",
        rule="door-held",
        by="(schedule)",
        at=T0 + 200,
        until=T0 + 1400,
    )
    events = [
        event(1, "raised", T0 + 600, "d1", T0 + 600, **door),
        event(2, "raised", T0 + 1500, "d2", T0 + 1500, **door),
    ]
    sent = batch(alarm_events=events, actions=[cleaning])
    assert push(http, creds.agent, sent).status_code == 200
    groups = get(http, creds.api, site="clinic", **HOUR).json()["groups"]
    site = groups[0]
    assert (site["load"]["activations"], site["load"]["unannounced"]) == (1, 1)
    assert site["response"]["raised"] == 1
    table = rows(get(http, creds.api, site="clinic", format="csv", **HOUR).text)
    assert table[1][3:5] == ["1", "1"]
