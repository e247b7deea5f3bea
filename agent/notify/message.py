"""The text of a notification: plain language a person on a phone reads at a glance.

Labels are English, with Chinese beside them when the site names its things in Chinese; times
are in the site's time zone, values carry their unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from agent.config import SiteConfig
from agent.notify.sender import NotifyType
from collector.models import METRICS
from rules.alarm import Alarm

__all__ = ["Message", "render"]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
CHANGES = {
    "raised": ("Alarm", "报警"),
    "reraised": ("Alarm again", "再次报警"),
    "cleared": ("Cleared", "已恢复"),
    "acked": ("Acknowledged", "已确认"),
    # Escalation's reasons (rules.escalation)
    "escalated": ("Not acknowledged", "未确认"),
    "reminder": ("Still active", "仍在报警"),
    "flood": ("Alarm flood", "报警泛滥"),
}
SEVERITIES = {"low": "低", "medium": "中", "high": "高", "critical": "紧急"}
STATES = {
    "unacknowledged": "未确认",
    "acknowledged": "已确认",
    "cleared_unacknowledged": "已恢复未确认",
    "normal": "正常",
}
LABELS = {
    "site": ("Site", "站点"),
    "device": ("Device", "设备"),
    "location": ("Location", "位置"),
    "alarm": ("Alarm", "报警"),
    "severity": ("Severity", "级别"),
    "state": ("State", "状态"),
    "value": ("Value", "数值"),
    "time": ("Time", "时间"),
    "post": ("Post", "岗位"),
    "by": ("Acknowledged by", "确认人"),
    "alarms": ("Alarms", "报警数"),
}


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    kind: NotifyType


def render(
    alarm: Alarm,
    change: str,
    at: float,
    by: str | None,
    config: SiteConfig,
    alarms: tuple[str, ...] = (),
) -> Message:
    """``change``: a change kind or an escalation's reason; ``alarms``: a flood's."""
    device = config.device_map().get(alarm.device)
    post = next((p for p in config.posts if p.id == alarm.post), None)
    site = config.site.name or config.site.id
    where = [] if device is None else [device.location.building, device.location.floor]
    where += [] if device is None else [device.location.room, device.location.department]
    location = " / ".join(w for w in where if w)
    device_name = device.label if device is not None else alarm.device
    post_name = (post.name or post.id) if post is not None else alarm.post
    chinese = bool(_CJK.search(" ".join([site, device_name, location, post_name or ""])))
    chinese = chinese or bool(_CJK.search(alarm.message))

    def line(key: str, value: str | None) -> str | None:
        english, zh = LABELS[key]
        label = f"{english} {zh}" if chinese else english
        return None if value in (None, "") else f"{label}: {value}"

    def both(english: str, table: dict[str, str]) -> str:
        return f"{english} {table[english]}" if chinese and english in table else english

    lines = [
        line("site", site),
        line("device", device_name),
        line("location", location),
        line("alarm", alarm.message),
        line("severity", both(alarm.severity, SEVERITIES)),
        line("state", both(alarm.state, STATES)),
        line("value", _value(alarm)),
        line("time", _time(at, config.site.timezone)),
        line("post", post_name),
        line("by", by if change == "acked" else None),
        line("alarms", str(len(alarms)) if alarms else None),
    ]
    english, zh = CHANGES.get(change, (change, change))
    what = f"{zh} {english}" if chinese else english
    title = f"[{both(alarm.severity, SEVERITIES).upper()}] {what}: {device_name} — {alarm.message}"
    return Message(title, "\n".join(x for x in lines if x), _kind(alarm, change))


def _value(alarm: Alarm) -> str | None:
    if alarm.value is None:
        return None
    if alarm.metric == "contact":
        return "open" if alarm.value >= 0.5 else "closed"
    spec = METRICS.get(alarm.metric or "")
    unit = f" {spec.unit}" if spec is not None and spec.unit else ""
    return f"{alarm.value:g}{unit}"


def _time(at: float, zone: str) -> str:
    local = datetime.fromtimestamp(at, ZoneInfo(zone))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} (UTC{offset[:3]}:{offset[3:]}, {zone})"


def _kind(alarm: Alarm, change: str) -> NotifyType:
    if change == "cleared":
        return "success"
    if change == "acked":
        return "info"
    return "failure" if alarm.severity in ("high", "critical") else "warning"
