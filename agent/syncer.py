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

from agent import outbox
from agent.writer import SyncAcked, Writer
from collector.config import DeviceConfig
from sync.client import Backoff, HubRejected, SyncClient, SyncError

log = logging.getLogger(__name__)
PROBE_LIMIT = 1000


@dataclass
class SyncStatus:
    last_ok: float | None = None
    last_error: str | None = None
    clock_offset: float | None = None
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
    ) -> None:
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
        self.backoff = Backoff(base=max(1.0, interval), cap=300.0)
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
        )
        batch = outgoing.batch
        ack = self.client.push(batch, outgoing.readings)
        self._hub_streams = frozenset(ack.acked)
        self.writer.submit(
            SyncAcked(
                cursors=ack.acked, actions=ack.actions, reported=batch.applied_actions, at=now
            )
        )
        self.writer.flush()
        self._devices_sent = True
        self.status.last_ok = self.clock()
        self.status.last_error = None
        self.status.clock_offset = ack.server_time - (now + self.status.last_ok) / 2
        self.status.batches += 1
        return any(s in ack.acked for s in outgoing.more) or bool(ack.actions)

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
