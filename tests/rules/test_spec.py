"""Rule specs as declared in the site YAML: what validates and what is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from rules.spec import Rule, StaleRule, ThresholdRule

RULE: TypeAdapter[ThresholdRule | StaleRule] = TypeAdapter(Rule)
THRESHOLD = {
    "id": "freezer-warm",
    "type": "threshold",
    "device": "freezer-1",
    "metric": "temperature",
}
STALE = {"id": "freezer-silent", "type": "stale", "device": "freezer-1"}


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
    assert (rule.on_delay, rule.deadband) == (timedelta(0), None)


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
        pytest.param(THRESHOLD | {"above": 1, "severity": "urgent"}, "severity", id="severity"),
        pytest.param(THRESHOLD | {"above": 1, "id": "bad id"}, "pattern", id="id with a space"),
        pytest.param(THRESHOLD | {"above": 1, "limit": 3}, "Extra inputs", id="unknown key"),
        pytest.param(STALE, "after", id="stale without after"),
        pytest.param(STALE | {"after": "-1m"}, "not a duration", id="negative after"),
        pytest.param(STALE | {"after": float("inf")}, "not a duration", id="infinite after"),
        pytest.param(STALE | {"after": "1m", "type": "rate"}, "tag", id="unknown type"),
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
