"""Rules as declared in the site YAML (the ``rules:`` list), validated by pydantic.

Defaults come from ``shared/reference/alarms.md``: a deadband of about 2% of the limit when none is
given, so a value hovering at the limit does not chatter.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from collector.duration import Duration, format_duration
from rules.after_hours import AfterHoursAccessRule
from rules.after_hours_power import AfterHoursPowerRule
from rules.base import DEFAULT_DEADBAND_SHARE, RuleBase, Severity
from rules.budget import BudgetRule
from rules.denied_burst import DeniedBurstRule
from rules.deviation import DeviationRule
from rules.door_forced import DoorForcedRule
from rules.door_held import DoorHeldRule
from rules.excursion import ExcursionRule
from rules.night_flow import NightFlowRule
from rules.rate import RateRule

__all__ = [
    "DEFAULT_DEADBAND_SHARE",
    "AfterHoursAccessRule",
    "AfterHoursPowerRule",
    "BudgetRule",
    "DeniedBurstRule",
    "DeviationRule",
    "DoorForcedRule",
    "DoorHeldRule",
    "ExcursionRule",
    "NightFlowRule",
    "RateRule",
    "Rule",
    "RuleBase",
    "Severity",
    "StaleRule",
    "ThresholdRule",
]


class ThresholdRule(RuleBase):
    type: Literal["threshold"]
    metric: str
    # NaN or infinity: a limit that is never crossed, a deadband that never lets an alarm clear.
    above: float | None = Field(default=None, allow_inf_nan=False)
    below: float | None = Field(default=None, allow_inf_nan=False)
    on_delay: Duration = Field(default=timedelta(0), alias="for")
    # Prometheus keep_firing_for: once active, the value must stay recovered this long to clear.
    off_delay: Duration = Field(default=timedelta(0), alias="off_for")
    deadband: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _needs_a_limit(self) -> ThresholdRule:
        if self.above is None and self.below is None:
            raise ValueError("a threshold rule needs 'above' or 'below'")
        if self.above is not None and self.below is not None and self.below >= self.above:
            raise ValueError("'below' must be lower than 'above'")
        if (
            self.above is not None
            and self.below is not None
            and self.above - self.band(self.above) < self.below + self.band(self.below)
        ):
            # recovered() could never hold: the alarm would never clear.
            raise ValueError("the deadband leaves no normal value between 'below' and 'above'")
        return self

    def band(self, limit: float) -> float:
        if self.deadband is not None:
            return self.deadband
        return abs(limit) * DEFAULT_DEADBAND_SHARE

    def describe(self) -> str:
        limits = [
            f"above {self.above:g}" if self.above is not None else "",
            f"below {self.below:g}" if self.below is not None else "",
        ]
        return f"{self.device} {self.metric} {' or '.join(x for x in limits if x)}"


class StaleRule(RuleBase):
    type: Literal["stale"]
    after: Duration

    def describe(self) -> str:
        return f"no data from {self.device} for {format_duration(self.after)}"


Rule = Annotated[
    ThresholdRule
    | StaleRule
    | RateRule
    | DoorHeldRule
    | DoorForcedRule
    | DeniedBurstRule
    | AfterHoursAccessRule
    | NightFlowRule
    | AfterHoursPowerRule
    | ExcursionRule
    | BudgetRule
    | DeviationRule,
    Field(discriminator="type"),
]
