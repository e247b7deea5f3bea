"""The wire protocol between an agent and the hub: ``POST /api/v1/sync``.

Each stream (readings, access events, alarm changes, meter events, excursions) is numbered by the
agent's own row ids. A chunk claims to carry *every* record of its stream with
``after < seq <= through``; the hub stores records idempotently (keyed by site and seq) and
acknowledges, per stream, the highest sequence up to which it holds everything. The agent resumes
from those acknowledgements, so a resent batch is harmless and a lost response costs only a resend.

The protocol grows by new optional streams and fields, never by renaming: a hub takes a batch that
leaves a stream out (an older agent) and acknowledges that stream where it stood, and an older hub
ignores a stream it does not know and leaves it out of its acknowledgement, which the agent must
not mistake for progress.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION = 1
STREAMS = ("readings", "access_events", "alarm_events", "meter_events", "excursions")
Stream = Literal["readings", "access_events", "alarm_events", "meter_events", "excursions"]


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DeviceInfo(Wire):
    id: str
    name: str | None = None
    kind: str
    building: str | None = None
    floor: str | None = None
    room: str | None = None
    department: str | None = None


class ReadingRecord(Wire):
    seq: int
    device: str
    metric: str
    ts: float
    value: float
    received_at: float


class AccessRecord(Wire):
    seq: int
    device: str
    ts: float
    card: str
    result: Literal["granted", "denied"]
    direction: Literal["in", "out"] | None = None
    reason: str | None = None
    received_at: float


class AlarmRecord(Wire):
    id: str
    rule: str
    device: str
    metric: str | None = None
    severity: str
    post: str | None = None
    message: str
    raised_at: float
    changed_at: float
    active: bool
    activations: int = 1
    value: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    cleared_at: float | None = None


class AlarmEventRecord(Wire):
    seq: int
    kind: Literal["raised", "acked", "cleared", "reraised"]
    at: float
    by: str | None = None
    alarm: AlarmRecord


class MeterEventRecord(Wire):
    """Something a cumulative meter did that is not plain consumption (``collector.counter``):
    ``reset``, ``rollover``, ``gap``, ``jitter``, or ``replacement`` entered by hand."""

    seq: int
    device: str
    metric: str
    ts: float
    # Free text, not a Literal: a hub must not refuse a whole batch for a kind a newer agent added.
    kind: str = Field(min_length=1, max_length=20)
    value: float
    previous: float | None = None


class DoorEventRecord(Wire):
    door: str = Field(min_length=1, max_length=200)
    at: float = Field(allow_inf_nan=False)
    open: bool  # true: the door opened; false: it closed


class ExcursionRecord(Wire):
    """A completed cold-chain excursion (``rules.excursion``): time out of range on the agent's
    clock, its extremes, and the door events during it. Lengths match the hub's columns, so a
    hostile batch is refused whole (422) rather than failing in the database."""

    seq: int
    rule: str = Field(min_length=1, max_length=200)
    device: str = Field(min_length=1, max_length=200)
    metric: str = Field(min_length=1, max_length=50)
    # Finite: the agent's rule skips a probe's NaN, and JSON answers could not carry one.
    started_at: float = Field(allow_inf_nan=False)
    ended_at: float = Field(allow_inf_nan=False)
    lowest: float = Field(allow_inf_nan=False)
    highest: float = Field(allow_inf_nan=False)
    # Free text, as a meter event's kind: a newer agent may end excursions in new ways.
    ended_by: str = Field(max_length=20)
    doors: list[DoorEventRecord] = Field(default=[], max_length=1000)
    doors_dropped: int = Field(default=0, ge=0)


T = TypeVar("T", ReadingRecord, AccessRecord, AlarmEventRecord, MeterEventRecord, ExcursionRecord)


class Chunk(Wire, Generic[T]):
    after: int = Field(ge=0)
    through: int = Field(ge=0)
    items: list[T] = []


AnyChunk = (
    Chunk[ReadingRecord]
    | Chunk[AccessRecord]
    | Chunk[AlarmEventRecord]
    | Chunk[MeterEventRecord]
    | Chunk[ExcursionRecord]
)


class SyncBatch(Wire):
    protocol: int = PROTOCOL_VERSION
    site: str
    site_name: str | None = None
    timezone: str | None = None
    agent_version: str = ""
    sent_at: float
    devices: list[DeviceInfo] | None = None
    readings: Chunk[ReadingRecord] | None = None
    access_events: Chunk[AccessRecord] | None = None
    alarm_events: Chunk[AlarmEventRecord] | None = None
    meter_events: Chunk[MeterEventRecord] | None = None
    excursions: Chunk[ExcursionRecord] | None = None
    applied_actions: list[int] = []
    quarantined: int = 0

    def chunks(self) -> dict[str, AnyChunk | None]:
        """Every stream by name; None for one the batch leaves out (an older agent's batch)."""
        return {
            "readings": self.readings,
            "access_events": self.access_events,
            "alarm_events": self.alarm_events,
            "meter_events": self.meter_events,
            "excursions": self.excursions,
        }


class ActionRecord(Wire):
    """An operator's action taken at the hub, on its way down to the agent."""

    id: int
    alarm_id: str
    action: Literal["ack"]
    by: str
    at: float
    note: str | None = None
    # The activation the person saw; an ack does not carry over to a later one.
    activation: int | None = None


class SyncAck(Wire):
    acked: dict[str, int]
    actions: list[ActionRecord] = []
    server_time: float
