"""The JSON shapes of the read API; every time is ISO 8601 UTC by ``collector.timestamps.iso``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from collector.timestamps import iso
from rules.actions import IN_SERVICE, ActionKind, Standing
from sync.hub.alarms import HubAlarm
from sync.hub.reports.kpi import SEVERITIES

Timestamp = Annotated[float, PlainSerializer(iso, return_type=str)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class ConfigVersionOut(Out):
    site: str
    version: int
    format: str
    created_by: str
    created_at: Timestamp


class ConfigTextOut(ConfigVersionOut):
    text: str


class ConfigOut(Out):
    """The newest version (null until one is sent) and what the site's agent last reported:
    the version it runs (0: its own file; null: it has not reported, or predates the
    downlink) and the last version it refused, with the reason."""

    site: str
    current: ConfigTextOut | None
    applied_version: int | None
    rejected_version: int | None
    error: str | None
    reported_at: Timestamp | None


class SiteStoreOut(Out):
    """The site's agent store (issue 5): bytes used of ``max_size``, whether it is thinning
    readings the hub has not got (``storage_pressure``), rows thinned per kind in total."""

    size: int
    max_size: int | None
    pressure: bool
    thinned: dict[str, int]
    reported_at: Timestamp


class SiteOut(Out):
    id: str
    name: str
    timezone: str | None
    last_sync_at: Timestamp | None
    agent_version: str | None
    quarantined: int
    devices: int
    open_alarms: int
    clock_offset: float | None
    clock_round_trip: float | None
    clock_measured_at: Timestamp | None
    store: SiteStoreOut | None = None


class RollupOut(Out):
    """An hour of one series an agent thinned before sending it: it stands in for the readings
    with seq in (replaces_after, replaces_through] of that device, metric and hour."""

    site: str
    seq: int
    device: str
    metric: str
    hour: Timestamp
    count: int
    min: float
    max: float
    sum: float
    first_ts: Timestamp
    first: float
    last_ts: Timestamp
    last: float
    replaces_after: int
    replaces_through: int


class ReadingOut(Out):
    site: str
    seq: int
    device: str
    metric: str
    ts: Timestamp
    value: float
    received_at: Timestamp


class AccessEventOut(Out):
    site: str
    seq: int
    device: str
    ts: Timestamp
    card: str
    result: str
    direction: str | None
    reason: str | None
    received_at: Timestamp


class MeterEventOut(Out):
    site: str
    seq: int
    device: str
    metric: str
    ts: Timestamp
    kind: str
    value: float
    previous: float | None


class DoorEventOut(Out):
    door: str
    at: Timestamp
    open: bool


class ExcursionOut(Out):
    site: str
    seq: int
    rule: str
    device: str
    metric: str
    started_at: Timestamp
    ended_at: Timestamp
    duration: float  # seconds
    lowest: float
    highest: float
    ended_by: str
    doors: list[DoorEventOut]
    doors_dropped: int


class AlarmOut(Out):
    id: str
    site: str
    rule: str
    device: str
    metric: str | None
    severity: str
    post: str | None
    message: str
    state: str
    active: bool
    value: float | None
    raised_at: Timestamp
    changed_at: Timestamp
    acked_at: Timestamp | None
    acked_by: str | None
    cleared_at: Timestamp | None
    latched: bool
    closed_at: Timestamp | None
    closed_by: str | None
    disposition: str | None
    # How the alarm's rule is announced now: in_service, shelved, suppressed, out_of_service.
    mode: str
    mode_until: Timestamp | None
    mode_by: str | None

    @classmethod
    def of(cls, held: HubAlarm, standing: Standing = IN_SERVICE) -> AlarmOut:
        return cls(
            site=held.site,
            state=held.alarm.state,
            mode=standing.mode,
            mode_until=standing.until,
            mode_by=standing.action.by if standing.action else None,
            **asdict(held.alarm),
        )


class ActionIn(BaseModel):
    """An operator action on an alarm, or with shelve/suppress/disable on its rule."""

    model_config = ConfigDict(extra="forbid")

    kind: ActionKind
    note: str | None = Field(default=None, max_length=2000)
    # How long a shelve, suppression or removal from service lasts (30m, 8h, 1d); for shelve,
    # none is one-shot (until the alarm clears).
    duration: str | None = Field(default=None, alias="for", max_length=40)


class ActionOut(Out):
    id: str
    kind: str
    rule: str
    alarm_id: str | None
    by: str
    at: Timestamp
    note: str | None
    until: Timestamp | None
    origin: str


class RuleCountOut(Out):
    site: str
    rule: str
    activations: int


class LoadOut(Out):
    # Announced activations; those while the rule was shelved, suppressed or out of service are
    # ``unannounced`` and in none of the other figures.
    activations: int
    unannounced: int
    per_hour: float
    per_10min: float
    peak_10min: int
    peak_10min_at: Timestamp | None
    flood_share: float
    floods: int
    top10_share: float | None
    top_rules: list[RuleCountOut]
    chattering: int
    stale: int
    priority: dict[str, float]


class ResponseTimesOut(Out):
    raised: int
    acked: int
    cleared: int
    ack_p50: float | None
    ack_p95: float | None
    clear_p50: float | None
    clear_p95: float | None


class GroupReviewOut(Out):
    scope: str
    site: str | None
    key: str
    load: LoadOut
    response: ResponseTimesOut


class AlarmReviewOut(Out):
    site: str | None
    start: Timestamp = Field(serialization_alias="from")
    end: Timestamp = Field(serialization_alias="to")
    groups: list[GroupReviewOut]


_LOAD_COLUMNS = [f for f in LoadOut.model_fields if f not in ("top_rules", "priority")]


def review_csv(review: AlarmReviewOut) -> str:
    """One row per group; the priority mix one column per severity, the top rules left out."""
    groups = [group.model_dump(mode="json") for group in review.groups]
    seen = (name for group in groups for name in group["load"]["priority"])
    severities = list(dict.fromkeys([*SEVERITIES, *seen]))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "scope",
            "site",
            "key",
            *_LOAD_COLUMNS,
            *(f"priority_{name}" for name in severities),
            *ResponseTimesOut.model_fields,
        ]
    )
    for group in groups:
        load, times = group["load"], group["response"]
        writer.writerow(
            [
                group["scope"],
                *(_text_cell(group[name]) for name in ("site", "key")),
                *(load[name] for name in _LOAD_COLUMNS),
                *(load["priority"].get(name) for name in severities),
                *times.values(),
            ]
        )
    return out.getvalue()


EXCURSION_CSV_HEADER = [
    "site",
    "seq",
    "rule",
    "device",
    "metric",
    "started_at",
    "ended_at",
    "duration_s",
    "lowest",
    "highest",
    "ended_by",
    "door_openings",
    "door_events",
    "doors_dropped",
]


def excursions_csv(found: Items[ExcursionOut]) -> str:
    """One row per excursion; its door events in one cell, ``door opened|closed time; ...``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXCURSION_CSV_HEADER)
    for x in (item.model_dump(mode="json") for item in found.items):
        doors = x["doors"]
        events = "; ".join(
            f"{d['door']} {'opened' if d['open'] else 'closed'} {d['at']}" for d in doors
        )
        text = [_text_cell(x[name]) for name in ("site", "rule", "device", "metric")]
        writer.writerow(
            [
                text[0],
                x["seq"],
                *text[1:],
                *(x[name] for name in ("started_at", "ended_at", "duration", "lowest", "highest")),
                _text_cell(x["ended_by"]),
                sum(1 for d in doors if d["open"]),
                _text_cell(events),
                x["doors_dropped"],
            ]
        )
    return out.getvalue()


def _text_cell(value: str | None) -> str | None:
    # A cell starting like a formula runs as one in a spreadsheet (OWASP "CSV injection"); site
    # ids and the names of those who acknowledged come from agents and users.
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


T = TypeVar("T", bound=Out)


class Items(BaseModel, Generic[T]):
    items: list[T]


def items(model: type[T], rows: Iterable[Any]) -> Items[T]:
    return Items[model](items=[model.model_validate(row) for row in rows])  # type: ignore[valid-type]
