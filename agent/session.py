"""One MQTT session of the agent: QoS 1, persistent, acknowledged by hand.

QoS 1 with a persistent session (fixed client id, no clean start) and manual acknowledgement: a
message is acknowledged to the broker only after the writer has committed what it became, so a
killed agent loses nothing the broker delivered — the broker sends it again.

``Session`` is the connection (protocol fallback, subscriptions, publishing, acknowledgements);
what becomes of a message is its subclass's: ``agent.mqtt.Subscriber`` parses it in the agent's
process, ``agent.receiver`` forwards it from a process of its own (``agent.relay``). This module
imports paho and nothing of ours, so that process starts quickly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger("agent.mqtt")

# The broker keeps our session (and queued QoS 1 messages) this long while we are away.
SESSION_EXPIRY_S = 7 * 24 * 3600
# How many unacknowledged messages the broker may have in flight to us: commits come in batches,
# so the window must hold at least one batch or throughput collapses to window / commit interval.
RECEIVE_MAXIMUM = 20_000

UNSUPPORTED_PROTOCOL = 132  # CONNACK reason code 0x84
CONNACK_WAIT_S = 5.0
ProtocolChoice = Literal["auto", "5", "3.1.1"]


def broker_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883)


class Session:
    """One MQTT session; a subclass decides what becomes of a message (``_on_message``)."""

    def __init__(
        self,
        url: str,
        topics: Sequence[str],
        *,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 30,
        protocol: ProtocolChoice = "auto",
    ) -> None:
        self.host, self.port = broker_address(url)
        self.topics = list(topics)
        self.keepalive = keepalive
        self.connected = False
        self.subscribed = False
        # Counts connections: a message's acknowledgement is sent only on the connection that
        # delivered it. On a later one the broker has redelivered it under the same packet id,
        # and that id may by now name another message, not yet committed.
        self.generation = 0
        self.protocol = protocol
        self.use_tls = url.startswith("mqtts:")
        self.client_id = client_id
        self.username, self.password = username, password
        # Runs in the network thread after every (re)connection; it must not block.
        self.on_connected: Callable[[], None] | None = None
        self._switching = threading.Lock()
        self._stopped = False
        self.client = self._build(mqtt.MQTTv311 if protocol == "3.1.1" else mqtt.MQTTv5)

    def _build(self, version: MQTTProtocolVersion) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=version,
            # v3.1.1 asks for a persistent session here; v5 does it at connect (clean_start).
            clean_session=False if version == mqtt.MQTTv311 else None,
            manual_ack=True,
        )
        if self.use_tls:
            client.tls_set()
        if self.username:
            client.username_pw_set(self.username, self.password)
        client.reconnect_delay_set(min_delay=1, max_delay=60)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        if version == mqtt.MQTTv5 and self.protocol == "auto":
            client.on_socket_open = self._watch_connack
        return client

    def _watch_connack(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # Some brokers (amqtt 0.12) answer a v5 CONNECT with silence instead of a refusal.
        def check() -> None:
            if not self.connected and self.client is client and not self._stopped:
                log.warning(
                    "broker %s:%s did not answer an MQTT v5 CONNECT; using 3.1.1",
                    self.host,
                    self.port,
                )
                self._fall_back_to_v311()

        timer = threading.Timer(CONNACK_WAIT_S, check)
        timer.daemon = True
        timer.start()

    def start(self) -> None:
        if self.client.protocol == mqtt.MQTTv311:
            self.client.connect_async(self.host, self.port, self.keepalive)
        else:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
            properties.ReceiveMaximum = RECEIVE_MAXIMUM
            self.client.connect_async(
                self.host, self.port, self.keepalive, clean_start=False, properties=properties
            )
        self.client.loop_start()

    def _fall_back_to_v311(self) -> None:
        """Reconnect with MQTT 3.1.1 to a broker that refused v5 (older brokers, amqtt)."""
        with self._switching:
            old = self.client
            if old.protocol == mqtt.MQTTv311 or self._stopped:
                return
            old.disconnect()
            old.loop_stop()
            self.client = self._build(mqtt.MQTTv311)
            self.start()

    def set_topics(self, topics: Sequence[str]) -> None:
        """Subscribe to ``topics`` from now on, and no longer to what is not among them."""
        before, after = set(self.topics), set(topics)
        self.topics = list(topics)
        # While disconnected, the next connection subscribes to the new topics.
        if self.connected and after - before:
            self.client.subscribe([(topic, 1) for topic in sorted(after - before)])
        if self.connected and before - after:
            self.client.unsubscribe(sorted(before - after))

    def publish(self, topic: str, payload: bytes, retain: bool) -> None:
        """QoS 1; paho queues it while the broker is away and sends it on reconnection."""
        self.client.publish(topic, payload, qos=1, retain=retain)

    def ack(self, generation: int, mid: int, qos: int) -> None:
        if qos > 0 and generation == self.generation:
            self.client.ack(mid, qos)

    def stop(self) -> None:
        with self._switching:
            self._stopped = True
            self.client.disconnect()
            self.client.loop_stop()

    def _changed(self) -> None:
        """The connection or its subscriptions changed (``connected``, ``subscribed``)."""

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            if reason.value == UNSUPPORTED_PROTOCOL and self.protocol == "auto":
                log.warning(
                    "broker %s:%s does not speak MQTT v5; using 3.1.1", self.host, self.port
                )
                # Not from this thread: loop_stop() joins the thread running this callback.
                threading.Thread(target=self._fall_back_to_v311, daemon=True).start()
                return
            log.error("broker %s:%s refused the connection: %s", self.host, self.port, reason)
            return
        self.connected = True
        self.generation += 1
        log.info(
            "connected to %s:%s (session present: %s)", self.host, self.port, flags.session_present
        )
        self._changed()
        client.subscribe([(topic, 1) for topic in self.topics])
        if self.on_connected is not None:
            self.on_connected()

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        # Until the broker has granted the subscription, messages for this site are not routed
        # to the session; operators and tests wait for this line, not for "connected".
        refused = [reason for reason in reasons if reason.is_failure]
        if refused:
            log.error(
                "broker %s:%s refused %d subscription(s): %s",
                self.host,
                self.port,
                len(refused),
                ", ".join(str(reason) for reason in refused),
            )
        self.subscribed = len(refused) < len(reasons)
        log.info(
            "subscribed on %s:%s (%d granted)", self.host, self.port, len(reasons) - len(refused)
        )
        self._changed()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if self.connected:
            log.warning("disconnected from broker (%s); reconnecting with back-off", reason)
        self.connected = False
        self.subscribed = False
        self._changed()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        raise NotImplementedError

    @property
    def version(self) -> int:
        """The MQTT protocol spoken now (paho's ``MQTTv5`` or ``MQTTv311``)."""
        return int(self.client.protocol)
