"""Device formats: each maps one family of devices' own MQTT topics and payloads to our metrics.

A format is a module with ``subscriptions(device)`` and ``parse(device, topic, payload,
received_at, tz)`` (``Format``), listed in ``FORMATS``; ``build_router`` puts every device of a
site, native ones included, behind one ``Router``.
"""

from collector.formats.base import Availability, Format, Parsed
from collector.formats.router import (
    FORMATS,
    Router,
    TopicConflict,
    build_router,
    topic_conflicts,
)

__all__ = [
    "FORMATS",
    "Availability",
    "Format",
    "Parsed",
    "Router",
    "TopicConflict",
    "build_router",
    "topic_conflicts",
]
