"""Which devices, in which format, a message is for: one dictionary lookup per message.

Every format topic is an exact topic name, so the table is keyed on the topic itself; the native
format keeps its site-wide filter ``fw/<site>/+/+``. A topic is usually one device's; a topic its
format declares shared (a Shelly's ``online``, read by a device per channel) goes to each of its
devices. ``Router.parse`` never raises.

Errors::

    ValueError
    └── TopicConflict   two devices claim the same topic (raised by build_router, at start-up)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from collector import native
from collector.config import DeviceConfig
from collector.formats import shelly, tasmota, zigbee2mqtt
from collector.formats.base import Format, Parsed
from collector.models import Rejection
from collector.native import KEEP_REJECTED

# Adding a format: its module here, its name in collector.config.FormatName, samples in tests.
FORMATS: dict[str, Format] = {
    "tasmota": tasmota,
    "zigbee2mqtt": zigbee2mqtt,
    "shelly": shelly,
}


class TopicConflict(ValueError):
    """Two or more devices would read the same topic; ``conflicts`` has one line per topic."""

    def __init__(self, conflicts: list[str]) -> None:
        super().__init__("\n".join(conflicts))
        self.conflicts = conflicts


@dataclass(frozen=True, slots=True)
class Route:
    device: DeviceConfig
    format: Format


@dataclass(frozen=True, slots=True)
class Router:
    site: str
    tz: ZoneInfo
    routes: Mapping[str, tuple[Route, ...]]
    native_devices: Mapping[str, DeviceConfig]
    # Device id -> format, to say why a device declared in another format is not read natively.
    other_formats: Mapping[str, str]

    def subscriptions(self) -> list[str]:
        return [native.topic_filter(self.site), *self.routes]

    def format_of(self, topic: str) -> str:
        """The format a topic is read in, for counting: a device's format, else unknown."""
        routes = self.routes.get(topic)
        if routes:
            return routes[0].device.source.format
        return "native" if topic.startswith(f"fw/{self.site}/") else "unknown"

    def parse(self, topic: str, payload: bytes, received_at: float) -> list[Parsed]:
        routes = self.routes.get(topic)
        if routes is not None:
            return [
                parsed
                for route in routes
                for parsed in self._format(route, topic, payload, received_at)
            ]
        if topic.startswith(f"fw/{self.site}/{native.ALARMS}/"):
            return []  # our own alarm announcements, echoed by the broker
        try:
            if topic.startswith(f"fw/{self.site}/"):
                if payload[:1] == b"[":
                    return self._native_batch(topic, payload, received_at)
                return [self._native(topic, payload, received_at)]
        except Exception as error:  # a parser bug quarantines one message, not the agent
            return [_parser_error(topic, payload, received_at, error, None)]
        return [Rejection(topic, payload[:KEEP_REJECTED], "unknown topic", received_at)]

    def _format(self, route: Route, topic: str, payload: bytes, received_at: float) -> list[Parsed]:
        try:
            return route.format.parse(route.device, topic, payload, received_at, self.tz)
        except Exception as error:  # one device's parser bug loses neither the agent nor the others
            return [_parser_error(topic, payload, received_at, error, route.device.id)]

    def _native_batch(self, topic: str, payload: bytes, received_at: float) -> list[Parsed]:
        declared = self._declared_elsewhere(topic, payload, received_at)
        if declared is not None:
            return [declared]
        return list(native.parse_batch(topic, payload, received_at, self.native_devices))

    def _declared_elsewhere(
        self, topic: str, payload: bytes, received_at: float
    ) -> Rejection | None:
        parts = topic.split("/")
        declared = self.other_formats.get(parts[2]) if len(parts) == 4 else None
        if declared is None:
            return None
        reason = f"device {parts[2]!r} is declared with format {declared}, not native"
        return Rejection(topic, payload[:KEEP_REJECTED], reason, received_at, parts[2])

    def _native(self, topic: str, payload: bytes, received_at: float) -> Parsed:
        declared = self._declared_elsewhere(topic, payload, received_at)
        if declared is not None:
            return declared
        return native.parse(topic, payload, received_at, self.native_devices)


def _parser_error(
    topic: str, payload: bytes, received_at: float, error: Exception, device: str | None
) -> Rejection:
    reason = f"parser error: {error!r}"[:200]
    return Rejection(topic, payload[:KEEP_REJECTED], reason, received_at, device)


def topic_conflicts(devices: Iterable[DeviceConfig]) -> list[str]:
    """One line per topic that more than one device would read (a site-YAML mistake), unless
    every one of them reads it as shared (the channels of one Shelly)."""
    owners: dict[str, list[str]] = {}
    exclusive: set[str] = set()
    for device in devices:
        format_ = FORMATS.get(device.source.format)
        if format_ is None:
            continue
        shared = set(format_.shared_topics(device))
        for topic in format_.subscriptions(device):
            owners.setdefault(topic, []).append(device.id)
            if topic not in shared:
                exclusive.add(topic)
    return [
        f"devices {', '.join(ids)} all read topic {topic!r}"
        for topic, ids in owners.items()
        if len(ids) > 1 and topic in exclusive
    ]


def build_router(devices: Iterable[DeviceConfig], site: str, tz: ZoneInfo) -> Router:
    """The router for a site's devices; raises ``TopicConflict`` if two devices share a topic."""
    declared = list(devices)
    conflicts = topic_conflicts(declared)
    if conflicts:
        raise TopicConflict(conflicts)
    routes: dict[str, tuple[Route, ...]] = {}
    for device in declared:
        format_ = FORMATS.get(device.source.format)
        if format_ is None:
            continue
        for topic in format_.subscriptions(device):
            routes[topic] = (*routes.get(topic, ()), Route(device, format_))
    natives = {d.id: d for d in declared if d.source.format == "native"}
    others = {d.id: d.source.format for d in declared if d.source.format != "native"}
    return Router(site, tz, routes, natives, others)
