"""The agent process: wires the subscriber, the writer (store + rules), the scheduler and sync."""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType
from wsgiref.simple_server import WSGIServer
from zoneinfo import ZoneInfo

import httpx
import schedule

from agent import actions, downlink, store
from agent.annunciator import Annunciator
from agent.config import ConfigError, SiteConfig, load_site
from agent.counters import CounterGuard
from agent.memory import tune_gc
from agent.metrics import AgentCollector, serve_metrics
from agent.mqtt import Inbound, Subscriber
from agent.notify import Notifier, ScrubSecrets, configured_urls, target
from agent.relay import Relay
from agent.retention import Policy, Retention
from agent.syncer import Syncer
from agent.writer import Tick, Writer
from collector.formats import Availability, build_router
from collector.modbus import ModbusSource, Poller
from rules.actions import Standing
from rules.alarm import Alarm, AlarmChange
from rules.engine import Engine
from sync.client import SyncClient

log = logging.getLogger(__name__)
TICK_SECONDS = 1


def agent_version() -> str:
    try:
        return version("facilitywatch")
    except PackageNotFoundError:
        return "dev"


class Agent:
    def __init__(self, config: SiteConfig, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        # What the agent opened for its parts, closed once they have stopped.
        self._closing: list[sqlite3.Connection | httpx.Client] = []
        self.conn = store.open_store(config.storage.path, config.site.id)
        # The newest applied hub version of the devices, posts and rules wins (agent.downlink).
        config, self.config_version = downlink.effective(self.conn, config, clock())
        self.config = config
        self.engine = Engine.restore(
            list(config.rules),
            clock(),
            store.rule_states(self.conn),
            store.open_alarms(self.conn),
        )
        self.annunciator = Annunciator(
            config.site.id,
            lambda topic, payload, retain: self.subscriber.publish(topic, payload, retain),
            self._look,
        )
        # Its own connection: it plans and records deliveries in transactions of its own.
        self.notifier = Notifier(store.connect(config.storage.path), config, clock=clock)
        self.writer = Writer(
            self.conn,
            self.engine,
            commit_interval=config.storage.commit_interval.total_seconds(),
            guard=CounterGuard(self.conn, config.device_map()),
            on_alarm=self._on_alarm,
            on_reconfigure=self._reconfigured,
            retention=retention(config),
        )
        inbound = Relay if config.mqtt.receiver == "process" else Subscriber
        self.subscriber: Inbound = inbound(
            config.mqtt.url,
            build_router(config.devices, config.site.id, ZoneInfo(config.site.timezone)),
            self.writer.submit_many,
            client_id=config.mqtt.client_id,
            username=config.mqtt.username,
            password=config.mqtt.password,
            keepalive=config.mqtt.keepalive,
            protocol=config.mqtt.protocol,
            clock=clock,
        )
        self._alarm_reader: sqlite3.Connection | None = None
        self.poller = self._poller()
        self.scheduler = schedule.Scheduler()
        self.scheduler.every(TICK_SECONDS).seconds.do(lambda: self.writer.submit(Tick(clock())))
        if config.mqtt.publish_alarms:
            # Its own connection: the annunciator reads from the network thread (on every
            # connection) and the scheduler's (a standing that moved), one at a time.
            self._alarm_reader = store.connect(config.storage.path, readonly=True)
            self.subscriber.on_connected = self.annunciator.republish
            self.scheduler.every(TICK_SECONDS).seconds.do(self.annunciator.refresh)
        self.syncer = self._syncer()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._metrics: WSGIServer | None = None
        self._collector: AgentCollector | None = None

    def _reconfigured(self, config: SiteConfig) -> None:
        """The writer has switched to a hub version (in its thread, after the commit)."""
        self.config = config
        site = config.site
        self.subscriber.reroute(build_router(config.devices, site.id, ZoneInfo(site.timezone)))
        self.notifier.reconfigure(config)
        if self.syncer is not None:
            self.syncer.reconfigured(list(config.devices))
        if _meters(config) != self._meters:
            # Stopping joins the poller's threads: only when the meters changed.
            if self.poller is not None:
                self.poller.stop()
            self.poller = self._poller()
            if self.poller is not None:
                self.poller.start()
            if self._collector is not None:
                self._collector.poller = self.poller

    def _look(self) -> tuple[list[Alarm], dict[str, Standing]]:
        """The open alarms and the standings of their rules, for the annunciator (which
        serialises its calls)."""
        if self._alarm_reader is None:
            return [], {}
        alarms = store.open_alarms(self._alarm_reader)
        held = actions.standings(self._alarm_reader, {a.rule: a for a in alarms}, self.clock())
        return alarms, held

    def _on_alarm(self, change: AlarmChange) -> None:
        if self.config.mqtt.publish_alarms:
            self.annunciator.on_change(change)
        self.notifier.wake(change)

    def _poller(self) -> Poller | None:
        meters = self._meters = _meters(self.config)
        if not meters:
            return None

        def availability(device: str, online: bool) -> None:
            self.writer.submit(Availability(device, online, self.clock()))

        return Poller(meters, self.writer.submit, self.clock, on_availability=availability)

    def _syncer(self) -> Syncer | None:
        hub = self.config.hub
        if hub is None or not hub.token:
            log.warning("no hub token configured: monitoring locally, nothing is synced")
            return None
        http = httpx.Client(base_url=hub.url, timeout=hub.timeout.total_seconds())
        reader = store.connect(self.config.storage.path, readonly=True)
        self._closing += [http, reader]
        return Syncer(
            reader,
            SyncClient(http, hub.token),
            self.writer,
            site=self.config.site.id,
            devices=list(self.config.devices),
            interval=hub.sync_interval.total_seconds(),
            batch_size=hub.batch_size,
            batch_bytes=hub.batch_bytes,
            agent_version=agent_version(),
            site_name=self.config.site.name,
            timezone=self.config.site.timezone,
            clock=self.clock,
            check_config=lambda version, at: downlink.check(self.config, version, at),
            max_size=self.config.storage.max_size,
            max_backoff=hub.max_backoff.total_seconds(),
        )

    def start(self) -> None:
        self.writer.start()
        self.notifier.start()
        self.subscriber.start()
        if self.poller is not None:
            self.poller.start()
        if self.syncer is not None:
            self.syncer.start()
        if self.config.metrics is not None:
            self._start_metrics(self.config.metrics.host, self.config.metrics.port)
        thread = threading.Thread(target=self._run_scheduler, name="fw-scheduler", daemon=True)
        thread.start()
        self._threads.append(thread)
        log.info(
            "agent for site %s: %d devices, %d rules, store %s",
            self.config.site.id,
            len(self.config.devices),
            len(self.config.rules),
            self.config.storage.path,
        )

    def _start_metrics(self, host: str, port: int) -> None:
        reader = store.connect(self.config.storage.path, readonly=True)
        self._closing.append(reader)
        collector = AgentCollector(
            self.writer,
            self.subscriber,
            self.syncer,
            self.poller,
            reader,
            self.clock,
            notifier=self.notifier,
            max_size=self.config.storage.max_size,
        )
        self._collector = collector
        served = serve_metrics(collector, host, port)
        if served is not None:
            self._metrics = served[0]
            log.info("metrics on http://%s:%s/metrics", host, self._metrics.server_port)

    @property
    def metrics_port(self) -> int | None:
        return self._metrics.server_port if self._metrics is not None else None

    def _run_scheduler(self) -> None:
        while not self._stop.wait(0.2):
            self.scheduler.run_pending()

    def stop(self) -> None:
        self._stop.set()
        if self._metrics is not None:
            self._metrics.shutdown()
            self._metrics.server_close()
        self.subscriber.stop()
        if self.poller is not None:
            self.poller.stop()
        if self.syncer is not None:
            self.syncer.stop()
        for thread in self._threads:
            thread.join(5)
        self.writer.stop()
        self.notifier.stop()
        self.notifier.conn.close()
        self.conn.close()
        if self._alarm_reader is not None:
            self._alarm_reader.close()
        for opened in self._closing:
            opened.close()

    def wait(self) -> None:
        self._stop.wait()

    def request_stop(self) -> None:
        self._stop.set()


def _meters(config: SiteConfig) -> list[tuple[str, ModbusSource]]:
    return [(d.id, d.source) for d in config.devices if isinstance(d.source, ModbusSource)]


def retention(config: SiteConfig) -> Retention:
    """The retention job of the site's store; with a hub, the next sync batch is never thinned."""
    storage, hub = config.storage, config.hub
    policy = Policy(
        max_size=storage.max_size,
        keep_raw=storage.keep_raw.total_seconds(),
        keep_rollups=storage.keep_rollups.total_seconds(),
        protect=hub.batch_size if hub is not None else 0,
    )
    return Retention(policy, config.site.id, hub=hub is not None, post=storage.post)


def scrub_logs(config: SiteConfig) -> None:
    """Keep the secrets of the notify URLs out of the log, whichever library writes them."""
    scrub = ScrubSecrets(s for url in configured_urls(config) for s in target(url).secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(scrub)


def run_from_config(path: Path) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # pymodbus logs every failed poll at ERROR; the poller counts them (/metrics) and raises
    # the meter's offline alarm, so its own log lines would only repeat that, every interval.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    # apprise's own lines name the services it reaches, at DEBUG with their URLs' paths; the
    # notifier logs every outcome itself, with the URL redacted. Not propagating, rather than
    # raising its level, keeps the warnings apprise captures per send, which become last_error.
    logging.getLogger("apprise").propagate = False
    try:
        config, warnings = load_site(path)
    except ConfigError as error:
        for line in error.errors:
            log.error("%s: %s", path, line)
        return 2
    for warning in warnings:
        log.warning("%s: %s", path, warning)
    scrub_logs(config)
    try:
        agent = Agent(config)
    except store.StoreError as error:
        log.error("%s", error)
        return 2

    def on_signal(signum: int, frame: FrameType | None) -> None:
        agent.request_stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    tune_gc()
    agent.start()
    agent.wait()
    log.info("stopping")
    agent.stop()
    return 0
