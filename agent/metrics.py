"""``GET /metrics`` on the agent, in the Prometheus text format.

Values are read from the counters the parts already keep (writer, subscriber, syncer) when
Prometheus scrapes, so the hot path pays nothing for them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agent import outbox, retention
from agent.mqtt import Inbound
from agent.notify import Notifier
from agent.notify import outbox as notify_outbox
from agent.syncer import Syncer
from agent.writer import Writer
from collector.modbus import Poller

log = logging.getLogger(__name__)


@dataclass(eq=False)
class AgentCollector(Collector):
    writer: Writer
    subscriber: Inbound
    syncer: Syncer | None
    poller: Poller | None
    reader: sqlite3.Connection
    clock: Callable[[], float] = time.time
    notifier: Notifier | None = None
    max_size: int | None = None

    def collect(self) -> Iterator[Metric]:
        stats = self.writer.stats
        received = CounterMetricFamily(
            "fw_messages_received", "MQTT messages received", labels=["format"]
        )
        for name, count in sorted(self.subscriber.received_by_format.items()):
            received.add_metric([name], count)
        yield received
        yield CounterMetricFamily("fw_readings_stored", "Readings committed", value=stats.readings)
        yield CounterMetricFamily(
            "fw_access_events_stored", "Access events committed", value=stats.access_events
        )
        yield CounterMetricFamily(
            "fw_duplicates",
            "Redelivered messages recognised and stored once",
            value=stats.duplicates,
        )
        quarantined = CounterMetricFamily(
            "fw_quarantined", "Payloads rejected into quarantine", labels=["device"]
        )
        for device, count in sorted(stats.quarantined.items()):
            quarantined.add_metric([device], count)
        yield quarantined
        events = CounterMetricFamily(
            "fw_meter_events", "Cumulative-meter resets, rollovers, gaps, jitter", labels=["kind"]
        )
        for kind, count in sorted(stats.meter_events.items()):
            events.add_metric([kind], count)
        yield events
        yield GaugeMetricFamily(
            "fw_queue_depth", "Items waiting for the writer", value=self.writer.queue.qsize()
        )
        yield CounterMetricFamily("fw_commits", "Writer transactions", value=stats.commits)
        yield CounterMetricFamily(
            "fw_commit_seconds", "Time spent committing", value=stats.commit_seconds
        )
        yield GaugeMetricFamily(
            "fw_mqtt_connected",
            "1 while connected to the broker",
            value=int(self.subscriber.connected),
        )
        yield CounterMetricFamily(
            "fw_mqtt_receiver_restarts",
            "MQTT receiver processes that ended unasked and were replaced",
            value=self.subscriber.restarts,
        )
        yield from self._sync()
        yield from self._store()
        yield from self._modbus()
        yield from self._notifications()

    def _notifications(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "fw_notifications_pending",
            "Notifications not yet delivered nor given up",
            value=notify_outbox.counts(self.reader).pending,
        )
        if self.notifier is None:
            return
        stats = self.notifier.stats
        for name, counts, text in (
            ("fw_notifications_sent", stats.sent, "Notifications delivered"),
            ("fw_notifications_failed", stats.failed, "Notifications given up"),
            ("fw_notification_retries", stats.retries, "Failed attempts to be tried again"),
        ):
            family = CounterMetricFamily(name, text, labels=["scheme"])
            for scheme, count in sorted(counts.items()):
                family.add_metric([scheme], count)
            yield family

    def _store(self) -> Iterator[Metric]:
        report = outbox.store_report(self.reader, self.max_size)
        yield GaugeMetricFamily(
            "fw_store_bytes", "Store size: live database pages and the WAL", value=report.size
        )
        if report.max_size is not None:
            yield GaugeMetricFamily("fw_store_max_bytes", "storage.max_size", value=report.max_size)
        yield GaugeMetricFamily(
            "fw_storage_pressure",
            "1 while storage_pressure is active",
            value=int(report.pressure),
        )
        thinned = CounterMetricFamily(
            "fw_thinned", "Rows thinned from the store since it began", labels=["kind"]
        )
        for kind in retention.THINNED_KINDS:
            thinned.add_metric([kind], report.thinned.get(kind, 0))
        yield thinned
        yield CounterMetricFamily(
            "fw_retention_seconds",
            "Time the writer spent on retention slices",
            value=self.writer.stats.retention_seconds,
        )
        yield CounterMetricFamily(
            "fw_retention_errors",
            "Retention slices rolled back",
            value=self.writer.stats.retention_errors,
        )

    def _modbus(self) -> Iterator[Metric]:
        if self.poller is None:
            return
        polls = CounterMetricFamily("fw_modbus_polls", "Modbus meter polls", labels=["device"])
        errors = CounterMetricFamily(
            "fw_modbus_poll_errors", "Failed Modbus polls", labels=["device", "kind"]
        )
        offline = GaugeMetricFamily(
            "fw_modbus_offline", "1 while a meter does not answer", labels=["device"]
        )
        for device in self.poller.devices:
            stats = self.poller.stats(device)
            polls.add_metric([device], stats.polls)
            for kind, count in sorted(stats.errors.items()):
                errors.add_metric([device, kind], count)
            offline.add_metric([device], int(stats.offline))
        yield from (polls, errors, offline)

    def _sync(self) -> Iterator[Metric]:
        unsent = GaugeMetricFamily(
            "fw_unsent", "Records the hub has not acknowledged", labels=["stream"]
        )
        for stream, count in outbox.pending(self.reader).items():
            unsent.add_metric([stream], count)
        yield unsent
        if self.syncer is None:
            return
        last = self.syncer.status.last_ok
        lag = GaugeMetricFamily(
            "fw_sync_lag_seconds", "Seconds since the hub last acknowledged a batch"
        )
        lag.add_metric([], self.clock() - last if last is not None else float("nan"))
        yield lag
        clock = self.syncer.status.clock
        nan = float("nan")
        yield GaugeMetricFamily(
            "fw_clock_offset_seconds",
            "Add to the agent's clock to get the hub's, as measured at the last sync",
            value=clock.offset if clock is not None else nan,
        )
        yield GaugeMetricFamily(
            "fw_sync_round_trip_seconds",
            "Round trip of the last sync; the clock offset is known to within half of it",
            value=clock.round_trip if clock is not None else nan,
        )


def serve_metrics(
    collector: AgentCollector, host: str, port: int
) -> tuple[WSGIServer, threading.Thread] | None:
    """Serve /metrics in a thread; a port already taken is logged, not fatal."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    try:
        return start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        log.warning("metrics: cannot listen on %s:%s (%s); /metrics is off", host, port, error)
        return None
