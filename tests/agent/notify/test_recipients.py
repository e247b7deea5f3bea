"""Who gets an alarm for now: the members of its post with notify URLs, then the post's own."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from agent.config import SiteConfig
from agent.notify.recipients import Recipient, configured_urls, recipients
from rules.alarm import Alarm
from tests.agent.notify.conftest import notify_config

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
