"""The writer thread (see the package docstring)."""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from agent import actions, downlink, manual, store
from agent.config import SiteConfig
from agent.counters import CounterGuard
from agent.downlink import NewConfig
from agent.retention import Retention, reclaim
from agent.writer import answers, tables
from agent.writer.entries import Ack, Barrier, Entry, Item, Stats, SyncAcked, Tick
from agent.writer.rows import insert_readings
from collector.formats import Availability
from collector.models import CUMULATIVE, AccessEvent, Reading, Rejection
from rules.actions import Action
from rules.alarm import AlarmChange
from rules.engine import Engine

log = logging.getLogger(__name__)

LULL_S = 0.01


class Writer:
    def __init__(
        self,
        conn: sqlite3.Connection,
        engine: Engine,
        *,
        commit_interval: float = 0.05,
        max_batch: int = 5000,
        max_queue: int = 100_000,
        on_alarm: Callable[[AlarmChange], None] | None = None,
        guard: CounterGuard | None = None,
        on_reconfigure: Callable[[SiteConfig], None] | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.guard = guard
        # After the commit that switched the rules: the rest of the agent follows (router,
        # subscriptions, notifier, sync).
        self.on_reconfigure = on_reconfigure
        self._reconfigured: list[SiteConfig] = []
        self.retention = retention
        if retention is not None:
            retention.load(conn)
        self.conn = conn
        self.engine = engine
        self.commit_interval = commit_interval
        self.max_batch = max_batch
        # SimpleQueue: a C queue, several times cheaper per message than queue.Queue, whose
        # locks and condition variables cost the network thread more than parsing does.
        self.queue: queue.SimpleQueue[Entry | None] = queue.SimpleQueue()
        self.max_queue = max_queue
        self.stats = Stats()
        self.on_alarm = on_alarm
        self._thread = threading.Thread(target=self._run, name="fw-writer", daemon=True)
        self._saved_states = dict(engine.states)
        self._devices = dict(guard.devices) if guard is not None else {}
        # States loaded from the store may hold records an older agent never took: the first
        # commit looks at every state, later ones at those that changed.
        self._records_checked = False
        self._uncommitted_readings = 0
        self._uncommitted_access = 0
        self._uncommitted_duplicates = 0
        self._ticked: float | None = None

    def start(self) -> None:
        self._thread.start()

    def submit(self, item: Item, ack: Ack | None = None) -> None:
        self._put(((item,), ack))

    def submit_many(self, items: Sequence[Item], ack: Ack | None = None) -> None:
        """Everything one message became, as one entry: a batch of 100 readings costs one
        hand-over between threads, and its acknowledgement waits for all of them."""
        self._put((items, ack))

    def _put(self, entry: Entry) -> None:
        # The bound: a slow disk holds the caller (the broker's network thread) until the
        # writer catches up, instead of growing memory. Rarely reached: the broker sends no
        # more than its receive-maximum window of unacknowledged messages anyway.
        while self.queue.qsize() >= self.max_queue:
            time.sleep(0.001)
        self.queue.put(entry)

    def flush(self, timeout: float = 30.0) -> bool:
        done = threading.Event()
        self.submit(Barrier(done))
        return done.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread.is_alive():
            self.queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        running = True
        while running:
            try:
                first = self.queue.get(timeout=1.0)
            except queue.Empty:
                continue
            batch, running = self._collect(first)
            if batch:
                self._commit(batch)
                self._maintain()

    def _collect(self, first: Entry | None) -> tuple[list[Entry], bool]:
        """Take what arrives, up to ``max_batch`` or ``commit_interval``, or until a short lull.

        Committing at the first lull matters: a broker lets only so many unacknowledged
        messages be in flight (Mosquitto: 20 by default), and they are acknowledged only after
        the commit, so waiting out the interval would cap throughput at that window per
        interval. While messages keep coming, batches grow and fsyncs stay few.
        """
        if first is None:
            return [], False
        batch = [first]
        deadline = time.monotonic() + self.commit_interval
        while len(batch) < self.max_batch:
            if not self._take(batch):
                return batch, False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Sleep rather than wait on the queue: a waiting reader would be woken by every
            # message, and that wake-up (a GIL hand-over) costs the network thread more than
            # the message's parsing.
            time.sleep(min(remaining, LULL_S))
            if self.queue.empty():
                break
        return batch, True

    def _take(self, batch: list[Entry]) -> bool:
        """Move what is queued into ``batch``; False once the stop sentinel is met."""
        while len(batch) < self.max_batch:
            try:
                entry = self.queue.get_nowait()
            except queue.Empty:
                return True
            if entry is None:
                return False
            batch.append(entry)
        return True

    def _commit(self, batch: list[Entry]) -> None:
        if self._transaction(batch):
            return
        # One entry may be poison (a bug meeting odd input): commit the others one by one and
        # quarantine that one, so it neither blocks nor loses the messages queued behind it.
        for entry in batch:
            alone = len(batch) > 1 and self._transaction([entry])
            if not alone and not self._quarantine_entry(entry):
                return  # not even quarantine can be written (a full disk): acknowledge nothing

    def _maintain(self) -> None:
        """One slice of retention (``agent.retention``) after a batch that held a tick, in a
        transaction of its own: the batch's messages are acknowledged already, and a failure
        here rolls back only the slice."""
        now, self._ticked = self._ticked, None
        if self.retention is None or now is None:
            return
        started = time.perf_counter()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            changes = self.retention.run(self.conn, now)
            for change in changes:
                tables.insert_change(self.conn, self.stats, change)
            self.conn.execute("COMMIT")
        except Exception:
            log.exception("writer: retention slice rolled back")
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.retention.load(self.conn)
            self.stats.retention_errors += 1
            return
        if self.retention.last_step is not None:
            try:
                reclaim(self.conn)
            except sqlite3.Error:
                log.exception("writer: giving thinned pages back to the disk failed")
        self.stats.retention_seconds += time.perf_counter() - started
        for change in changes:
            self._announce(change)

    def _transaction(self, batch: list[Entry]) -> bool:
        started = time.perf_counter()
        engine, self._reconfigured = self.engine, []
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            changes = self._store(batch)
            self.conn.execute("COMMIT")
        except Exception:
            log.exception("writer: batch of %d rolled back", len(batch))
            self.conn.execute("ROLLBACK")
            # A configuration switched in this batch is not recorded either: back to the old.
            self.engine, self._reconfigured = engine, []
            if self.guard is not None:
                self.guard.devices = self._devices
            self._reload_engine()
            return False
        self._committed(batch, changes, started)
        return True

    def _quarantine_entry(self, entry: Entry) -> bool:
        items, ack = entry
        return self._transaction([(tables.quarantined(items, time.time()), ack)])

    def _committed(self, batch: list[Entry], changes: list[AlarmChange], started: float) -> None:
        self.stats.commits += 1
        self.stats.readings += self._uncommitted_readings
        self.stats.access_events += self._uncommitted_access
        self.stats.duplicates += self._uncommitted_duplicates
        self.stats.commit_seconds += time.perf_counter() - started
        for config in self._reconfigured:
            self._devices = config.device_map()
            if self.on_reconfigure is not None:
                try:
                    self.on_reconfigure(config)
                except Exception:
                    log.exception("reconfiguration callback failed")
        for items, ack in batch:
            if ack is not None:
                ack()
            for item in items:
                if isinstance(item, Barrier):
                    item.done.set()
        for change in changes:
            self._announce(change)

    def _store(self, batch: list[Entry]) -> list[AlarmChange]:
        self._uncommitted_access = self._uncommitted_duplicates = 0
        readings: list[Reading] = []
        changes: list[AlarmChange] = []
        for items, _ in batch:
            changes += self._store_items(items, readings)
        self._uncommitted_readings = insert_readings(self.conn, readings)
        self._uncommitted_duplicates += len(readings) - self._uncommitted_readings
        for change in changes:
            tables.insert_change(self.conn, self.stats, change)
        self._save_states()
        return changes

    def _store_items(self, items: Sequence[Item], readings: list[Reading]) -> list[AlarmChange]:
        """One message's items, in order. Its consecutive readings of one metric (a batch, or
        a gateway's buffered values) go to the rules as one series: one lookup, not a hundred."""
        changes: list[AlarmChange] = []
        series: list[Reading] = []
        for item in items:
            if isinstance(item, Reading):
                if series and not _same_series(series[-1], item):
                    changes += self._evaluate(series, readings)
                    series = []
                if item.metric not in CUMULATIVE or self._admit(item):
                    series.append(item)
                continue
            if series:
                changes += self._evaluate(series, readings)
                series = []
            changes += self._store_other(item)
        if series:
            changes += self._evaluate(series, readings)
        return changes

    def _admit(self, reading: Reading) -> bool:
        verdict = self.guard.judge(reading) if self.guard is not None else None
        if isinstance(verdict, Rejection):
            tables.insert_rejection(self.conn, self.stats, verdict)
            return False
        if verdict is not None:
            tables.insert_meter_event(self.conn, self.stats, verdict)
        return True

    def _evaluate(self, series: list[Reading], readings: list[Reading]) -> list[AlarmChange]:
        readings += series
        first = series[0]
        values = [r.value for r in series]
        return self.engine.on_series(first.device, first.metric, values, first.received_at)

    def _store_other(self, item: Item) -> list[AlarmChange]:
        if isinstance(item, AccessEvent):
            added = tables.insert_access(self.conn, item)
            self._uncommitted_access += added
            self._uncommitted_duplicates += 1 - added
            # A redelivered swipe is not a second swipe: only a new one reaches the rules.
            return self.engine.on_access(item) if added else []
        if isinstance(item, Rejection):
            tables.insert_rejection(self.conn, self.stats, item)
        elif isinstance(item, Tick):
            self._ticked = item.now
            # Imports first: a reading imported by hand answers a stale rule before it fires.
            changes = self._evaluate_imports(item.now) + self.engine.on_tick(item.now)
            actions.designed(self.conn, self.engine.rules, item.now)
            return changes + actions.apply_pending(self.conn, self._apply_action, item.now)
        elif isinstance(item, Availability):
            return self.engine.on_availability(item.device, item.online, item.received_at)
        elif isinstance(item, SyncAcked):
            return self._apply_sync(item)
        elif isinstance(item, NewConfig):
            return self._reconfigure(item)
        return []

    def _reconfigure(self, new: NewConfig) -> list[AlarmChange]:
        """Switch to a checked hub version between two entries (``agent.downlink.switch``):
        what was queued before it ran on the old rules, what comes after runs on the new."""
        try:
            switched = downlink.switch(self.conn, self.engine, new)
        except Exception as error:
            # A bug meeting this version: refuse it for good, or every sync would bring it back
            # and fail the same way.
            log.exception("writer: cannot switch to hub configuration %d", new.version.version)
            reason = f"the agent could not switch to it ({error!r}; see its log)"
            downlink.record(self.conn, replace(new, config=None, reason=reason))
            return []
        if switched is None or new.config is None:
            return []
        self.engine, changes = switched
        self._saved_states = {}
        if self.guard is not None:
            self.guard.devices = new.config.device_map()
            self.guard.forget()
        self._reconfigured.append(new.config)
        return changes

    def _evaluate_imports(self, now: float) -> list[AlarmChange]:
        """Readings ``agent import-readings`` stored, each evaluated once: they leave the queue
        in this transaction. A series the rules fail on is quarantined, or it would fail (and
        hold back the tick) every second from now on."""
        changes: list[AlarmChange] = []
        for series in manual.take_queued(self.conn):
            if self.guard is not None:
                self.guard.forget_meter(series.device, series.metric)
            before = dict(self.engine.states), dict(self.engine.alarms)
            try:
                changes += self.engine.on_series(
                    series.device, series.metric, series.values, series.received_at
                )
            except Exception:
                log.exception("writer: imported %s %s failed", series.device, series.metric)
                self.engine.states, self.engine.alarms = before
                payload = repr(series).encode("utf-8", "backslashreplace")[:4096]
                reason = "the rules failed on these imported readings (see the agent's log)"
                rejection = Rejection("internal/import", payload, reason, now, series.device)
                tables.insert_rejection(self.conn, self.stats, rejection)
        return changes

    def _apply_sync(self, acked: SyncAcked) -> list[AlarmChange]:
        return answers.apply_answer(self.conn, self.engine, self.retention, acked)

    def _apply_action(self, action: Action) -> tuple[list[AlarmChange], str | None]:
        return answers.apply_action(self.engine, self.retention, action)

    def _save_states(self) -> None:
        saved, every = self._saved_states, not self._records_checked
        if tables.save_states(self.conn, self.stats, self.engine, saved, every):
            self._saved_states = dict(self.engine.states)
        self._records_checked = True

    def _reload_engine(self) -> None:
        restored = Engine.restore(
            self.engine.rules,
            self.engine.started_at,
            store.rule_states(self.conn),
            store.open_alarms(self.conn),
        )
        self.engine.states, self.engine.alarms = restored.states, restored.alarms
        if self.guard is not None:
            self.guard.forget()
        if self.retention is not None:
            self.retention.load(self.conn)
        self._saved_states = dict(self.engine.states)
        self._records_checked = False

    def _announce(self, change: AlarmChange) -> None:
        log.warning(
            "alarm %s %s: %s (%s)",
            change.alarm.rule,
            change.kind,
            change.alarm.message,
            change.alarm.state,
        )
        if self.on_alarm is not None:
            try:
                self.on_alarm(change)
            except Exception:
                log.exception("alarm callback failed")


def _same_series(a: Reading, b: Reading) -> bool:
    return a.device == b.device and a.metric == b.metric and a.received_at == b.received_at
