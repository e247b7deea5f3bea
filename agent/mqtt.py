"""The subscriber that parses in paho's network thread, and what both process layouts share.

The session itself (QoS 1, persistent, acknowledged after the commit) is ``agent.session``;
``agent.relay`` is the other layout, with the session in a process of its own.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from agent.session import ProtocolChoice, Session
from collector.formats import Parsed, Router
from collector.models import Rejection

log = logging.getLogger(__name__)

Submit = Callable[[Sequence[Parsed], Callable[[], None] | None], None]


class Inbound(Protocol):
    """What the rest of the agent sees of the MQTT side, in either process layout."""

    host: str
    port: int
    router: Router
    received_by_format: Counter[str]
    on_connected: Callable[[], None] | None
    restarts: int  # receiver processes replaced (agent.relay); always 0 in one process

    @property
    def connected(self) -> bool: ...

    @property
    def subscribed(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reroute(self, router: Router) -> None: ...

    def publish(self, topic: str, payload: bytes, retain: bool) -> None: ...


def read_message(router: Router, topic: bytes, payload: bytes, now: float) -> list[Parsed]:
    """What one message becomes; never raises (an exception would kill the thread reading)."""
    try:
        return router.parse(topic.decode("utf-8"), payload, now)
    except Exception as error:
        log.exception("parser failed on a message")
        name = topic.decode("utf-8", "replace")
        return [Rejection(name, payload[:4096], f"bad message: {error!r}", now)]


def format_of(router: Router, topic: bytes) -> str:
    try:
        return router.format_of(topic.decode("utf-8"))
    except Exception:  # the message's parsing reports it
        return "unknown"


class Subscriber(Session):
    """Parses each message in paho's network thread and hands it to the writer: one process,
    whose Python runs on one core at a time (``agent.relay`` spreads it over two)."""

    def __init__(
        self,
        url: str,
        router: Router,
        submit: Submit,
        *,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 30,
        protocol: ProtocolChoice = "auto",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            url,
            router.subscriptions(),
            client_id=client_id or f"facilitywatch-agent-{router.site}",
            username=username,
            password=password,
            keepalive=keepalive,
            protocol=protocol,
        )
        self.router = router
        self.submit = submit
        self.clock = clock
        self.received = 0
        self.received_by_format: Counter[str] = Counter()
        self.restarts = 0

    def reroute(self, router: Router) -> None:
        """Parse with ``router`` from now on, and subscribe to what it reads and no longer to
        what it does not. A message parsed before this is handled as that router made it."""
        self.router = router
        self.set_topics(router.subscriptions())

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.received += 1
        topic, payload = bytes(message._topic), bytes(message.payload)
        self.received_by_format[format_of(self.router, topic)] += 1
        items = read_message(self.router, topic, payload, self.clock())
        generation, mid, qos = self.generation, message.mid, message.qos

        def ack() -> None:
            self.ack(generation, mid, qos)

        # The acknowledgement runs once everything the message became is committed (at once
        # for a status message we do not read).
        self.submit(items, ack if qos > 0 else None)
