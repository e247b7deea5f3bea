"""``/api/v1/sites/{site}/config``: versions an admin sends, validated; what the agent says."""

import json

import httpx
import pytest

from sync.hub import auth
from sync.protocol import ConfigRejected
from tests.hubfixtures import T0, Credentials, RunningHub, batch, bearer, push

CONFIG = "/api/v1/sites/clinic/config"
YAML = {"Content-Type": "application/yaml"}

GOOD = """\
# the clinic's freezer
devices:
  - {id: freezer-1, kind: temperature}
rules:
  - {id: freezer-warm, type: threshold, device: freezer-1, metric: temperature, above: -15}
"""


@pytest.fixture
def admin(hub: RunningHub, creds: Credentials) -> str:
    _password, token = auth.create_user(hub.hubdb, "root", "admin", now=T0)
    return token


def put(
    http: httpx.Client, token: str, body: str | bytes, kind: str = "application/yaml"
) -> httpx.Response:
    headers = bearer(token) | {"Content-Type": kind}
    return http.put(CONFIG, content=body, headers=headers)


def test_versions_are_numbered_per_site_and_kept(http: httpx.Client, admin: str) -> None:
    first = put(http, admin, GOOD)
    second = put(http, admin, json.dumps({"devices": []}), "application/json")
    listed = http.get(f"{CONFIG}/versions", headers=bearer(admin)).json()["items"]
    one = http.get(f"{CONFIG}/versions/1", headers=bearer(admin)).json()
    assert (first.status_code, first.json()["version"], second.json()["version"]) == (201, 1, 2)
    assert [(v["version"], v["format"], v["created_by"]) for v in listed] == [
        (2, "json", "root"),
        (1, "yaml", "root"),
    ]
    assert (one["text"], one["created_at"][:2]) == (GOOD, "20")


def test_the_current_version_and_what_the_agent_reports(
    http: httpx.Client, admin: str, creds: Credentials
) -> None:
    put(http, admin, GOOD)
    before = http.get(CONFIG, headers=bearer(admin)).json()
    sent = batch().model_copy(
        update={
            "config_version": 0,
            "config_rejected": ConfigRejected(version=1, reason="rules[0].post: unknown post"),
        }
    )
    assert push(http, creds.agent, sent).status_code == 200
    after = http.get(CONFIG, headers=bearer(admin)).json()
    assert (before["current"]["version"], before["applied_version"], before["error"]) == (
        1,
        None,
        None,
    )
    assert (after["applied_version"], after["rejected_version"], after["error"]) == (
        0,
        1,
        "rules[0].post: unknown post",
    )


BAD = [
    pytest.param(
        "devices:\n  - {id: f1, kind: fridge}\n",
        [
            "devices[0].kind: Input should be 'power_meter', 'water_meter', 'temperature',"
            " 'humidity', 'door' or 'access_reader'"
        ],
        id="bad kind",
    ),
    pytest.param(
        "rules:\n  - {id: r1, type: threshold, device: ghost, metric: temperature, above: 1}\n",
        ["rules[0].device: unknown device 'ghost'"],
        id="unknown device",
    ),
    pytest.param(
        "mqtt: {url: mqtt://evil:1883}\ndevices: []\n",
        ["mqtt: not managed by the hub (only devices, posts, rules); set it in the agent's file"],
        id="a local section",
    ),
    pytest.param("devices: [\n", ["YAML: "], id="not YAML"),
    pytest.param(
        "- a\n- b\n", ["the configuration must be a mapping of devices, posts, rules"], id="a list"
    ),
    pytest.param(
        "posts:\n  - {id: p1, notify: [not-a-url]}\n",
        [
            "posts[0].notify[0]: not an apprise URL (write scheme://..., e.g. mailto://, json://, tgram://)"
        ],
        id="not a URL",
    ),
    pytest.param(
        'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
        + "".join(
            f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
            for p, c in zip("abcdef", "bcdefg", strict=True)
        )
        + "devices: *g\n",
        ["more than 100000 values (an alias counts each time it is used)"],
        id="billion laughs",
    ),
    pytest.param("devices: []\n\x00", ["the configuration contains a NUL character"], id="NUL"),
]


@pytest.mark.parametrize(("body", "errors"), BAD)
def test_an_invalid_configuration_is_refused_with_every_reason(
    http: httpx.Client, admin: str, body: str, errors: list[str]
) -> None:
    response = put(http, admin, body)
    listed = http.get(f"{CONFIG}/versions", headers=bearer(admin)).json()["items"]
    assert response.status_code == 422
    assert [e[: len(x)] for e, x in zip(response.json()["errors"], errors, strict=True)] == errors
    assert listed == []


def test_hostile_strings_are_kept_as_text(http: httpx.Client, admin: str) -> None:
    body = (
        "# <script>alert(1)</script> ' OR 1=1; --\ndevices:\n"
        '  - {id: f1, kind: door, name: "<b>\'; DROP TABLE sites; --"}\n'
    )
    put(http, admin, body)
    got = http.get(CONFIG, headers=bearer(admin)).json()
    assert got["current"]["text"] == body


@pytest.mark.parametrize(
    ("kind", "body", "status"),
    [
        ("text/csv", GOOD, 422),
        ("application/json", "{not json", 422),
        ("application/yaml", b"\xff\xfe", 422),
        ("application/yaml", "devices: []\n" + "#" * (1024 * 1024), 422),
    ],
    ids=["wrong type", "bad JSON", "not UTF-8", "too large"],
)
def test_a_body_that_is_not_a_configuration(
    http: httpx.Client, admin: str, kind: str, body: str | bytes, status: int
) -> None:
    assert put(http, admin, body, kind).status_code == status


def test_only_an_admin_changes_or_reads_it(http: httpx.Client, creds: Credentials) -> None:
    answers = [
        put(http, creds.api, GOOD).status_code,
        http.get(CONFIG, headers=bearer(creds.api)).status_code,
        http.get(f"{CONFIG}/versions", headers=bearer(creds.api)).status_code,
        http.put(CONFIG, content=GOOD, headers=YAML).status_code,
        put(http, creds.agent, GOOD).status_code,
    ]
    assert answers == [403, 403, 403, 401, 401]


def test_an_unknown_site_or_version(http: httpx.Client, admin: str) -> None:
    headers = bearer(admin) | YAML
    answers = [
        http.put("/api/v1/sites/nowhere/config", content=GOOD, headers=headers).status_code,
        http.get("/api/v1/sites/nowhere/config", headers=bearer(admin)).status_code,
        http.get(f"{CONFIG}/versions/7", headers=bearer(admin)).status_code,
    ]
    assert answers == [404, 404, 404]
