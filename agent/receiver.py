"""The MQTT session in a process of its own: ``python -m agent.receiver FD PARENT_PID``.

Started by ``agent.relay``, which it talks to over the socket ``FD`` in pickled tuples. It does
only paho's work: each message goes to the agent as it came (topic and payload bytes, packet id,
QoS, the connection it came on), gathered for a couple of milliseconds; the agent sends back the
packet ids it has committed, and they are acknowledged here. paho's packet handling is the
largest cost of a message, and in this process it has a core to itself.

It lives exactly as long as the agent: it dies with it (Linux's parent-death signal) and exits
when the socket closes or the agent says stop. Ctrl-C in a terminal, and a SIGTERM sent to the
whole process group (the demo's supervisor, systemd's default), reach it too: it ignores both
and leaves stopping to the agent, which acknowledges what it has committed before it says stop.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection
from typing import Any, TypeVar

import paho.mqtt.client as mqtt

from agent.memory import tune_gc
from agent.session import Session

PR_SET_PDEATHSIG = 1
# How long the first message of a batch waits for others: a batch costs one pickling and one
# hand-over between processes, and its few milliseconds are nothing beside a commit's.
GATHER_S = 0.002

# Committed messages are acknowledged from paho's network thread as the next message arrives:
# sent from another thread, each acknowledgement handed the interpreter lock back and forth, and
# that cost paho more than a message's own handling. Those no message has carried within this
# long (an idle site, or a full receive window) are sent from the commands thread.
ACK_WAIT_S = 0.005

# (connection, topic, payload, packet id, QoS): the connection is ``Session.generation``.
Message = tuple[int, bytes, bytes, int, int]
T = TypeVar("T")


def drain(queue: deque[T]) -> list[T]:
    """Everything in ``queue``, down to what another thread appended meanwhile. Taking only
    the length seen at the start would leave such an item behind, and its producer, which wakes
    the consumer only for a first item, would never wake it again."""
    items: list[T] = []
    while True:
        try:
            items.append(queue.popleft())
        except IndexError:
            return items


class Channel:
    """The socket to the agent; several threads send on it, one message at a time."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        # OSError: the agent is gone, and this process ends with it.
        with self._lock, contextlib.suppress(OSError):
            self.conn.send(message)


class ToAgent(logging.Handler):
    """This process's log lines, logged again by the agent: one log, one format."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self.channel.send(("log", record.name, record.levelno, text))
        except Exception:
            self.handleError(record)


class Forwarder(Session):
    def __init__(self, channel: Channel, settings: dict[str, Any]) -> None:
        super().__init__(
            settings["url"],
            settings["topics"],
            client_id=settings["client_id"],
            username=settings["username"],
            password=settings["password"],
            keepalive=settings["keepalive"],
            protocol=settings["protocol"],
        )
        # Unique across this agent's receivers, so no acknowledgement meant for an earlier one
        # is ever sent on this one's connections.
        self.generation = settings["generation"]
        self.channel = channel
        self._outbox: deque[Message] = deque()
        self._acks: deque[tuple[int, int, int]] = deque()
        self._ready = threading.Event()
        self.on_connected = lambda: channel.send(("connected",))
        threading.Thread(target=self._forward, name="fw-forward", daemon=True).start()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        outbox = self._outbox
        outbox.append(
            (self.generation, message._topic, bytes(message.payload), message.mid, message.qos)
        )
        if len(outbox) == 1:
            self._ready.set()
        if self._acks:
            self._acknowledge()

    def _acknowledge(self) -> None:
        # Both threads may be here at once: each acknowledges what it took.
        for generation, mid, qos in drain(self._acks):
            self.ack(generation, mid, qos)

    def _forward(self) -> None:
        outbox = self._outbox
        while True:
            self._ready.wait()
            self._ready.clear()
            time.sleep(GATHER_S)
            batch = drain(outbox)
            if batch:
                self.channel.send(("messages", batch))

    def _changed(self) -> None:
        self.channel.send(("state", self.connected, self.subscribed, self.version))

    def serve(self, conn: Connection) -> None:
        """Carry out what the agent asks until it says stop or goes away."""
        pending_since = 0.0
        while True:
            if self._acks:
                waited = time.monotonic() - pending_since
                if waited >= ACK_WAIT_S or not conn.poll(ACK_WAIT_S - waited):
                    self._acknowledge()  # no message came to carry them
                    continue
            try:
                command, *args = conn.recv()
            except (EOFError, OSError):
                return
            if command == "acks":
                if not self._acks:
                    pending_since = time.monotonic()
                self._acks.extend(args[0])
            elif command == "publish":
                self.publish(*args)
            elif command == "topics":
                self.set_topics(args[0])
            elif command == "stop":
                self._acknowledge()  # the agent sent its last acknowledgements just before
                return


def die_with(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the closed socket ends this process instead
        pass
    if os.getppid() != parent:  # the agent died before the signal was asked for
        os._exit(0)


def main(argv: list[str]) -> int:
    fd, parent = int(argv[1]), int(argv[2])
    die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = Connection(fd)
    channel = Channel(conn)
    root = logging.getLogger()
    root.addHandler(ToAgent(channel))
    root.setLevel(logging.INFO)
    try:
        settings = conn.recv()
    except EOFError:
        return 0
    forwarder = Forwarder(channel, settings)
    tune_gc()
    forwarder.start()
    forwarder.serve(conn)
    forwarder.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
