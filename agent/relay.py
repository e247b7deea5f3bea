"""The agent's side of an MQTT session run in a process of its own (``agent.receiver``).

CPython runs one thread's Python at a time. In one process, paho's packet handling and the
agent's parsing, rules and commits take turns on one core, and the agent reached about two
thirds of what a bare paho client takes from the same broker. With the session in a second
process, paho has a core to itself and this side parses, evaluates and commits on another.

Nothing changes for the guarantees: a message is acknowledged only after the commit of what it
became (the packet ids go back to the receiver, which acknowledges them on the connection that
delivered them), so a killed agent or receiver loses nothing — the broker sends it again, and
redelivered messages are stored once. A receiver that dies is started again; the broker
redelivers what it had not acknowledged. A message's receipt time is taken here, by the agent's
clock, as it is parsed (a few milliseconds after the receiver read it).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

from agent.mqtt import Submit, format_of, read_message
from agent.receiver import GATHER_S, Message, drain
from agent.session import ProtocolChoice, broker_address
from collector.formats import Router

log = logging.getLogger("agent.mqtt")

RESTART_S = 1.0
STOP_WAIT_S = 10.0
# Receivers' connection counts start here, times the receiver's number, so that each receiver's
# connections are told apart from every earlier one's.
GENERATIONS = 1 << 32
# Publishes kept while no receiver is up (starting, or being replaced), as paho keeps them while
# the broker is away; past this many the oldest go (open alarms are republished on connection).
HELD_PUBLISHES = 10_000


class Relay:
    """``agent.mqtt.Subscriber``'s interface (``agent.mqtt.Inbound``), over a receiver process."""

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
        self.host, self.port = broker_address(url)
        self.router = router
        self.submit = submit
        self.clock = clock
        self._settings: dict[str, Any] = {
            "url": url,
            "client_id": client_id or f"facilitywatch-agent-{router.site}",
            "username": username,
            "password": password,
            "keepalive": keepalive,
            "protocol": protocol,
        }
        self.connected = False
        self.subscribed = False
        self.version: int | None = None
        self.received = 0
        self.received_by_format: Counter[str] = Counter()
        # Runs in the relay's reading thread after every (re)connection.
        self.on_connected: Callable[[], None] | None = None
        self.restarts = 0
        self._receivers = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._sending = threading.Lock()
        self._acks: deque[tuple[int, int, int]] = deque()
        self._acks_ready = threading.Event()
        self._held: deque[tuple[Any, ...]] = deque(maxlen=HELD_PUBLISHES)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        # The receiver is started from the reading thread, which lives as long as the relay:
        # Linux's parent-death signal follows the thread that started a process, not the process.
        for target, name in ((self._read, "fw-relay"), (self._acknowledge, "fw-relay-acks")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _spawn(self) -> Connection:
        ours, theirs = socket.socketpair()
        command = [sys.executable, "-m", "agent.receiver", str(theirs.fileno()), str(os.getpid())]
        with theirs:
            try:
                self._process = subprocess.Popen(command, pass_fds=(theirs.fileno(),))
            except OSError:
                ours.close()
                raise
        conn = Connection(ours.detach())
        self._receivers += 1
        settings = {
            **self._settings,
            "topics": self.router.subscriptions(),
            "generation": self._receivers * GENERATIONS,
        }
        with self._sending:
            try:
                conn.send(settings)
                for publish in drain(self._held):
                    conn.send(publish)
                if self._stopping.is_set():  # stop() came while this receiver was starting
                    conn.send(("stop",))
            except OSError:  # it ended at once (a broken installation)
                conn.close()
                raise
            self._conn = conn
        return conn

    def _read(self) -> None:
        while not self._stopping.is_set():
            try:
                conn = self._spawn()
            except OSError:  # out of memory or processes, or it ended at once
                log.exception("the MQTT receiver process could not be started; trying again")
                if self._process is not None and self._process.poll() is None:
                    self._process.kill()
                    self._process.wait()
                self.restarts += 1
                self._stopping.wait(RESTART_S)
                continue
            while True:
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    break
                try:
                    self._handle(message)
                except Exception:  # this thread must outlive any one message
                    log.exception("relay failed on a message from the receiver")
            self._ended(conn)

    def _ended(self, conn: Connection) -> None:
        with self._sending:
            conn.close()
            self._conn = None
        self._set_state(False, False, self.version)
        if self._stopping.is_set() or self._process is None:
            return
        try:
            code = self._process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        self.restarts += 1
        log.error(
            "the MQTT receiver process ended (exit %s); starting another in %.0f s",
            code,
            RESTART_S,
        )
        self._stopping.wait(RESTART_S)

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "messages":
            self._deliver(message[1])
        elif kind == "state":
            self._set_state(*message[1:])
        elif kind == "connected":
            if self.on_connected is not None:
                try:
                    self.on_connected()
                except Exception:
                    log.exception("reconnection callback failed")
        elif kind == "log":
            _, name, level, text = message
            logging.getLogger(name).log(level, "%s", text)

    def _set_state(self, connected: bool, subscribed: bool, version: int | None) -> None:
        self.connected, self.subscribed, self.version = connected, subscribed, version

    def _deliver(self, batch: list[Message]) -> None:
        router, submit, counts, ack = self.router, self.submit, self.received_by_format, self._ack
        clock = self.clock
        self.received += len(batch)
        for generation, topic, payload, mid, qos in batch:
            counts[format_of(router, topic)] += 1
            # A time of its own: a reading without one is stored under its receipt time, and
            # two messages under the same time would be taken for one redelivered.
            items = read_message(router, topic, payload, clock())
            # The acknowledgement runs once everything the message became is committed.
            submit(items, partial(ack, (generation, mid, qos)) if qos > 0 else None)

    def _ack(self, key: tuple[int, int, int]) -> None:
        acks = self._acks
        acks.append(key)
        if len(acks) == 1:
            self._acks_ready.set()

    def _acknowledge(self) -> None:
        """Send committed packet ids to the receiver, a commit's worth at a time."""
        while not self._stopping.is_set():
            self._acks_ready.wait()
            self._acks_ready.clear()
            time.sleep(GATHER_S)
            self._send_acks()

    def _send_acks(self) -> None:
        batch = drain(self._acks)
        if batch:
            self._send(("acks", batch))

    def _send(self, message: tuple[Any, ...]) -> None:
        # With no receiver up, a publish waits for the next one; anything else is dropped:
        # acknowledgements would be for the old one's connection (its messages are delivered
        # again), and the next receiver subscribes to the router's topics as it starts.
        with self._sending:
            if self._conn is not None:
                try:
                    self._conn.send(message)
                    return
                except OSError:  # the receiver is gone; the reading thread starts another
                    pass
            if message[0] == "publish":
                self._held.append(message)

    def reroute(self, router: Router) -> None:
        """Parse with ``router`` from now on, and subscribe to what it reads and no longer to
        what it does not. A message parsed before this is handled as that router made it."""
        self.router = router
        self._send(("topics", router.subscriptions()))

    def publish(self, topic: str, payload: bytes, retain: bool) -> None:
        """QoS 1, from the receiver; paho there queues it while the broker is away, and this
        while no receiver is up."""
        self._send(("publish", topic, payload, retain))

    def stop(self) -> None:
        self._stopping.set()
        self._send_acks()
        self._send(("stop",))
        self._acks_ready.set()
        # The reading thread ends when the receiver, told to stop, closes its end.
        for thread in self._threads:
            thread.join(STOP_WAIT_S)
        process = self._process
        if process is not None and process.poll() is None:
            try:
                process.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                log.error("the MQTT receiver process did not stop; killing it")
                process.kill()
                process.wait()
