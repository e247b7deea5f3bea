"""Who gets an alarm: the members of its post on duty with notify URLs, then the post's own."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.config import SiteConfig, parse_site
from agent.notify.recipients import Recipient, configured_urls, recipients
from rules.alarm import Alarm
from tests.agent.notify.conftest import notify_config
from tests.support.site import site_yaml

T0 = 1_763_900_000.0
ALARM = Alarm("a1", "freezer-warm", "freezer-1", "temperature", "high", "cold-store", "m", T0, T0)
LI = "json://127.0.0.1:9/li"
DESK = "mailto://desk@example.org"


def config(member: list[str], post: list[str]) -> SiteConfig:
    return notify_config(Path("agent.db"), "mqtt://127.0.0.1:1", member=member, post=post)


def test_members_first_then_the_post_each_url_once() -> None:
    site = config([LI], [DESK, LI])
    found = recipients(ALARM, site, T0)
    assert found == [Recipient("Li (cold-store)", LI), Recipient("post cold-store", DESK)]
    assert configured_urls(site) == [LI, DESK, LI]


def test_an_alarm_without_a_post_reaches_nobody() -> None:
    assert recipients(replace(ALARM, post=None), config([LI], [DESK]), T0) == []


def test_a_recipient_never_shows_its_url() -> None:
    assert LI not in repr(Recipient("Li", LI))


ROSTERED = """posts:
  - id: cold-store
    members:
      - {name: Li, notify: ["json://127.0.0.1:9/li"]}
      - {name: Wang, notify: ["json://127.0.0.1:9/wang"]}
    supervisor: {name: Chen, notify: ["json://127.0.0.1:9/chen"]}
    roster:
      shifts: {day: "08:00-20:00", night: "20:00-08:00"}
      weeks: [{mon-sun: {day: Li, night: Wang}}]
      overrides: [{start: "2025-11-24 08:00", end: "2025-11-24 20:00", member: [], replaces: Li}]
"""


def rostered() -> SiteConfig:
    yaml = site_yaml(Path("agent.db"), "mqtt://127.0.0.1:1")
    start, end = yaml.index("posts:\n"), yaml.index("rules:\n")
    parsed, _ = parse_site(yaml[:start] + ROSTERED + yaml[end:], env={})
    return parsed


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        pytest.param("2025-11-23 10:00", ["Li (cold-store)"], id="day shift"),
        pytest.param("2025-11-23 22:00", ["Wang (cold-store)"], id="night shift"),
        pytest.param("2025-11-24 10:00", ["Chen (cold-store, supervisor)"], id="nobody on duty"),
    ],
)
def test_the_roster_says_who_is_told(local: str, expected: list[str]) -> None:
    at = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    assert [r.name for r in recipients(ALARM, rostered(), at)] == expected
