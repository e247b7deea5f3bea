"""The JSON shapes of the read API; every time is rendered ISO 8601 UTC by ``render.iso``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer

from sync.hub.alarms import HubAlarm
from web.render import iso

Timestamp = Annotated[float, PlainSerializer(iso, return_type=str)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class SiteOut(Out):
    id: str
    name: str
    timezone: str | None
    last_sync_at: Timestamp | None
    agent_version: str | None
    quarantined: int
    devices: int
    open_alarms: int


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

    @classmethod
    def of(cls, held: HubAlarm) -> AlarmOut:
        return cls(site=held.site, state=held.alarm.state, **asdict(held.alarm))


T = TypeVar("T", bound=Out)


class Items(BaseModel, Generic[T]):
    items: list[T]


def items(model: type[T], rows: Iterable[Any]) -> Items[T]:
    return Items[model](items=[model.model_validate(row) for row in rows])  # type: ignore[valid-type]
