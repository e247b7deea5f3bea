"""The agent-hub wire protocol and both of its ends."""

from sync.protocol import (
    PROTOCOL_VERSION,
    STREAMS,
    AccessRecord,
    ActionRecord,
    AlarmEventRecord,
    AlarmRecord,
    Chunk,
    DeviceInfo,
    DoorEventRecord,
    ExcursionRecord,
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
    "DoorEventRecord",
    "ExcursionRecord",
    "MeterEventRecord",
    "ReadingRecord",
    "SyncAck",
    "SyncBatch",
]
