"""Subscribes to the site's topics and hands every message to the writer.

QoS 1 with a persistent session (fixed client id, no clean start) and manual acknowledgement: a
message is acknowledged to the broker only after the writer has committed what it became, so a
killed agent loses nothing the broker delivered — the broker sends it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector import native
from collector.config import DeviceConfig
from collector.models import AccessEvent, Reading, Rejection

log = logging.getLogger(__name__)

# The broker keeps our session (and queued QoS 1 messages) this long while we are away.
SESSION_EXPIRY_S = 7 * 24 * 3600
# How many unacknowledged messages the broker may have in flight to us: commits come in batches,
# so the window must hold at least one batch or throughput collapses to window / commit interval.
RECEIVE_MAXIMUM = 20_000

Submit = Callable[[Reading | AccessEvent | Rejection, Callable[[], None] | None], None]


class Subscriber:
    def __init__(
        self,
        url: str,
        site: str,
        devices: Mapping[str, DeviceConfig],
        submit: Submit,
        *,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.site = site
        self.devices = dict(devices)
        self.submit = submit
        self.clock = clock
        self.keepalive = keepalive
        self.connected = False
        self.received = 0
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"facilitywatch-agent-{site}",
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if parts.scheme == "mqtts":
            self.client.tls_set()
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=60)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect_async(
            self.host, self.port, self.keepalive, clean_start=False, properties=properties
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker %s:%s refused the connection: %s", self.host, self.port, reason)
            return
        self.connected = True
        log.info(
            "connected to %s:%s (session present: %s)", self.host, self.port, flags.session_present
        )
        client.subscribe(native.topic_filter(self.site), qos=1)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if self.connected:
            log.warning("disconnected from broker (%s); reconnecting with back-off", reason)
        self.connected = False

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.received += 1
        now = self.clock()
        try:
            item: Reading | AccessEvent | Rejection = native.parse(
                message.topic, bytes(message.payload), now, self.devices
            )
        except Exception as error:  # an exception here would kill paho's network thread
            log.exception("parser failed on a message")
            topic = bytes(message._topic).decode("utf-8", "replace")
            item = Rejection(topic, bytes(message.payload), f"parser error: {error!r}", now)
        mid, qos = message.mid, message.qos

        def ack() -> None:
            client.ack(mid, qos)

        self.submit(item, ack if qos > 0 else None)
