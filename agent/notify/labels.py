"""An alarm's labels (``rules.muting``), read from the alarm and the site configuration, and the
muting judgement the notifier applies to every alarm it is about to tell of."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from agent.config import SiteConfig
from rules.alarm import Alarm
from rules.muting import InhibitRule, Labels, Silence, inhibited, silenced

__all__ = ["Labeller", "Muting", "labels", "muting"]

# Whether notifications about an alarm are muted now.
Muting = Callable[[Alarm], bool]


class Labeller:
    """Labels of alarms, with the site's devices and rules looked up once."""

    def __init__(self, config: SiteConfig) -> None:
        self.site = config.site.id
        self.locations = {d.id: d.location.model_dump() for d in config.devices}
        self.types = {r.id: r.type for r in config.rules}

    def __call__(self, alarm: Alarm) -> dict[str, str]:
        """Only the labels the alarm has: a device without a building has no ``building``."""
        found = {
            "alarm": alarm.id,
            "site": self.site,
            "post": alarm.post,
            "rule": alarm.rule,
            "type": self.types.get(alarm.rule),
            "device": alarm.device,
            "metric": alarm.metric,
            "severity": alarm.severity,
            **self.locations.get(alarm.device, {}),
        }
        return {k: v for k, v in found.items() if v}


def labels(alarm: Alarm, config: SiteConfig) -> dict[str, str]:
    return Labeller(config)(alarm)


def muting(
    labeller: Callable[[Alarm], Labels],
    rules: Iterable[InhibitRule],
    active: Iterable[Alarm],
    silences: Iterable[Silence],
    now: float,
) -> Muting:
    """Muted: silenced at ``now``, or inhibited by one of the ``active`` alarms."""
    silences, rules = list(silences), list(rules)
    if not silences and not rules:
        return lambda alarm: False
    sources = [labeller(a) for a in active] if rules else []

    def muted(alarm: Alarm) -> bool:
        found = labeller(alarm)
        return silenced(found, silences, now) or inhibited(found, sources, rules)

    return muted
