"""Silences and inhibition over alarm labels: matchers, start and end, scope, no self-muting."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from rules.muting import InhibitRule, Silence, inhibited, matches, silenced

T = 1_000_000.0
SENSOR = {
    "alarm": "stale-f1",
    "site": "clinic",
    "rule": "f1-silent",
    "type": "stale",
    "device": "f1",
    "severity": "medium",
    "building": "Canteen",
}
GATEWAY = {"alarm": "stale-gw", "rule": "gw-silent", "type": "stale", "device": "gw-canteen"}
GATEWAY |= {"building": "Canteen", "site": "clinic"}


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        ({"device": ("f1",)}, True),
        ({"device": ("f2", "f1")}, True),
        ({"device": ("f1",), "building": ("Canteen",)}, True),
        ({"device": ("f1",), "building": ("Main",)}, False),
        ({"floor": ("1",)}, False),  # a label the alarm lacks matches nothing
        ({}, True),
    ],
)
def test_every_matcher_must_match(matchers: dict[str, tuple[str, ...]], expected: bool) -> None:
    assert matches(matchers, SENSOR) is expected


def silence(matchers: dict[str, tuple[str, ...]], start: float = 0, end: float = 3600) -> Silence:
    return Silence("s1", matchers, T + start, T + end, "li", "defrost")


@pytest.mark.parametrize(
    ("silences", "at", "expected"),
    [
        ([silence({"device": ("f1",)})], 0, True),
        ([silence({"device": ("f1",)})], 3599, True),
        ([silence({"device": ("f1",)})], 3600, False),  # expired at its end
        ([silence({"device": ("f1",)}, start=60)], 59, False),  # not begun
        ([silence({"device": ("f2",)})], 10, False),
        ([silence({"device": ("f2",)}), silence({"type": ("stale",)})], 10, True),
        ([silence({})], 10, False),  # no matchers: never "everything"
        ([], 10, False),
    ],
)
def test_a_silence_mutes_what_it_matches_while_it_lasts(
    silences: list[Silence], at: float, expected: bool
) -> None:
    assert silenced(SENSOR, silences, T + at) is expected


GATEWAY_RULE = InhibitRule.model_validate(
    {"source": {"type": "stale", "device": "gw-canteen"}, "target": {"type": "stale"}}
)


@pytest.mark.parametrize(
    ("active", "target", "expected"),
    [
        ([GATEWAY], SENSOR, True),
        ([], SENSOR, False),  # the source cleared: no longer muted
        ([GATEWAY | {"building": "Main"}], SENSOR, False),  # another building
        ([GATEWAY], SENSOR | {"building": "Main"}, False),
        ([GATEWAY], {k: v for k, v in SENSOR.items() if k != "building"}, False),
        ([GATEWAY], SENSOR | {"type": "threshold"}, False),  # not a target
        ([GATEWAY], GATEWAY, False),  # never itself
        ([SENSOR], SENSOR | {"alarm": "stale-f2", "device": "f2"}, False),  # not a source
    ],
)
def test_inhibition_is_scoped(
    active: list[dict[str, str]], target: dict[str, str], expected: bool
) -> None:
    assert inhibited(target, active, [GATEWAY_RULE]) is expected


def test_a_dependency_list_needs_no_scope() -> None:
    rule = InhibitRule.model_validate(
        {"source": {"rule": "mains-lost"}, "target": {"device": ["f1", "f2"]}, "equal": []}
    )
    mains = {"alarm": "mains", "rule": "mains-lost", "device": "meter", "building": "Main"}
    assert inhibited(SENSOR, [mains], [rule])
    assert not inhibited(SENSOR | {"device": "f3"}, [mains], [rule])


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"source": {"rule": "x"}, "target": {"type": "stale"}, "equal": []}, "equal: \\[\\]"),
        ({"source": {}, "target": {"type": "stale"}}, "at least 1"),
        ({"source": {"rule": "x"}, "target": {"wing": "A"}}, "Input should be"),
        ({"source": {"rule": []}, "target": {"type": "stale"}}, "at least 1"),
    ],
)
def test_a_bad_inhibit_rule_is_refused_clearly(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        InhibitRule.model_validate(rule)


def test_one_value_reads_as_a_list() -> None:
    rule = InhibitRule.model_validate({"source": {"rule": "x"}, "target": {"device": "f1"}})
    assert rule.target == {"device": ("f1",)}
    assert rule.equal == ["building"]
