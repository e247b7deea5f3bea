"""The text people read: labels, the site's time zone, units, Chinese beside English when the
site names its things in Chinese."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agent.config import SiteConfig
from agent.notify.message import render
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


def test_an_alarm_without_a_value_or_a_known_device_still_reads(config: SiteConfig) -> None:
    stale = replace(WARM, device="gone", metric=None, value=None, message="no data from gone")
    body = render(stale, "raised", T0, None, config).body
    assert "Device 设备: gone" in body
    assert "Value" not in body
    assert "Location" not in body
