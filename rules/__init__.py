"""Readings to alarms: rule specs, pure evaluators, the alarm life cycle and the engine."""

from rules.alarm import Alarm, AlarmChange, AlarmState, acknowledge, merge
from rules.base import Kind, RuleBase, Transition
from rules.engine import Engine, UnknownAlarm
from rules.kinds import KINDS
from rules.spec import Rule, StaleRule, ThresholdRule

__all__ = [
    "KINDS",
    "Alarm",
    "AlarmChange",
    "AlarmState",
    "Engine",
    "Kind",
    "Rule",
    "RuleBase",
    "StaleRule",
    "ThresholdRule",
    "Transition",
    "UnknownAlarm",
    "acknowledge",
    "merge",
]
