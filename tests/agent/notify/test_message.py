"""The text people read: labels, the site's time zone, units, Chinese beside English when the
site names its things in Chinese."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agent.config import SiteConfig
from agent.notify.message import render, render_group
from rules.alarm import Alarm
from tests.support.site import site_config

T0 = 1_763_900_000.0  # 2025-11-23 12:13:20 UTC
WARM = Alarm(
    "a1",
    "freezer-warm",
    "freezer-1",
    "temperature",
    "high",
    "cold-store",
    "freezer-1 temperature above -15",
    T0,
    T0,
    value=-12.5,
)


@pytest.fixture
def config(tmp_path: Path) -> SiteConfig:
    return site_config(tmp_path / "agent.db", "mqtt://127.0.0.1:1")


def test_a_raised_alarm_says_where_what_and_when_in_the_sites_time(config: SiteConfig) -> None:
    message = render(WARM, "raised", T0, None, config)
    assert message.title == (
        "[HIGH 高] 报警 Alarm: Kitchen freezer <b> — freezer-1 temperature above -15"
    )
    assert message.body.splitlines() == [
        "Site 站点: Test Clinic",
        "Device 设备: Kitchen freezer <b>",
        "Location 位置: Canteen / Kitchen",
        "Alarm 报警: freezer-1 temperature above -15",
        "Severity 级别: high 高",
        "State 状态: unacknowledged 未确认",
        "Value 数值: -12.5 °C",
        "Time 时间: 2025-11-23 20:13:20 (UTC+08:00, Asia/Shanghai)",
        "Post 岗位: 冷库管理员 / Cold-store keeper",
    ]
    assert message.kind == "failure"


def test_english_only_when_nothing_is_named_in_chinese(config: SiteConfig) -> None:
    door = Alarm("a2", "held", "door-1", "contact", "medium", None, "Door held open", T0, T0)
    acked = replace(door, value=1.0, acked_at=T0 + 60, acked_by="Li")
    message = render(acked, "acked", T0 + 60, "Li", config)
    assert message.title == "[MEDIUM] Acknowledged: Freezer door — Door held open"
    assert message.body.splitlines() == [
        "Site: Test Clinic",
        "Device: Freezer door",
        "Alarm: Door held open",
        "Severity: medium",
        "State: acknowledged",
        "Value: open",
        "Time: 2025-11-23 20:14:20 (UTC+08:00, Asia/Shanghai)",
        "Acknowledged by: Li",
    ]
    assert message.kind == "info"


@pytest.mark.parametrize(
    ("change", "alarm", "kind", "title"),
    [
        ("reraised", WARM, "failure", "[HIGH 高] 再次报警 Alarm again:"),
        ("raised", replace(WARM, severity="low"), "warning", "[LOW 低] 报警 Alarm:"),
        (
            "cleared",
            replace(WARM, active=False, value=-16.0),
            "success",
            "[HIGH 高] 已恢复 Cleared:",
        ),
    ],
)
def test_each_change_has_its_title_and_apprise_type(
    config: SiteConfig, change: str, alarm: Alarm, kind: str, title: str
) -> None:
    message = render(alarm, change, T0, None, config)
    assert message.title.startswith(title)
    assert message.kind == kind


def test_a_closed_latched_alarm_says_who_closed_it_and_why(config: SiteConfig) -> None:
    closed = replace(
        WARM,
        latched=True,
        active=False,
        closed_at=T0 + 600,
        closed_by="Wang",
        disposition="seal replaced <b>",
    )
    message = render(closed, "closed", T0 + 600, "Wang", config)
    assert message.title.startswith("[HIGH 高] 已处置 Closed:")
    assert message.body.splitlines()[-2:] == [
        "Closed by 处置人: Wang",
        "Disposition 处置: seal replaced <b>",
    ]


def test_an_alarm_without_a_value_or_a_known_device_still_reads(config: SiteConfig) -> None:
    stale = replace(WARM, device="gone", metric=None, value=None, message="no data from gone")
    body = render(stale, "raised", T0, None, config).body
    assert "Device 设备: gone" in body
    assert "Value" not in body
    assert "Location" not in body


def test_a_group_message_lists_what_is_new_still_active_and_cleared(config: SiteConfig) -> None:
    door = replace(WARM, id="a2", rule="door-open", device="door-1", severity="critical")
    door = replace(door, metric="contact", value=1.0, message="freezer door open")
    gone = replace(WARM, id="a3", active=False, cleared_at=T0 + 60, value=-20.0)

    message = render_group(
        [(WARM, "raised"), (door, "escalated")],
        [],
        [gone],
        "冷库管理员 / Cold-store keeper",
        ["Canteen"],
        T0 + 120,
        config,
    )

    assert message.title == (
        "[CRITICAL 紧急] 报警汇总 Alarms: 2 new 新报警, 1 cleared 已恢复"
        " — 冷库管理员 / Cold-store keeper / Canteen"
    )
    assert message.body.splitlines() == [
        "Site 站点: Test Clinic",
        "Post 岗位: 冷库管理员 / Cold-store keeper",
        "Location 位置: Canteen",
        "Time 时间: 2025-11-23 20:15:20 (UTC+08:00, Asia/Shanghai)",
        "New 新报警 (2):",
        "- Kitchen freezer <b> — freezer-1 temperature above -15 (high, -12.5 °C)",
        "- Not acknowledged 未确认: Freezer door — freezer door open (critical, open)",
        "Cleared 已恢复 (1):",
        "- Kitchen freezer <b> — freezer-1 temperature above -15 (high, -20 °C)",
    ]
    assert message.kind == "failure"


def test_a_group_message_of_cleared_alarms_only_is_a_success(config: SiteConfig) -> None:
    gone = replace(WARM, active=False, cleared_at=T0 + 60)
    other = replace(gone, id="a3", severity="low")

    message = render_group([], [], [gone, other], "cold-store", [], T0, config)

    assert message.kind == "success"
    assert message.title == "[HIGH] Alarms: 2 cleared — cold-store"
