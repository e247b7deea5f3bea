"""Reports over what the hub holds: the monthly alarm review (issue 4)."""

from sync.hub.reports.kpi import (
    Activation,
    AlarmHistory,
    Change,
    Load,
    Period,
    ResponseTimes,
    RuleCount,
)
from sync.hub.reports.review import AlarmReview, GroupReview, InvalidPeriod, alarm_review

__all__ = [
    "Activation",
    "AlarmHistory",
    "AlarmReview",
    "Change",
    "GroupReview",
    "InvalidPeriod",
    "Load",
    "Period",
    "ResponseTimes",
    "RuleCount",
    "alarm_review",
]
