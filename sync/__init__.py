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
    ClockReport,
    ConfigRejected,
    ConfigVersion,
    DeviceInfo,
    MeterEventRecord,
    ReadingRecord,
    RollupRecord,
    StoreReport,
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
    "ClockReport",
    "ConfigRejected",
    "ConfigVersion",
    "DeviceInfo",
    "MeterEventRecord",
    "ReadingRecord",
    "Readings",
    "RollupRecord",
    "StoreReport",
    "SyncAck",
    "SyncBatch",
]
