"""The agent-hub wire protocol and both of its ends."""

from sync.columns import Readings
from sync.protocol import (
    PROTOCOL_VERSION,
    STREAMS,
    AccessRecord,
    ActionRecord,
    AlarmEventRecord,
    AlarmRecord,
    Chunk,
    DeviceInfo,
    MeterEventRecord,
    ReadingRecord,
    SyncAck,
    SyncBatch,
)

__all__ = [
    "PROTOCOL_VERSION",
    "STREAMS",
    "AccessRecord",
    "ActionRecord",
    "AlarmEventRecord",
    "AlarmRecord",
    "Chunk",
    "DeviceInfo",
    "MeterEventRecord",
    "ReadingRecord",
    "Readings",
    "SyncAck",
    "SyncBatch",
]
