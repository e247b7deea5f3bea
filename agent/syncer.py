"""The agent's sync job: send what the hub has not acknowledged, apply what it sends back.

Runs in its own thread with its own read connection; every write (cursors, applied actions) goes
through the writer, and the next batch is built only after that write is committed.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent import downlink, outbox
from agent.downlink import NewConfig
from agent.writer import Item, SyncAcked, Writer
from collector.config import DeviceConfig
from sync.client import Backoff, HubRejected, SyncClient, SyncError
from sync.clock import measure
from sync.protocol import ClockReport, ConfigVersion

log = logging.getLogger(__name__)
PROBE_LIMIT = 1000


@dataclass
class SyncStatus:
    last_ok: float | None = None
    last_error: str | None = None
    clock: ClockReport | None = None
    batches: int = 0


class Syncer:
    def __init__(
        self,
        conn: sqlite3.Connection,
        client: SyncClient,
        writer: Writer,
        *,
        site: str,
        devices: list[DeviceConfig],
        interval: float,
        batch_size: int,
        batch_bytes: int = outbox.DEFAULT_MAX_BYTES,
        agent_version: str = "",
        site_name: str | None = None,
        timezone: str | None = None,
        clock: Callable[[], float] = time.time,
        check_config: Callable[[ConfigVersion, float], NewConfig] | None = None,
        max_size: int | None = None,
        max_backoff: float = 300.0,
    ) -> None:
        # Validates a delivered configuration version here, off the writer's thread (apprise
        # loads its plugins for the URL checks); None: versions are not applied.
        self.check_config = check_config
        self.max_size = max_size
        self.site_name = site_name
        self.timezone = timezone
        self.conn = conn
        self.client = client
        self.writer = writer
        self.site = site
        self.devices = devices
        self.interval = interval
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self._hub_streams: frozenset[str] | None = None
        self.agent_version = agent_version
        self.clock = clock
        self.status = SyncStatus()
        self.backoff = Backoff(base=max(1.0, interval), cap=max_backoff)
        self._devices_sent = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fw-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def sync_once(self) -> bool:
        """Send one batch; True when more is waiting. Raises SyncError when not acknowledged."""
        now = self.clock()
        # Until its first answer says what the hub reads, a small batch: it goes as JSON.
        probing = self._hub_streams is None
        outgoing = outbox.build(
            self.conn,
            self.site,
            limit=min(self.batch_size, PROBE_LIMIT) if probing else self.batch_size,
            max_bytes=self.batch_bytes,
            now=now,
            columns=self.client.columns,
            hub_streams=self._hub_streams,
            devices=None if self._devices_sent else self.devices,
            agent_version=self.agent_version,
            site_name=self.site_name,
            timezone=self.timezone,
            max_size=self.max_size,
        )
        batch = outgoing.batch
        sent = self.clock()
        ack = self.client.push(batch, outgoing.readings)
        clock = measure(sent, self.clock(), ack.server_time)
        self._hub_streams = frozenset(ack.acked)
        # Before the flush: a configuration applied in it asks for the devices to go again.
        self._devices_sent = True
        acked = SyncAcked(
            cursors=ack.acked,
            actions=ack.actions,
            reported=batch.applied_actions,
            at=now,
            clock=clock,
        )
        new = self._checked(ack.config, now)
        items: list[Item] = [acked] if new is None else [acked, new]
        self.writer.submit_many(items)
        self.writer.flush()
        self.status.last_ok = self.clock()
        self.status.last_error = None
        self.status.clock = clock
        self.status.batches += 1
        # A new configuration: sync again at once, so the hub hears what became of it.
        more = any(s in ack.acked for s in outgoing.more) or bool(ack.actions)
        return more or new is not None

    def _checked(self, version: ConfigVersion | None, now: float) -> NewConfig | None:
        if (
            version is None
            or self.check_config is None
            or downlink.seen(self.conn, version.version)
        ):
            return None
        return self.check_config(version, now)

    def reconfigured(self, devices: list[DeviceConfig]) -> None:
        """The writer switched configuration: tell the hub the devices with the next batch."""
        self.devices = devices
        self._devices_sent = False

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.wait(delay):
            try:
                more = self.sync_once()
            except HubRejected as error:
                self._failed(str(error), logging.ERROR)
                delay = self.backoff.next_delay()
                continue
            except SyncError as error:
                self._failed(str(error), logging.WARNING)
                delay = self.backoff.next_delay()
                continue
            except Exception as error:  # never let the sync thread die
                log.exception("sync failed")
                self._failed(repr(error), logging.ERROR)
                delay = self.backoff.next_delay()
                continue
            self.backoff.reset()
            delay = 0.0 if more else self.interval

    def _failed(self, message: str, level: int) -> None:
        if message != self.status.last_error:
            log.log(level, "sync: %s; readings stay queued", message)
        self.status.last_error = message
