"""Devices to readings: models, the native MQTT format, device config and the demo simulator."""

from collector.models import (
    METRICS,
    AccessEvent,
    Metric,
    Reading,
    Rejection,
)

__all__ = ["METRICS", "AccessEvent", "Metric", "Reading", "Rejection"]
