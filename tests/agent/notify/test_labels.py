"""An alarm's labels from the site configuration, and the muting the notifier applies."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agent.config import SiteConfig
from agent.notify.labels import Labeller, labels, muting
from rules.alarm import Alarm
from rules.muting import InhibitRule, Silence
from tests.support.site import site_config

T0 = 1_763_900_000.0
WARM = Alarm("a1", "freezer-warm", "freezer-1", "temperature", "high", "cold-store", "warm", T0, T0)
SILENT = replace(WARM, id="a2", rule="freezer-silent", metric=None, severity="medium")


@pytest.fixture
def config(tmp_path: Path) -> SiteConfig:
    return site_config(tmp_path / "agent.db", "mqtt://127.0.0.1:1")


def test_an_alarm_has_its_rules_and_its_devices_labels(config: SiteConfig) -> None:
    assert labels(WARM, config) == {
        "alarm": "a1",
        "site": "clinic",
        "post": "cold-store",
        "rule": "freezer-warm",
        "type": "threshold",
        "device": "freezer-1",
        "metric": "temperature",
        "severity": "high",
        "building": "Canteen",
        "department": "Kitchen",
    }


def test_a_label_it_lacks_is_left_out(config: SiteConfig) -> None:
    door = replace(WARM, device="door-1", rule="gone", post=None, metric=None)
    assert set(labels(door, config)) == {"alarm", "site", "rule", "device", "severity"}


def test_muting_takes_silences_and_inhibition_together(config: SiteConfig) -> None:
    rule = InhibitRule.model_validate(
        {"source": {"rule": "freezer-silent"}, "target": {"rule": "freezer-warm"}}
    )
    hush = Silence("s", {"severity": ("medium",)}, T0, T0 + 60, "li", "defrost")
    labeller = Labeller(config)

    muted = muting(labeller, [rule], [SILENT], [hush], T0)
    unmuted = muting(labeller, [rule], [], [hush], T0 + 60)

    assert (muted(WARM), muted(SILENT)) == (True, True)
    assert (unmuted(WARM), unmuted(SILENT)) == (False, False)
