"""Readings to alarms: rule specs, pure evaluators, the alarm life cycle and the engine."""

from rules.alarm import Alarm, AlarmChange, AlarmState, acknowledge, merge
from rules.engine import Engine, UnknownAlarm
from rules.spec import Rule, StaleRule, ThresholdRule

__all__ = [
    "Alarm",
    "AlarmChange",
    "AlarmState",
    "Engine",
    "Rule",
    "StaleRule",
    "ThresholdRule",
    "UnknownAlarm",
    "acknowledge",
    "merge",
]
