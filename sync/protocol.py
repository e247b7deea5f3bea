"""The wire protocol between an agent and the hub: ``POST /api/v1/sync``.

Each stream (readings, access events, alarm changes, meter events, excursions) is numbered by the
agent's own row ids. A chunk claims to carry *every* record of its stream with
``after < seq <= through``; the hub stores records idempotently (keyed by site and seq) and
acknowledges, per stream, the highest sequence up to which it holds everything. The agent resumes
from those acknowledgements, so a resent batch is harmless and a lost response costs only a resend.

Readings thinned before they were sent (issue 5: a full store during a long outage) leave a gap in
the readings stream that the ``rollups`` stream fills: each of its records is an hourly rollup
that stands in for every reading of its device and metric in that hour with a seq in
``(replaces_after, replaces_through]``, a run of consecutive readings the agent rolled up and
deleted in one step. So the readings contract reads: a chunk carries every reading with
``after < seq <= through`` *that the agent still holds raw*; the ones it lacks lie in stand-in
ranges, whose rollups reach the hub in the same or a later batch (the rollups stream has its own
cursor). The agent never rolls up a reading that may be in flight, so the hub receives each reading
either raw or inside one stand-in, never both. Rollups of readings the hub already holds stay at
the agent, which thins those readings by age and size: a hub whose cursor goes back (restored from
an old backup) gets from the agent only the readings it still holds. ``store`` reports the agent's
store: its size and the rows thinned per kind, as totals since the store began, so a lost batch
loses nothing.

The protocol grows by new optional streams and fields, never by renaming: a hub takes a batch that
leaves a stream out (an older agent) and acknowledges that stream where it stood, and an older hub
ignores a stream it does not know and leaves it out of its acknowledgement, which the agent must
not mistake for progress.

Site configuration travels down the same exchange: the agent says which hub version it runs
(``config_version``; 0 for its own file, absent from agents that predate the downlink) and which it
refused and why (``config_rejected``); the acknowledgement carries the site's newest version only
when it is newer than both, so the payload stays one version at most and a refused version is not
sent again.
How a batch is written on the wire is ``sync.envelope``'s concern: JSON always works; a hub that
lists a format in ``SyncAck.accepts`` (readings in columns, ``sync.columns``) may be sent that.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION = 1
MAX_REASON = 8000
STREAMS = (
    "readings",
    "access_events",
    "alarm_events",
    "meter_events",
    "actions",
    "rollups",
    "excursions",
)
Stream = Literal[
    "readings",
    "access_events",
    "alarm_events",
    "meter_events",
    "actions",
    "rollups",
    "excursions",
]
# The action kinds an agent of this version applies; an older agent does not say, and gets acks.
ACTION_KINDS = (
    "ack",
    "close",
    "note",
    "shelve",
    "unshelve",
    "suppress",
    "unsuppress",
    "disable",
    "enable",
)


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
    latched: bool = False
    closed_at: float | None = None
    closed_by: str | None = None
    disposition: str | None = None


class AlarmEventRecord(Wire):
    seq: int
    kind: Literal["raised", "acked", "cleared", "reraised", "closed"]
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


class OperatorActionRecord(Wire):
    """An operator's action (``rules.actions.Action``) from the agent's log: taken on site, or
    learnt from the hub and sent back, which the hub recognises by ``uid``."""

    seq: int
    uid: str = Field(min_length=1, max_length=100)
    # Free text: see MeterEventRecord.kind. A hub keeps a kind it does not know, unapplied.
    kind: str = Field(min_length=1, max_length=20)
    rule: str
    alarm_id: str | None = None
    by: str
    at: float
    note: str | None = None
    until: float | None = None
    activation: int | None = None


class RollupRecord(Wire):
    """An hour of one series' readings that the agent thinned before the hub had them (see the
    module docstring); ``first``/``last`` keep a cumulative meter's consumption computable."""

    seq: int
    device: str
    metric: str
    hour: float
    count: int = Field(ge=1)
    min: float
    max: float
    sum: float
    first_ts: float
    first: float
    last_ts: float
    last: float
    replaces_after: int = Field(ge=0)
    replaces_through: int = Field(ge=0)


class StoreReport(Wire):
    """The agent's store: its size in bytes, its bound, whether ``storage_pressure`` is active,
    and the rows thinned per kind (``expired``, ``synced``, ``rolled_up``, ``rollups_expired``)
    since the store began."""

    size: int = Field(ge=0)
    max_size: int | None = None
    pressure: bool = False
    thinned: dict[str, int] = {}


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


T = TypeVar(
    "T",
    ReadingRecord,
    AccessRecord,
    AlarmEventRecord,
    MeterEventRecord,
    OperatorActionRecord,
    RollupRecord,
    ExcursionRecord,
)


class Chunk(Wire, Generic[T]):
    after: int = Field(ge=0)
    through: int = Field(ge=0)
    items: list[T] = []


AnyChunk = (
    Chunk[ReadingRecord]
    | Chunk[AccessRecord]
    | Chunk[AlarmEventRecord]
    | Chunk[MeterEventRecord]
    | Chunk[OperatorActionRecord]
    | Chunk[RollupRecord]
    | Chunk[ExcursionRecord]
)


class ConfigRejected(Wire):
    """A hub version of the site configuration the agent refused, and why (one line per problem)."""

    version: int = Field(ge=1)
    # Not bounded here (a batch must not be refused for it): both ends cut it to MAX_REASON.
    reason: str


class ClockReport(Wire):
    """The agent's clock against the hub's at its last acknowledged sync (``sync.clock``).

    ``offset`` is what to add to the agent's time to get the hub's (NTP's sign), known to within
    ``round_trip / 2``; ``measured_at`` is on the agent's clock."""

    offset: float
    round_trip: float = Field(ge=0)
    measured_at: float


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
    actions: Chunk[OperatorActionRecord] | None = None
    rollups: Chunk[RollupRecord] | None = None
    excursions: Chunk[ExcursionRecord] | None = None
    applied_actions: list[int] = []
    # The action kinds this agent applies; None (an older agent): acknowledgements only.
    action_kinds: list[str] | None = None
    quarantined: int = 0
    config_version: int | None = Field(default=None, ge=0)
    config_rejected: ConfigRejected | None = None
    store: StoreReport | None = None
    clock: ClockReport | None = None

    def chunks(self) -> dict[str, AnyChunk | None]:
        """Every stream by name; None for one the batch leaves out (an older agent's batch)."""
        return {
            "readings": self.readings,
            "access_events": self.access_events,
            "alarm_events": self.alarm_events,
            "meter_events": self.meter_events,
            "actions": self.actions,
            "rollups": self.rollups,
            "excursions": self.excursions,
        }


class ActionRecord(Wire):
    """An operator's action taken at the hub, on its way down to the agent. ``id`` is the hub's
    delivery number (the agent reports it applied); ``uid`` the action's id at both ends (an
    older hub sends none: the agent makes one from ``id``)."""

    id: int
    alarm_id: str | None = None
    # Only kinds the agent listed in ``action_kinds`` are sent to it.
    action: str
    by: str
    at: float
    note: str | None = None
    # The activation the person saw; an ack does not carry over to a later one.
    activation: int | None = None
    uid: str | None = None
    rule: str | None = None
    until: float | None = None


class ConfigVersion(Wire):
    """A version of the site's hub-managed configuration (``rules.site``), as it was edited."""

    version: int = Field(ge=1)
    format: Literal["yaml", "json"]
    text: str
    by: str
    at: float


class SyncAck(Wire):
    acked: dict[str, int]
    actions: list[ActionRecord] = []
    server_time: float
    config: ConfigVersion | None = None
    # Body formats beyond JSON this hub reads (``sync.envelope.COLUMNS``); an older hub sends
    # none, and its agents keep to JSON.
    accepts: list[str] = []
