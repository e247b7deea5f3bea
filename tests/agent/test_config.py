"""The site YAML: the issue's example validates; every mistake is reported by its path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agent.config import ConfigError, parse_site
from rules.spec import StaleRule, ThresholdRule

EXAMPLE = """\
site: {id: demo-hospital, name: Demo Hospital, timezone: Asia/Shanghai}
mqtt: {url: "mqtt://127.0.0.1:1883"}
hub: {url: "http://127.0.0.1:8000", token: "${FW_AGENT_TOKEN}"}
storage: {path: ./data/agent.db}
devices:
  - {id: main-meter, name: Main power meter, kind: power_meter, location: {building: Main, floor: B1, department: Facilities}}
  - {id: freezer-1, name: Kitchen freezer, kind: temperature, location: {building: Canteen, department: Kitchen}}
  - {id: gate-north, name: North gate, kind: access_reader}
posts:
  - {id: cold-store, name: "冷库管理员 / Cold-store keeper", members: [{name: Li, email: li@example.org}]}
rules:
  - {id: freezer-warm, type: threshold, device: freezer-1, metric: temperature, above: -15, for: 5m, deadband: 1, severity: high, post: cold-store}
  - {id: freezer-silent, type: stale, device: freezer-1, after: 15m, severity: medium, post: cold-store}
"""  # noqa: E501


SILENT = "after: 15m, severity: medium, post: cold-store}"
BUDGET = "meters: [meter-9], budget: 9000, timezone: Asia/Shanghai}"


def broken(*edits: tuple[str, str]) -> str:
    text = EXAMPLE
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def test_the_example_validates() -> None:
    config, warnings = parse_site(EXAMPLE, env={"FW_AGENT_TOKEN": "t"})
    assert warnings == []
    assert config.hub is not None
    assert (config.site.id, config.site.timezone, config.hub.token) == (
        "demo-hospital",
        "Asia/Shanghai",
        "t",
    )
    assert [d.id for d in config.devices] == ["main-meter", "freezer-1", "gate-north"]
    assert config.posts[0].name == "冷库管理员 / Cold-store keeper"
    warm, silent = config.rules
    assert isinstance(warm, ThresholdRule)
    assert isinstance(silent, StaleRule)
    assert (warm.above, warm.on_delay, warm.deadband) == (-15.0, timedelta(minutes=5), 1.0)
    assert (silent.after, silent.post) == (timedelta(minutes=15), "cold-store")


def test_notify_urls_and_settings_validate() -> None:
    text = broken(
        ("{name: Li, ", '{name: Li, notify: ["mailto://li:pw@example.org", "${FW_TG}"], '),
        ("members:", 'notify: ["json://hooks.example.org/fw"], members:'),
        (
            "storage: {path: ./data/agent.db}",
            "storage: {path: ./data/agent.db}\n"
            "notify: {changes: [raised, reraised, cleared], retry_cap: 10m}",
        ),
    )
    config, _ = parse_site(
        text, env={"FW_TG": "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987"}
    )
    post = config.posts[0]
    assert post.notify == ["json://hooks.example.org/fw"]
    assert post.members[0].notify[0] == "mailto://li:pw@example.org"
    assert config.notify.changes == ["raised", "reraised", "cleared"]
    assert (config.notify.retry_cap, config.notify.give_up_after) == (
        timedelta(minutes=10),
        timedelta(hours=24),
    )


def test_an_unset_variable_is_a_warning_not_an_error() -> None:
    config, warnings = parse_site(EXAMPLE, env={})
    assert warnings == ["environment variable FW_AGENT_TOKEN is not set"]
    assert config.hub is not None
    assert config.hub.token == ""


KIND_ERROR = (
    "devices[2].kind: Input should be 'power_meter', 'water_meter', 'temperature', 'humidity',"
    " 'door' or 'access_reader'"
)

MISTAKES = [
    pytest.param(
        [("kind: access_reader", "kind: turnstile")],
        [KIND_ERROR],
        id="bad kind",
    ),
    pytest.param(
        [("after: 15m", "after: 15 minutes")],
        ["rules[1].after: not a duration: '15 minutes' (write e.g. 30s, 10m, 2h, 1d)"],
        id="bad duration",
    ),
    pytest.param(
        [("for: 5m", "for: -5")],
        ["rules[0].for: a duration cannot be negative: -5"],
        id="negative on-delay",
    ),
    pytest.param(
        [("for: 5m", "for: null")],
        ["rules[0].for: not a duration: None"],
        id="null on-delay",
    ),
    pytest.param(
        [("after: 15m", "after: .inf")],
        ["rules[1].after: not a duration: inf"],
        id="infinite duration",
    ),
    pytest.param(
        [
            (
                "members: [{name: Li, email: li@example.org}]}",
                "members: [{name: Li, email: li@example.org}],"
                ' roster: {shifts: {day: "08:00-20:00"}, weeks: [{mon-sun: {day: Wang}}]}}',
            )
        ],
        [
            "posts[0]: roster.weeks[0].mon.day: unknown member 'Wang' (the post has Li);"
            " also in 6 more places"
        ],
        id="roster names someone not in the post",
    ),
    pytest.param(
        [("id: gate-north", "id: alarms")],
        ["devices[2].id: 'alarms' is reserved: fw/<site>/alarms/... carries alarm states"],
        id="reserved device id",
    ),
    pytest.param(
        [("device: freezer-1, metric", "device: freezer-9, metric")],
        ["rules[0].device: unknown device 'freezer-9'"],
        id="unknown device",
    ),
    pytest.param(
        [("after: 15m, severity: medium, post: cold-store", "after: 15m, post: nobody")],
        ["rules[1].post: unknown post 'nobody'"],
        id="unknown post",
    ),
    pytest.param(
        [("id: gate-north", "id: main-meter")],
        ["devices[2].id: duplicate id 'main-meter'"],
        id="duplicate device",
    ),
    pytest.param(
        [("id: freezer-silent", "id: freezer-warm")],
        ["rules[1].id: duplicate id 'freezer-warm'"],
        id="duplicate rule",
    ),
    pytest.param(
        [("metric: temperature", "metric: power")],
        ["rules[0].metric: a temperature has no 'power'"],
        id="metric not for the kind",
    ),
    pytest.param(
        [("after: 15m,", "after: 15m, metric: energy,")],
        ["rules[1].metric: a temperature has no 'energy'"],
        id="stale metric not for the kind",
    ),
    pytest.param(
        [(SILENT, SILENT + "\n  - {id: month, type: budget, device: main-meter, " + BUDGET)],
        ["rules[2].device: unknown device 'meter-9'"],
        id="a budget's meter the site does not have",
    ),
    pytest.param(
        [(SILENT, SILENT + "\n  - {id: month, type: budget, device: freezer-1, budget: 9000}")],
        ["rules[2].timezone: Field required"],
        id="a budget without its zone",
    ),
    pytest.param(
        [
            (
                SILENT,
                SILENT + "\n  - {id: day, type: deviation, device: freezer-1, above_percent: 20,"
                " timezone: Asia/Shanghai}",
            )
        ],
        ["rules[2].metric: a temperature has no 'energy'"],
        id="a deviation on a thermometer",
    ),
    pytest.param(
        [("above: -15, ", "")],
        ["rules[0]: a threshold rule needs 'above' or 'below'"],
        id="threshold without a limit",
    ),
    pytest.param(
        [("above: -15, ", "above: -15, below: -10, ")],
        ["rules[0]: 'below' must be lower than 'above'"],
        id="below over above",
    ),
    pytest.param(
        [("Asia/Shanghai", "Mars/Olympus")],
        ["site.timezone: unknown time zone 'Mars/Olympus'"],
        id="unknown timezone",
    ),
    pytest.param(
        [("mqtt://127.0.0.1:1883", "http://127.0.0.1:1883")],
        ["mqtt.url: write the broker as mqtt://host:port"],
        id="http url for mqtt",
    ),
    pytest.param(
        [("mqtt://127.0.0.1:1883", "127.0.0.1")],
        ["mqtt.url: write the broker as mqtt://host:port"],
        id="bare host for mqtt",
    ),
    pytest.param(
        [("id: demo-hospital", "id: demo hospital")],
        ["site.id: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'"],
        id="site id with a space",
    ),
    pytest.param(
        [("members: [{name: Li, ", "members: [{")],
        ["posts[0].members[0].name: Field required"],
        id="member without a name",
    ),
    pytest.param(
        [
            (
                "{name: Li, ",
                '{name: Li, notify: ["mailto://li:pw@example.org", "tgrm://4711:S3cr3t/1"], ',
            )
        ],
        [
            "posts[0].members[0].notify[1]: apprise cannot use this tgrm:// URL"
            " (unknown scheme or missing parts)"
        ],
        id="notify URL apprise does not know, its token not quoted",
    ),
    pytest.param(
        [("members: [", "notify: [li@example.org], members: [")],
        [
            "posts[0].notify[0]: not an apprise URL (write scheme://..., e.g. mailto://, json://, tgram://)"
        ],
        id="post notify that is not a URL",
    ),
    pytest.param(
        [
            (
                "storage: {path: ./data/agent.db}",
                "storage: {path: ./data/agent.db}\nnotify: {changes: [raised, closed]}",
            )
        ],
        ["notify.changes[1]: Input should be 'raised', 'reraised', 'cleared' or 'acked'"],
        id="notify on a change that does not exist",
    ),
    pytest.param(
        [
            (
                "storage: {path: ./data/agent.db}",
                "storage: {path: ./data/agent.db}\nnotify: {grouping: {group_wait: soon}}",
            )
        ],
        ["notify.grouping.group_wait: not a duration: 'soon' (write e.g. 30s, 10m, 2h, 1d)"],
        id="group wait that is not a duration",
    ),
    pytest.param(
        [
            (
                "members: [",
                "grouping: {group_by: [wing]}, members: [",
            )
        ],
        [
            "posts[0].grouping.group_by[0]: Input should be 'site', 'post', 'rule', 'type',"
            " 'device', 'metric', 'severity', 'building', 'floor', 'room' or 'department'"
        ],
        id="group by a label that does not exist",
    ),
    pytest.param(
        [
            (
                "storage: {path: ./data/agent.db}",
                "storage: {path: ./data/agent.db}\nnotify: {inhibit: [{source: {rule: x},"
                " target: {type: stale}, equal: []}]}",
            )
        ],
        [
            "notify.inhibit[0]: equal: [] mutes the target everywhere: name the scope"
            " (e.g. [building]) or list the target's devices"
        ],
        id="unscoped inhibition",
    ),
    pytest.param(
        [
            (
                "storage: {path: ./data/agent.db}",
                "storage: {path: ./data/agent.db}\nnotify: {inhibit: [{source: {rule: mains-lost},"
                " target: {device: [freezer-1, freezer-9]}}]}",
            )
        ],
        [
            "notify.inhibit[0].source.rule: unknown rule 'mains-lost'",
            "notify.inhibit[0].target.device: unknown device 'freezer-9'",
        ],
        id="inhibition naming what the site does not have",
    ),
    pytest.param(
        [("storage: {path: ./data/agent.db}", "storage: {path: ./data/agent.db, size: 1}")],
        ["storage.size: Extra inputs are not permitted"],
        id="unknown key",
    ),
    pytest.param(
        [("storage: {path: ./data/agent.db}", "storage: {max_size: 500 megabytes}")],
        ["storage.max_size: not a size: '500 megabytes' (write e.g. 500MB, 2GB, 1.5GiB)"],
        id="bad size",
    ),
    pytest.param(
        [("storage: {path: ./data/agent.db}", "storage: {max_size: 2MB}")],
        ["storage.max_size: must be at least 16MB: the write-ahead log alone takes up to 4MB"],
        id="store too small",
    ),
    pytest.param(
        [("storage: {path: ./data/agent.db}", "storage: {keep_raw: 30m}")],
        ["storage.keep_raw: must be at least 1h"],
        id="raw kept too briefly",
    ),
    pytest.param(
        [("storage: {path: ./data/agent.db}", "storage: {keep_raw: 90d, keep_rollups: 30d}")],
        ["storage: keep_rollups must be at least keep_raw: rollups outlive readings"],
        id="rollups shorter than readings",
    ),
    pytest.param(
        [("storage: {path: ./data/agent.db}", "storage: {post: boiler-room}")],
        ["storage.post: unknown post 'boiler-room'"],
        id="unknown storage post",
    ),
    pytest.param(
        [('token: "${FW_AGENT_TOKEN}"}', "token: t, sync_interval: 1m, max_backoff: 30s}")],
        ["hub: max_backoff must be at least the sync interval (and 1s)"],
        id="back-off shorter than the sync interval",
    ),
    pytest.param(
        [
            (
                'mqtt: {url: "mqtt://127.0.0.1:1883"}',
                'mqtt: {url: "mqtt://127.0.0.1:1883", receiver: fork}',
            )
        ],
        ["mqtt.receiver: Input should be 'process' or 'thread'"],
        id="unknown receiver layout",
    ),
    pytest.param(
        [("id: freezer-silent", "id: storage_pressure")],
        ["rules[1].id: 'storage_pressure' is the agent's own alarm"],
        id="reserved rule id",
    ),
]


@pytest.mark.parametrize(("edits", "errors"), MISTAKES)
def test_a_mistake_is_reported_by_its_path(edits: list[tuple[str, str]], errors: list[str]) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_site(broken(*edits), env={})
    assert raised.value.errors == errors


def test_the_back_off_is_capped_at_five_minutes_unless_written() -> None:
    default, _ = parse_site(EXAMPLE, env={})
    written, _ = parse_site(
        broken(('token: "${FW_AGENT_TOKEN}"}', "token: t, max_backoff: 1h}")), env={}
    )
    assert default.hub is not None and written.hub is not None
    assert (default.hub.max_backoff, written.hub.max_backoff) == (
        timedelta(minutes=5),
        timedelta(hours=1),
    )


def test_the_mqtt_session_runs_in_a_process_of_its_own_unless_written() -> None:
    default, _ = parse_site(EXAMPLE, env={})
    written, _ = parse_site(
        broken(('mqtt: {url: "mqtt://127.0.0.1:1883"}', "mqtt: {receiver: thread}")), env={}
    )
    assert (default.mqtt.receiver, written.mqtt.receiver) == ("process", "thread")


def test_the_store_is_bounded_by_default_and_sizes_read_as_written() -> None:
    default, _ = parse_site(EXAMPLE, env={})
    written, _ = parse_site(
        broken(("storage: {path: ./data/agent.db}", "storage: {max_size: 2GiB, keep_raw: 7d}")),
        env={},
    )
    unbounded, _ = parse_site(broken(("{path: ./data/agent.db}", "{max_size: null}")), env={})
    assert (default.storage.max_size, default.storage.keep_raw, default.storage.keep_rollups) == (
        500_000_000,
        timedelta(days=30),
        timedelta(days=400),
    )
    assert (written.storage.max_size, written.storage.keep_raw) == (2**31, timedelta(days=7))
    assert unbounded.storage.max_size is None


def test_every_field_mistake_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_site(
            broken(
                ("Asia/Shanghai", "Mars/Olympus"),
                ("kind: access_reader", "kind: turnstile"),
                ("after: 15m", "after: 15 minutes"),
            ),
            env={},
        )
    assert raised.value.errors == [
        "site.timezone: unknown time zone 'Mars/Olympus'",
        KIND_ERROR,
        "rules[1].after: not a duration: '15 minutes' (write e.g. 30s, 10m, 2h, 1d)",
    ]
    assert str(raised.value) == "\n".join(raised.value.errors)


def test_every_reference_mistake_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_site(
            broken(
                ("id: gate-north", "id: main-meter"),
                ("device: freezer-1, metric", "device: freezer-9, metric"),
                ("after: 15m, severity: medium, post: cold-store", "after: 15m, post: nobody"),
            ),
            env={},
        )
    assert raised.value.errors == [
        "devices[2].id: duplicate id 'main-meter'",
        "rules[0].device: unknown device 'freezer-9'",
        "rules[1].post: unknown post 'nobody'",
    ]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("- site\n- devices\n", id="a list"),
        pytest.param("just words\n", id="a string"),
        pytest.param("", id="empty"),
        pytest.param("# only a comment\n", id="a comment"),
    ],
)
def test_a_document_that_is_not_a_mapping(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_site(text, env={})
    assert raised.value.errors == [
        "the file must be a YAML mapping with site:, devices:, rules: ..."
    ]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("site: {id: [demo\n", id="unclosed"),
        pytest.param("site:\n\tid: demo\n", id="tab"),
        pytest.param("site: {id: demo}\nsite: *nowhere\n", id="unknown alias"),
    ],
)
def test_invalid_yaml(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_site(text, env={})
    assert [line.split(":")[0] for line in raised.value.errors] == ["YAML"]


@pytest.mark.parametrize(
    ("token", "env", "expected", "warnings"),
    [
        pytest.param("${T:-dev}", {}, "dev", [], id="default"),
        pytest.param("${T:-dev}", {"T": "t"}, "t", [], id="set"),
        pytest.param("${T:-dev}", {"T": ""}, "dev", [], id="empty takes the default"),
        pytest.param("${T:-}", {}, "", [], id="empty default"),
        pytest.param("${T}", {"T": ""}, "", [], id="set but empty"),
        pytest.param("${T}", {}, "", ["environment variable T is not set"], id="unset"),
        pytest.param("${T}-${T}", {}, "-", ["environment variable T is not set"], id="warned once"),
        pytest.param("Bearer ${A}.${B}", {"A": "x", "B": "y"}, "Bearer x.y", [], id="two"),
        pytest.param("${T:-a b:c}", {}, "a b:c", [], id="default with spaces"),
        pytest.param("$T", {"T": "t"}, "$T", [], id="no braces, no expansion"),
        pytest.param("${1T}", {"1T": "t"}, "${1T}", [], id="not a variable name"),
    ],
)
def test_environment_expansion(
    token: str, env: dict[str, str], expected: str, warnings: list[str]
) -> None:
    config, warned = parse_site(broken(('"${FW_AGENT_TOKEN}"', f'"{token}"')), env=env)
    assert config.hub is not None
    assert (config.hub.token, warned) == (expected, warnings)


def test_expansion_reaches_lists_and_nested_mappings() -> None:
    text = broken(
        ("building: Main", 'building: "${BUILDING}"'), ("email: li@example.org", 'email: "${MAIL}"')
    )
    config, _ = parse_site(text, env={"BUILDING": "A1", "MAIL": "li@x.org", "FW_AGENT_TOKEN": "t"})
    assert (config.devices[0].location.building, config.posts[0].members[0].email) == (
        "A1",
        "li@x.org",
    )


def test_a_modbus_map_must_fit_the_device_kind() -> None:
    text = (
        "site: {id: s}\n"
        "devices:\n"
        "  - {id: m, kind: temperature, source: {format: modbus, host: 10.0.0.5, map: sdm120}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_site(text, env={})
    assert "devices[0].source: a temperature has no 'energy' (import_energy)" in caught.value.errors


def test_field_errors_and_unknown_references_are_reported_together() -> None:
    text = (
        "site: {id: s}\n"
        "devices:\n"
        "  - {id: a, kind: toaster}\n"
        "rules:\n"
        "  - {id: r, type: stale, device: ghost, after: 1h, post: nobody}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_site(text, env={})
    assert caught.value.errors[1:] == [
        "rules[0].device: unknown device 'ghost'",
        "rules[0].post: unknown post 'nobody'",
    ]
    assert caught.value.errors[0].startswith("devices[0].kind:")


def test_the_readme_storage_example_validates() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("#### Bounded store and retention", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    config, _ = parse_site("site: {id: s}\nposts: [{id: cold-store}]\n" + block, env={})
    assert (config.storage.max_size, config.storage.post) == (500_000_000, "cold-store")


def test_the_readme_notifications_example_validates() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Notifications", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    env = {
        "FW_SMTP_PASSWORD": "pw",
        "FW_TELEGRAM_BOT": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "FW_DINGTALK_TOKEN": "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
        "FW_WECOM_KEY": "693a91f6-7aoc-4bc4-97a0-0ec2sifa5aaa",
    }
    config, warnings = parse_site("site: {id: s}\n" + block, env=env)
    assert warnings == []
    assert [len(m.notify) for m in config.posts[0].members] == [1, 1]
    assert len(config.posts[0].notify) == 3
    assert config.notify.give_up_after == timedelta(hours=24)


def test_the_readme_roster_example_validates() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Notifications", 1)[1]
    block = section.split("```yaml\n")[2].split("```", 1)[0]
    config, warnings = parse_site("site: {id: s, timezone: Asia/Shanghai}\n" + block, env={})
    assert warnings == []
    post = config.posts[0]
    assert (post.roster is not None, post.supervisor is not None) == (True, True)


def test_the_readme_routing_example_validates() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Notifications", 1)[1]
    block = section.split("```yaml\n")[3].split("```", 1)[0]
    site = (
        "site: {id: s}\n"
        "devices:\n"
        "  - {id: gw-canteen, kind: temperature, location: {building: Canteen}}\n"
        "  - {id: freezer-1, kind: temperature}\n"
        "  - {id: freezer-2, kind: temperature}\n"
        "  - {id: mains, kind: power_meter}\n"
        "rules:\n"
        "  - {id: mains-lost, type: threshold, device: mains, metric: power, below: 1}\n"
    )
    config, warnings = parse_site(site + block, env={})
    assert warnings == []
    grouping = config.notify.grouping
    assert grouping is not None
    assert grouping.repeat_interval == timedelta(hours=4)
    assert [r.equal for r in config.notify.inhibit] == [["building"], []]
    assert config.grouping(config.posts[0]) == config.posts[0].grouping
