"""Rule specs as declared in the site YAML: what validates and what is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from rules.rate import RateRule
from rules.spec import Rule, StaleRule, ThresholdRule

RULE: TypeAdapter[ThresholdRule | StaleRule] = TypeAdapter(Rule)
THRESHOLD = {
    "id": "freezer-warm",
    "type": "threshold",
    "device": "freezer-1",
    "metric": "temperature",
}
STALE = {"id": "freezer-silent", "type": "stale", "device": "freezer-1"}
RATE = {"id": "freezer-warming", "type": "rate", "device": "freezer-1", "metric": "temperature"}


def test_a_threshold_rule_reads_its_yaml_names() -> None:
    rule = RULE.validate_python(THRESHOLD | {"above": -15, "for": "5m", "deadband": 1})
    assert isinstance(rule, ThresholdRule)
    assert (rule.above, rule.below, rule.on_delay, rule.deadband) == (
        -15.0,
        None,
        timedelta(minutes=5),
        1.0,
    )
    assert (rule.severity, rule.post, rule.message) == ("medium", None, None)


def test_a_threshold_rule_has_no_on_delay_unless_told() -> None:
    rule = RULE.validate_python(THRESHOLD | {"below": 2})
    assert isinstance(rule, ThresholdRule)
    assert (rule.on_delay, rule.off_delay, rule.deadband) == (timedelta(0), timedelta(0), None)


def test_a_threshold_rule_reads_off_for_as_its_off_delay() -> None:
    rule = RULE.validate_python(THRESHOLD | {"above": -15, "off_for": "10m"})
    assert isinstance(rule, ThresholdRule)
    assert rule.off_delay == timedelta(minutes=10)


def test_a_stale_rule_watches_every_metric_unless_told() -> None:
    rule = RULE.validate_python(STALE | {"after": "15m"})
    assert rule == StaleRule(
        id="freezer-silent", type="stale", device="freezer-1", after=timedelta(minutes=15)
    )
    assert rule.metric is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(THRESHOLD, "needs 'above' or 'below'", id="no limit"),
        pytest.param(THRESHOLD | {"above": 2, "below": 8}, "lower than", id="below above"),
        pytest.param(THRESHOLD | {"above": 2, "below": 2}, "lower than", id="below equals above"),
        pytest.param(THRESHOLD | {"above": -15, "deadband": -1}, "greater than", id="deadband < 0"),
        pytest.param(THRESHOLD | {"above": float("nan")}, "finite", id="NaN limit"),
        pytest.param(THRESHOLD | {"below": float("-inf")}, "finite", id="infinite limit"),
        pytest.param(
            THRESHOLD | {"above": 1, "deadband": float("inf")}, "finite", id="infinite deadband"
        ),
        pytest.param(
            THRESHOLD | {"above": 8, "below": 2, "deadband": 3.5},
            "deadband",
            id="deadband leaves no normal value",
        ),
        pytest.param(
            THRESHOLD | {"above": 1, "below": 0.99},
            "deadband",
            id="default deadband leaves no normal value",
        ),
        pytest.param(THRESHOLD | {"above": 1, "for": "5 min"}, "not a duration", id="bad for"),
        pytest.param(THRESHOLD | {"above": 1, "for": None}, "not a duration", id="null for"),
        pytest.param(
            THRESHOLD | {"above": 1, "off_for": "-1m"}, "not a duration", id="negative off_for"
        ),
        pytest.param(
            THRESHOLD | {"above": 1, "off_for": None}, "not a duration", id="null off_for"
        ),
        pytest.param(
            THRESHOLD | {"above": 1, "off_delay": "1m"}, "Extra inputs", id="off_delay for off_for"
        ),
        pytest.param(THRESHOLD | {"above": 1, "severity": "urgent"}, "severity", id="severity"),
        pytest.param(THRESHOLD | {"above": 1, "id": "bad id"}, "pattern", id="id with a space"),
        pytest.param(THRESHOLD | {"above": 1, "limit": 3}, "Extra inputs", id="unknown key"),
        pytest.param(STALE, "after", id="stale without after"),
        pytest.param(STALE | {"after": "-1m"}, "not a duration", id="negative after"),
        pytest.param(STALE | {"after": float("inf")}, "not a duration", id="infinite after"),
        pytest.param(STALE | {"after": "1m", "type": "slope"}, "tag", id="unknown type"),
    ],
)
def test_a_bad_rule_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RULE.validate_python(fields)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(THRESHOLD | {"above": 8, "below": 2, "deadband": 3}, id="bands meet"),
        pytest.param(THRESHOLD | {"above": 8, "below": 2}, id="default bands"),
        pytest.param(THRESHOLD | {"below": -0.5, "for": 0}, id="below only, no delay"),
    ],
)
def test_a_rule_with_a_normal_range_validates(fields: dict[str, Any]) -> None:
    assert isinstance(RULE.validate_python(fields), ThresholdRule)


RATE_RULE: TypeAdapter[RateRule] = TypeAdapter(RateRule)


def test_a_rate_rule_reads_its_yaml_names() -> None:
    rule = RATE_RULE.validate_python(
        RATE | {"rise_per_min": 0.5, "fall_per_min": 2, "over": "5m", "deadband": 0.1}
    )
    assert (rule.rise_per_min, rule.fall_per_min, rule.over, rule.deadband) == (
        0.5,
        2.0,
        timedelta(minutes=5),
        0.1,
    )


def test_a_rate_rule_measures_over_a_minute_unless_told() -> None:
    rule = RATE_RULE.validate_python(RATE | {"rise_per_min": 0.5})
    assert (rule.fall_per_min, rule.over, rule.deadband) == (None, timedelta(minutes=1), None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(RATE, "needs 'rise_per_min' or 'fall_per_min'", id="no limit"),
        pytest.param(RATE | {"rise_per_min": 0}, "greater than 0", id="zero rise"),
        pytest.param(RATE | {"fall_per_min": -1}, "greater than 0", id="negative fall"),
        pytest.param(RATE | {"rise_per_min": float("nan")}, "finite", id="NaN rise"),
        pytest.param(RATE | {"fall_per_min": float("inf")}, "finite", id="infinite fall"),
        pytest.param(RATE | {"rise_per_min": "fast"}, "valid number", id="a word"),
        pytest.param(
            RATE | {"rise_per_min": 0.5, "deadband": 0.6}, "deadband", id="deadband > rise"
        ),
        pytest.param(
            RATE | {"rise_per_min": 2, "fall_per_min": 0.5, "deadband": 1},
            "deadband",
            id="deadband > fall",
        ),
        pytest.param(
            RATE | {"rise_per_min": 0.5, "deadband": -0.1}, "greater than", id="deadband < 0"
        ),
        pytest.param(RATE | {"rise_per_min": 0.5, "over": "-1m"}, "not a duration", id="over < 0"),
        pytest.param(RATE | {"rise_per_min": 0.5, "over": None}, "not a duration", id="null over"),
        pytest.param(RATE | {"rise_per_min": 0.5, "metric": None}, "string", id="no metric"),
        pytest.param(RATE | {"rise_per_min": 0.5, "for": "5m"}, "Extra inputs", id="no on-delay"),
    ],
)
def test_a_bad_rate_rule_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RATE_RULE.validate_python(fields)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(RATE | {"fall_per_min": 1}, id="fall only"),
        pytest.param(RATE | {"rise_per_min": 0.5, "deadband": 0.5}, id="band as wide as the limit"),
        pytest.param(RATE | {"rise_per_min": 0.5, "over": 0}, id="every later reading"),
    ],
)
def test_a_rate_rule_with_a_normal_range_validates(fields: dict[str, Any]) -> None:
    assert isinstance(RATE_RULE.validate_python(fields), RateRule)
