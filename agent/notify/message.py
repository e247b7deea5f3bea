"""The text of a notification: plain language a person on a phone reads at a glance.

Labels are English, with Chinese beside them when the site names its things in Chinese; times
are in the site's time zone, values carry their unit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from agent.config import SiteConfig
from agent.notify.sender import NotifyType
from collector.models import METRICS
from rules.alarm import Alarm

__all__ = ["Message", "render", "render_group"]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
CHANGES = {
    "raised": ("Alarm", "报警"),
    "reraised": ("Alarm again", "再次报警"),
    "cleared": ("Cleared", "已恢复"),
    "acked": ("Acknowledged", "已确认"),
    "closed": ("Closed", "已处置"),
    # Escalation's reasons (rules.escalation)
    "escalated": ("Not acknowledged", "未确认"),
    "reminder": ("Still active", "仍在报警"),
    "flood": ("Alarm flood", "报警泛滥"),
    # A group's message (agent.notify.routing)
    "group": ("Alarms", "报警汇总"),
}
SECTIONS = {
    "new": ("New", "新报警"),
    "still": ("Still active", "仍在报警"),
    "resolved": ("Cleared", "已恢复"),
}
_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
SEVERITIES = {"low": "低", "medium": "中", "high": "高", "critical": "紧急"}
STATES = {
    "unacknowledged": "未确认",
    "acknowledged": "已确认",
    "cleared_unacknowledged": "已恢复未确认",
    "latched": "已恢复待处置",
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
    "closed_by": ("Closed by", "处置人"),
    "disposition": ("Disposition", "处置"),
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
        line("closed_by", by if change == "closed" else None),
        line("disposition", alarm.disposition if change == "closed" else None),
        line("alarms", str(len(alarms)) if alarms else None),
    ]
    english, zh = CHANGES.get(change, (change, change))
    what = f"{zh} {english}" if chinese else english
    title = f"[{both(alarm.severity, SEVERITIES).upper()}] {what}: {device_name} — {alarm.message}"
    return Message(title, "\n".join(x for x in lines if x), _kind(alarm, change))


def render_group(
    new: Sequence[tuple[Alarm, str]],
    still: Sequence[Alarm],
    resolved: Sequence[Alarm],
    post: str,
    where: Sequence[str],
    at: float,
    config: SiteConfig,
) -> Message:
    """One message about a group's alarms: ``new`` with the reason each is told for, those
    ``still`` active and those ``resolved`` since the group's last message; ``where``: the
    group's label values (its building)."""
    everything = [a for a, _ in new] + list(still) + list(resolved)
    devices = config.device_map()
    site = config.site.name or config.site.id
    names = [devices[a.device].label if a.device in devices else a.device for a in everything]
    chinese = bool(
        _CJK.search(" ".join([site, post, *where, *names, *(a.message for a in everything)]))
    )

    def label(english: str, zh: str) -> str:
        return f"{english} {zh}" if chinese else english

    def item(alarm: Alarm, reason: str | None = None) -> str:
        name = devices[alarm.device].label if alarm.device in devices else alarm.device
        value = _value(alarm)
        told = f"{label(*CHANGES[reason])}: " if reason not in (None, "raised") else ""
        details = ", ".join(x for x in (alarm.severity, value) if x)
        return f"- {told}{name} — {alarm.message} ({details})"

    lines = [f"{label(*LABELS['site'])}: {site}", f"{label(*LABELS['post'])}: {post}"]
    lines += [f"{label(*LABELS['location'])}: {' / '.join(where)}"] if any(where) else []
    lines.append(f"{label(*LABELS['time'])}: {_time(at, config.site.timezone)}")
    for key, items in (
        ("new", [item(a, r) for a, r in new]),
        ("still", [item(a) for a in still]),
        ("resolved", [item(a) for a in resolved]),
    ):
        lines += [f"{label(*SECTIONS[key])} ({len(items)}):", *items] if items else []
    worst = _worst(everything).severity
    severity = f"{worst} {SEVERITIES[worst]}" if chinese and worst in SEVERITIES else worst
    counts = [
        f"{len(x)} {label(*SECTIONS[k]).lower()}"
        for k, x in (("new", new), ("still", still), ("resolved", resolved))
        if x
    ]
    english, zh = CHANGES["group"]
    what = f"{zh} {english}" if chinese else english  # as ``render`` writes a change
    title = f"[{severity.upper()}] {what}: {', '.join(counts)} — {post}"
    title += f" / {' / '.join(w for w in where if w)}" if any(where) else ""
    firing = [a for a, _ in new] + list(still)
    kind: NotifyType = "success" if not firing else _kind(_worst(firing), "raised")
    return Message(title, "\n".join(lines), kind)


def _worst(alarms: Sequence[Alarm]) -> Alarm:
    """An unknown severity counts as critical, as escalation treats it."""
    return max(alarms, key=lambda a: _RANK.get(a.severity, 3))


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
