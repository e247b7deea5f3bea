"""The engine: readings and ticks in, alarm changes out; acknowledgements; restarts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from collector.models import Reading
from rules.alarm import Alarm, AlarmChange
from rules.engine import Engine, RuleState, UnknownAlarm
from rules.spec import Rule
from rules.stale import StaleState
from rules.threshold import ThresholdState

T0 = 1_700_000_000.0
RULES: list[Rule] = TypeAdapter(list[Rule]).validate_python(
    [
        {
            "id": "freezer-warm",
            "type": "threshold",
            "device": "freezer-1",
            "metric": "temperature",
            "above": -15,
            "for": "5m",
            "deadband": 1,
            "severity": "high",
            "post": "cold-store",
        },
        {"id": "freezer-silent", "type": "stale", "device": "freezer-1", "after": "15m"},
        {
            "id": "meter-peak",
            "type": "threshold",
            "device": "main-meter",
            "metric": "power",
            "above": 50_000,
            "message": "Main meter over 50 kW",
        },
    ]
)
PEAK = Alarm(
    id="alarm-1",
    rule="meter-peak",
    device="main-meter",
    metric="power",
    severity="medium",
    post=None,
    message="Main meter over 50 kW",
    raised_at=T0 + 10,
    changed_at=T0 + 10,
    value=60_000.0,
)


def make_engine(rules: list[Rule]) -> Engine:
    ids = count(1)
    return Engine(rules=rules, started_at=T0, new_id=lambda: f"alarm-{next(ids)}")


@pytest.fixture
def engine() -> Engine:
    return make_engine(list(RULES))


def reading(device: str, metric: str, value: float, at: float) -> Reading:
    return Reading(device, metric, at, value, at)


def power(value: float, at: float) -> Reading:
    return reading("main-meter", "power", value, at)


def kinds(changes: list[AlarmChange]) -> list[str]:
    return [change.kind for change in changes]


def test_a_breaching_reading_raises_an_alarm(engine: Engine) -> None:
    assert engine.on_reading(power(60_000, T0 + 10)) == [AlarmChange(PEAK, "raised", T0 + 10)]
    assert engine.alarms == {"meter-peak": PEAK}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([1_000, 2_000], [[], []], id="normal"),
        pytest.param([60_000], [["raised"]], id="raised"),
        pytest.param([60_000, 70_000], [["raised"], []], id="still above"),
        pytest.param([60_000, 49_500], [["raised"], []], id="inside the default deadband"),
        pytest.param([60_000, 48_000], [["raised"], ["cleared"]], id="cleared"),
        pytest.param(
            [60_000, 1_000, 60_000], [["raised"], ["cleared"], ["reraised"]], id="reraised"
        ),
    ],
)
def test_readings_raise_and_clear(
    engine: Engine, values: list[float], expected: list[list[str]]
) -> None:
    changes = [engine.on_reading(power(v, T0 + 60 * i)) for i, v in enumerate(values)]
    assert list(map(kinds, changes)) == expected


def test_a_cleared_alarm_records_when_and_the_value(engine: Engine) -> None:
    engine.on_reading(power(60_000, T0 + 10))
    cleared = replace(PEAK, active=False, cleared_at=T0 + 70, changed_at=T0 + 70, value=1_000.0)
    assert engine.on_reading(power(1_000, T0 + 70)) == [AlarmChange(cleared, "cleared", T0 + 70)]
    assert engine.alarms["meter-peak"].state == "cleared_unacknowledged"


def test_a_reraise_is_the_same_alarm(engine: Engine) -> None:
    engine.on_reading(power(60_000, T0 + 10))
    engine.on_reading(power(1_000, T0 + 70))
    reraised = replace(PEAK, changed_at=T0 + 130, value=65_000.0, activations=2)
    assert engine.on_reading(power(65_000, T0 + 130)) == [
        AlarmChange(reraised, "reraised", T0 + 130)
    ]


def test_a_series_evaluates_every_value_in_order(engine: Engine) -> None:
    changes = engine.on_series("main-meter", "power", [1_000, 60_000, 70_000, 1_000], T0 + 10)
    assert kinds(changes) == ["raised", "cleared"]
    assert [c.alarm.value for c in changes] == [60_000.0, 1_000.0]
    assert engine.states["meter-peak"] == ThresholdState(last_value=1_000.0)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.sampled_from([-30.0, -15.5, -14.0, -10.0, 1_000.0, 60_000.0]), max_size=8),
    device=st.sampled_from(["freezer-1", "main-meter"]),
    metric=st.sampled_from(["temperature", "power"]),
    offset=st.sampled_from([10.0, 400.0, 2_000.0]),
)
def test_a_series_changes_what_one_reading_at_a_time_would(
    values: list[float], device: str, metric: str, offset: float
) -> None:
    one_by_one, together = make_engine(list(RULES)), make_engine(list(RULES))
    for engine in (one_by_one, together):
        engine.on_reading(reading(device, metric, -30.0, T0))  # start the on-delay clock
        engine.on_reading(reading(device, metric, -14.0, T0 + 1))
    at = T0 + offset
    expected = [c for v in values for c in one_by_one.on_reading(reading(device, metric, v, at))]
    assert together.on_series(device, metric, values, at) == expected
    assert together.states == one_by_one.states


@pytest.mark.parametrize(
    ("device", "metric", "value"),
    [
        pytest.param("freezer-2", "temperature", 10.0, id="another device"),
        pytest.param("freezer-1", "humidity", 90.0, id="another metric"),
        pytest.param("main-meter", "energy", 90_000.0, id="another metric of the meter"),
        pytest.param("main-meter", "temperature", 10.0, id="another device's metric"),
    ],
)
def test_a_rule_only_sees_its_device_and_metric(
    engine: Engine, device: str, metric: str, value: float
) -> None:
    assert engine.on_reading(reading(device, metric, value, T0 + 10)) == []
    assert (engine.states["freezer-warm"], engine.states["meter-peak"]) == (
        ThresholdState(),
        ThresholdState(),
    )


def test_the_on_delay_elapses_on_a_tick(engine: Engine) -> None:
    assert engine.on_reading(reading("freezer-1", "temperature", -14.0, T0 + 60)) == []
    assert engine.on_tick(T0 + 359) == []
    warm = Alarm(
        id="alarm-1",
        rule="freezer-warm",
        device="freezer-1",
        metric="temperature",
        severity="high",
        post="cold-store",
        message="freezer-1 temperature above -15",
        raised_at=T0 + 360,
        changed_at=T0 + 360,
        value=-14.0,
    )
    assert engine.on_tick(T0 + 360) == [AlarmChange(warm, "raised", T0 + 360)]
    assert engine.on_tick(T0 + 420) == []


def test_a_stale_rule_raises_on_a_tick_and_clears_on_a_reading(engine: Engine) -> None:
    assert engine.on_tick(T0 + 899) == []
    [raised] = engine.on_tick(T0 + 900)
    assert (raised.kind, raised.alarm.rule, raised.alarm.metric, raised.alarm.value) == (
        "raised",
        "freezer-silent",
        None,
        None,
    )
    assert (raised.alarm.raised_at, raised.alarm.severity) == (T0 + 900, "medium")
    assert engine.on_tick(T0 + 2000) == []
    [cleared] = engine.on_reading(reading("freezer-1", "humidity", 40.0, T0 + 2100))
    assert (cleared.kind, cleared.alarm.id, cleared.alarm.cleared_at) == (
        "cleared",
        raised.alarm.id,
        T0 + 2100,
    )


@pytest.mark.parametrize(
    ("metric", "expected"),
    [("temperature", []), ("battery", ["raised"])],
)
def test_a_stale_rule_on_one_metric_ignores_the_others(metric: str, expected: list[str]) -> None:
    rules: list[Rule] = TypeAdapter(list[Rule]).validate_python(
        [
            {
                "id": "probe",
                "type": "stale",
                "device": "freezer-1",
                "metric": "temperature",
                "after": "15m",
            }
        ]
    )
    engine = make_engine(rules)
    engine.on_reading(reading("freezer-1", metric, 50.0, T0 + 600))
    assert kinds(engine.on_tick(T0 + 900)) == expected


def test_acknowledge_an_open_alarm(engine: Engine) -> None:
    engine.on_reading(power(60_000, T0 + 10))
    acked = replace(PEAK, acked_at=T0 + 30, acked_by="li")
    assert engine.acknowledge("alarm-1", "li", T0 + 30) == AlarmChange(
        acked, "acked", T0 + 30, "li"
    )
    assert engine.alarms["meter-peak"].state == "acknowledged"
    assert engine.acknowledge("alarm-1", "wang", T0 + 40) is None
    [cleared] = engine.on_reading(power(1_000, T0 + 70))
    assert (cleared.alarm.state, cleared.alarm.acked_by, engine.alarms) == ("normal", "li", {})


def test_acknowledging_a_cleared_alarm_closes_it(engine: Engine) -> None:
    engine.on_reading(power(60_000, T0 + 10))
    engine.on_reading(power(1_000, T0 + 70))
    closed = replace(
        PEAK,
        active=False,
        cleared_at=T0 + 70,
        changed_at=T0 + 70,
        value=1_000.0,
        acked_at=T0 + 80,
        acked_by="li",
    )
    assert engine.acknowledge("alarm-1", "li", T0 + 80) == AlarmChange(
        closed, "acked", T0 + 80, "li"
    )
    assert (closed.state, engine.alarms) == ("normal", {})
    [raised] = engine.on_reading(power(60_000, T0 + 130))
    assert (raised.kind, raised.alarm.id) == ("raised", "alarm-2")


def test_an_ack_given_for_an_earlier_activation_is_not_applied(engine: Engine) -> None:
    engine.on_reading(power(60_000, T0 + 10))
    engine.on_reading(power(1_000, T0 + 70))
    [again] = engine.on_reading(power(60_000, T0 + 130))
    assert (again.kind, again.alarm.activations) == ("reraised", 2)
    assert engine.acknowledge("alarm-1", "li", T0 + 140, activation=1) is None
    assert engine.alarms["meter-peak"].state == "unacknowledged"
    change = engine.acknowledge("alarm-1", "li", T0 + 150, activation=2)
    assert change is not None
    assert change.alarm.state == "acknowledged"


def test_acknowledge_an_unknown_alarm(engine: Engine) -> None:
    engine.on_reading(power(60_000, T0 + 10))
    with pytest.raises(UnknownAlarm):
        engine.acknowledge("alarm-9", "li", T0 + 30)


def test_acknowledge_a_closed_alarm(engine: Engine) -> None:
    engine.on_reading(power(60_000, T0 + 10))
    engine.acknowledge("alarm-1", "li", T0 + 20)
    engine.on_reading(power(1_000, T0 + 70))
    with pytest.raises(UnknownAlarm):
        engine.acknowledge("alarm-1", "li", T0 + 80)


States = Callable[[Engine], Mapping[str, RuleState]]


@pytest.mark.parametrize(
    "states_of",
    [pytest.param(lambda e: e.states, id="states kept"), pytest.param(lambda e: {}, id="lost")],
)
def test_a_condition_active_across_a_restart_raises_no_second_alarm(
    engine: Engine, states_of: States
) -> None:
    engine.on_reading(power(60_000, T0 + 10))
    engine.on_reading(reading("freezer-1", "temperature", -14.0, T0 + 20))
    engine.on_tick(T0 + 320)
    assert set(engine.alarms) == {"meter-peak", "freezer-warm"}
    restarted = Engine.restore(list(RULES), T0 + 400, states_of(engine), engine.alarms.values())
    assert restarted.on_reading(power(70_000, T0 + 410)) == []
    assert restarted.on_reading(reading("freezer-1", "temperature", -13.0, T0 + 420)) == []
    assert restarted.on_tick(T0 + 1000) == []
    [cleared] = restarted.on_reading(power(1_000, T0 + 430))
    assert (cleared.kind, cleared.alarm.id) == ("cleared", "alarm-1")


def test_a_silent_device_across_a_restart_raises_no_second_alarm(engine: Engine) -> None:
    [raised] = engine.on_tick(T0 + 900)
    restarted = Engine.restore(list(RULES), T0 + 1000, {}, engine.alarms.values())
    assert restarted.on_tick(T0 + 2000) == []
    [cleared] = restarted.on_reading(reading("freezer-1", "temperature", -18.0, T0 + 2100))
    assert (cleared.kind, cleared.alarm.id) == ("cleared", raised.alarm.id)


def test_restore_drops_what_no_rule_owns_any_more() -> None:
    gone = replace(PEAK, id="alarm-7", rule="gone")
    restored = Engine.restore(
        [RULES[2]],
        T0,
        {"meter-peak": ThresholdState(last_value=1.0), "gone": ThresholdState(active=True)},
        [gone],
    )
    assert (restored.states, restored.alarms) == (
        {"meter-peak": ThresholdState(last_value=1.0)},
        {},
    )


def test_restore_drops_a_state_whose_rule_changed_type() -> None:
    # freezer-silent used to be a threshold rule; its old state must not reach the stale rule.
    restored = Engine.restore(
        list(RULES), T0, {"freezer-silent": ThresholdState(last_value=-18.0)}, []
    )
    assert restored.states["freezer-silent"] == StaleState(last_seen=T0)
    assert kinds(restored.on_tick(T0 + 900)) == ["raised"]


REALARM: list[Rule] = TypeAdapter(list[Rule]).validate_python(
    [
        {
            "id": "meter-peak",
            "type": "threshold",
            "device": "main-meter",
            "metric": "power",
            "above": 50_000,
            "realarm_after": "30m",
        }
    ]
)


def summary(changes: list[AlarmChange]) -> list[tuple[str, int, float | None]]:
    return [(c.kind, c.alarm.activations, c.alarm.acked_at) for c in changes]


def test_an_alarm_acknowledged_but_still_active_is_unacknowledged_again() -> None:
    engine = make_engine(list(REALARM))
    (raised,) = engine.on_reading(power(60_000, T0))
    engine.acknowledge(raised.alarm.id, "li", T0 + 60)
    assert engine.on_tick(T0 + 1_859) == []
    assert summary(engine.on_tick(T0 + 1_860)) == [("reraised", 2, None)]
    assert engine.on_tick(T0 + 3_000) == []  # once, until acknowledged again
    engine.acknowledge(raised.alarm.id, "wang", T0 + 3_100)
    assert summary(engine.on_tick(T0 + 4_900)) == [("reraised", 3, None)]


@pytest.mark.parametrize(
    "values",
    [pytest.param([60_000], id="never acknowledged"), pytest.param([60_000, 1_000], id="cleared")],
)
def test_only_an_acknowledged_active_alarm_is_re_alarmed(values: list[float]) -> None:
    engine = make_engine(list(REALARM))
    for i, value in enumerate(values):
        engine.on_reading(power(value, T0 + i))
    assert engine.on_tick(T0 + 9_000) == []
