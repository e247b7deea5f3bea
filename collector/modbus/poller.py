"""Polling Modbus meters on their intervals: readings out, counters kept, offline meters marked.

Each meter has its own thread, so a meter that times out (timeout × retries) never delays
another. ``poll_once`` is the unit of work; the loops around it never raise.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from collector.modbus.client import Reader, open_reader
from collector.modbus.decode import plan_reads, values_from
from collector.modbus.errors import ModbusError
from collector.modbus.registers import ModbusSource, RegisterSpec
from collector.models import METRICS, Reading

__all__ = [
    "MeterStats",
    "Poller",
    "after_failure",
    "after_success",
    "read_values",
    "readings_from",
]

log = logging.getLogger(__name__)

Clock = Callable[[], float]
ReaderFactory = Callable[[ModbusSource], Reader]
Availability = Callable[[str, bool], None]

OFFLINE_AFTER = 3


@dataclass(frozen=True, slots=True)
class MeterStats:
    polls: int = 0
    errors: Mapping[str, int] = field(default_factory=dict)
    consecutive_failures: int = 0
    last_ok: float | None = None
    offline: bool = False


def _counted(errors: Mapping[str, int], kind: str, n: int = 1) -> dict[str, int]:
    return {**errors, kind: errors.get(kind, 0) + n} if n else dict(errors)


def after_failure(stats: MeterStats, kind: str, offline_after: int = OFFLINE_AFTER) -> MeterStats:
    failures = stats.consecutive_failures + 1
    return replace(
        stats,
        polls=stats.polls + 1,
        errors=_counted(stats.errors, kind),
        consecutive_failures=failures,
        offline=stats.offline or failures >= offline_after,
    )


def after_success(stats: MeterStats, now: float, bad_values: int = 0) -> MeterStats:
    return replace(
        stats,
        polls=stats.polls + 1,
        errors=_counted(stats.errors, "value", bad_values),
        consecutive_failures=0,
        last_ok=now,
        offline=False,
    )


def read_values(reader: Reader, registers: Sequence[RegisterSpec]) -> dict[str, float]:
    """Read and decode ``registers`` in as few requests as the plan allows."""
    answers = [(r, reader.read(r.register_type, r.start, r.count)) for r in plan_reads(registers)]
    return values_from(registers, answers)


def readings_from(
    device: str, registers: Iterable[RegisterSpec], values: Mapping[str, float], now: float
) -> tuple[list[Reading], list[str]]:
    """Readings for the metered registers, and the names of those whose value is impossible."""
    readings: list[Reading] = []
    bad: list[str] = []
    for spec in registers:
        value = values.get(spec.name)
        if spec.metric is None or value is None:
            continue
        limits = METRICS[spec.metric]
        if math.isfinite(value) and limits.low <= value <= limits.high:
            readings.append(Reading(device, spec.metric, now, value, now))
        else:
            bad.append(spec.name)
    return readings, bad


class Poller:
    def __init__(
        self,
        meters: Sequence[tuple[str, ModbusSource]],
        submit: Callable[[Reading], None],
        clock: Clock = time.time,
        reader_factory: ReaderFactory = open_reader,
        *,
        on_availability: Availability | None = None,
        offline_after: int = OFFLINE_AFTER,
    ) -> None:
        self._meters = dict(meters)
        if len(self._meters) != len(meters):
            raise ValueError("a device id appears twice among the Modbus meters")
        self._submit = submit
        self._clock = clock
        self._factory = reader_factory
        self._on_availability = on_availability
        self._offline_after = offline_after
        self._stats = {device: MeterStats() for device in self._meters}
        self._readers: dict[str, Reader] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def devices(self) -> list[str]:
        return list(self._stats)

    def stats(self, device: str) -> MeterStats:
        with self._lock:
            return self._stats[device]

    @property
    def offline(self) -> frozenset[str]:
        with self._lock:
            return frozenset(d for d, s in self._stats.items() if s.offline)

    def poll_once(self, device: str) -> list[Reading]:
        """Read one meter, submit its valid readings and return them; failures are counted."""
        registers = self._meters[device].register_map.metered
        now = self._clock()
        try:
            values = read_values(self._reader(device), registers)
        except ModbusError as exc:
            log.debug("modbus %s: %s", device, exc)
            kind = exc.kind
            self._update(device, lambda s: after_failure(s, kind, self._offline_after))
            return []
        readings, bad = readings_from(device, registers, values, now)
        if bad:
            log.warning("modbus %s: impossible values skipped: %s", device, ", ".join(bad))
        self._update(device, lambda s: after_success(s, now, len(bad)))
        for reading in readings:
            self._submit(reading)
        return readings

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("the Modbus poller is already running")
        self._stopping.clear()
        for device in self._meters:
            thread = threading.Thread(target=self._run, args=(device,), name=f"modbus-{device}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def _reader(self, device: str) -> Reader:
        if device not in self._readers:
            self._readers[device] = self._factory(self._meters[device])
        return self._readers[device]

    def _update(self, device: str, change: Callable[[MeterStats], MeterStats]) -> None:
        with self._lock:
            before = self._stats[device]
            after = self._stats[device] = change(before)
        if before.offline != after.offline:
            log.warning("modbus %s is %s", device, "offline" if after.offline else "back online")
            if self._on_availability is not None:
                self._on_availability(device, not after.offline)

    def _run(self, device: str) -> None:
        interval = self._meters[device].interval.total_seconds()
        due = time.monotonic()
        while not self._stopping.is_set():
            try:
                self.poll_once(device)
            except Exception:  # a failing submit or callback must not end the meter's loop
                log.exception("modbus %s: poll failed", device)
                self._update(device, lambda s: replace(s, errors=_counted(s.errors, "internal")))
            now = time.monotonic()
            # Missed slots are skipped, not caught up in a burst.
            due += interval * max(1, math.ceil((now - due) / interval))
            self._stopping.wait(max(0.0, due - now))
