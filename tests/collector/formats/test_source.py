"""``source:`` in the site YAML (collector.config.Source) as the device formats need it.

It belongs in tests/collector/test_config.py; kept here while that file is others' to edit.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from collector.config import Source

GOOD = [
    pytest.param({}, Source(format="native"), id="native by default"),
    pytest.param(
        {"format": "tasmota", "topic": "kitchen_plug"},
        Source(format="tasmota", topic="kitchen_plug"),
        id="tasmota",
    ),
    pytest.param(
        {"format": "zigbee2mqtt", "topic": "cold room/door", "base": "site/z2m"},
        Source(format="zigbee2mqtt", topic="cold room/door", base="site/z2m"),
        id="friendly name with / and space, own base",
    ),
    pytest.param(
        {"format": "shelly", "topic": "shellypro4pm-c8f09e8a1b2c", "channel": 3},
        Source(format="shelly", topic="shellypro4pm-c8f09e8a1b2c", channel=3),
        id="shelly channel",
    ),
    pytest.param(
        {"format": "shelly", "topic": "shellypro4pm-c8f09e8a1b2c", "channel": "1"},
        Source(format="shelly", topic="shellypro4pm-c8f09e8a1b2c", channel=1),
        id="channel from ${VAR} expansion",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), GOOD)
def test_valid_sources(raw: dict[str, Any], expected: Source) -> None:
    assert Source.model_validate(raw) == expected


BAD = [
    pytest.param({"format": "shelly"}, "format shelly needs source.topic", id="no topic"),
    pytest.param({"format": "tasmota", "topic": "a/+"}, "is not a topic name", id="wildcard"),
    pytest.param({"format": "tasmota", "topic": "a/"}, "is not a topic name", id="trailing /"),
    pytest.param({"format": "tasmota", "topic": ""}, "is not a topic name", id="empty"),
    pytest.param({"format": "tasmota", "topic": "a\n"}, "is not a topic name", id="newline"),
    pytest.param(
        {"format": "tasmota", "topic": "a", "base": "b"},
        "source.base applies only to format zigbee2mqtt",
        id="base elsewhere",
    ),
    pytest.param(
        {"format": "tasmota", "topic": "a", "channel": 1},
        "source.channel applies only to format shelly",
        id="channel elsewhere",
    ),
    pytest.param(
        {"format": "shelly", "topic": "a", "channel": -1},
        "greater than or equal to 0",
        id="negative channel",
    ),
    pytest.param(
        {"format": "shelly", "topic": "a", "channel": True},
        "channel is a component id",
        id="channel: on (YAML 1.1 true)",
    ),
    pytest.param(
        {"format": "shelly", "topic": "a", "channel": 1.5},
        "valid integer",
        id="fractional channel",
    ),
    pytest.param({"format": "homie", "topic": "a"}, "Input should be", id="unknown format"),
    pytest.param({"format": "native", "extra": 1}, "Extra inputs", id="extra key"),
]


@pytest.mark.parametrize(("raw", "message"), BAD)
def test_invalid_sources(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Source.model_validate(raw)
