"""An alarm's labels (``rules.muting``), read from the alarm and the site configuration, and the
muting judgement the notifier applies to every alarm it is about to tell of."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from agent.config import SiteConfig
from collector.config import DeviceConfig
from rules.alarm import Alarm
from rules.muting import Labels, Silence, inhibited, silenced

__all__ = ["Muting", "labels", "muting"]

# Whether notifications about an alarm are muted now.
Muting = Callable[[Alarm], bool]


def labels(
    alarm: Alarm, config: SiteConfig, devices: Mapping[str, DeviceConfig] | None = None
) -> dict[str, str]:
    """Only the labels the alarm has: a device without a building has no ``building``.
    ``devices``: the site's, when the caller has them at hand."""
    device = (config.device_map() if devices is None else devices).get(alarm.device)
    rule = next((r for r in config.rules if r.id == alarm.rule), None)
    found = {
        "alarm": alarm.id,
        "site": config.site.id,
        "post": alarm.post,
        "rule": alarm.rule,
        "type": rule.type if rule is not None else None,
        "device": alarm.device,
        "metric": alarm.metric,
        "severity": alarm.severity,
    }
    if device is not None:
        found |= device.location.model_dump()
    return {k: v for k, v in found.items() if v}


def muting(
    config: SiteConfig, active: Iterable[Alarm], silences: Iterable[Silence], now: float
) -> Muting:
    """Muted: silenced at ``now``, or inhibited by one of the ``active`` alarms."""
    silences = list(silences)
    rules = config.notify.inhibit
    devices = config.device_map()
    sources: list[Labels] = [labels(a, config, devices) for a in active] if rules else []

    def muted(alarm: Alarm) -> bool:
        found = labels(alarm, config, devices)
        return silenced(found, silences, now) or inhibited(found, sources, rules)

    return muted
