"""Bounded disk and retention at the agent (issue 5): what to thin (``policy``), how an hour of
readings is kept (``rollup``), the ``storage_pressure`` alarm (``alarm``) and the SQL (``job``)."""

from agent.retention.alarm import RULE
from agent.retention.job import THINNED_KINDS, Retention, Usage, measure, reclaim, thinned
from agent.retention.policy import Backlog, Policy, Step, alarm_active, next_step, under_pressure
from agent.retention.rollup import Rollup, combine, roll_up

__all__ = [
    "RULE",
    "THINNED_KINDS",
    "Backlog",
    "Policy",
    "Retention",
    "Rollup",
    "Step",
    "Usage",
    "alarm_active",
    "combine",
    "measure",
    "next_step",
    "reclaim",
    "roll_up",
    "thinned",
    "under_pressure",
]
