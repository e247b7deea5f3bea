"""Cumulative meters at ingest: an impossible jump is quarantined, never stored as a reading;
resets, rollovers, gaps and jitter are stored and recorded as meter events (energy.md).

The state per meter is the last value counting continues from; it is read from the store the
first time a meter is seen after a start, so a restart does not forget it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from collector.config import DeviceConfig
from collector.counter import CounterCheck, OutOfOrder, Verdict, check
from collector.models import METRICS, Reading, Rejection


@dataclass(frozen=True, slots=True)
class MeterEvent:
    device: str
    metric: str
    ts: float
    kind: str
    value: float
    previous: float | None


class CounterGuard:
    def __init__(self, conn: sqlite3.Connection, devices: Mapping[str, DeviceConfig]) -> None:
        self.conn = conn
        self.devices = dict(devices)
        self._state: dict[tuple[str, str], CounterCheck | None] = {}
        # A rejected jump that the next reading agrees with was a new meter, not a spike.
        self._suspect: dict[tuple[str, str], CounterCheck] = {}

    def forget(self) -> None:
        """After a rolled-back batch: read the state from the store again."""
        self._state.clear()
        self._suspect.clear()

    def forget_meter(self, device: str, metric: str) -> None:
        """Readings of this meter were stored behind our back (``import-readings``): count on
        from whatever is now the latest in the store."""
        self._state.pop((device, metric), None)
        self._suspect.pop((device, metric), None)

    def judge(self, reading: Reading) -> Rejection | MeterEvent | None:
        """None: store it, nothing to note. MeterEvent: store it and record the event.
        Rejection: quarantine it."""
        spec = METRICS.get(reading.metric)
        device = self.devices.get(reading.device)
        if spec is None or not spec.cumulative or device is None:
            return None
        key = (reading.device, reading.metric)
        previous = self._load(key)
        try:
            verdict = self._check(device, previous, reading)
        except OutOfOrder:
            return None  # a late reading: stored, but counting goes on from the latest
        if verdict.kind == "spike":
            return self._spike(device, key, previous, reading)
        self._state[key] = verdict.state
        self._suspect.pop(key, None)
        if verdict.kind == "ok":
            return None
        return MeterEvent(
            reading.device,
            reading.metric,
            reading.ts,
            verdict.kind,
            reading.value,
            previous.value if previous else None,
        )

    def _spike(
        self,
        device: DeviceConfig,
        key: tuple[str, str],
        previous: CounterCheck | None,
        reading: Reading,
    ) -> Rejection | MeterEvent:
        suspect = self._suspect.get(key)
        if suspect is not None and reading.ts >= suspect.ts:
            after = self._check(device, suspect, reading)
            if after.kind != "spike":
                self._state[key] = after.state
                del self._suspect[key]
                old = previous.value if previous else None
                return MeterEvent(*key, reading.ts, "reset", reading.value, old)
        self._suspect[key] = CounterCheck(reading.value, reading.ts)
        assert previous is not None  # a first reading is never a spike
        hours = max(reading.ts - previous.ts, 0.0) / 3600
        reason = (
            f"impossible jump: {reading.metric} {previous.value:g} -> {reading.value:g} in "
            f"{hours * 60:.1f} min, faster than {device.counter.max_rate_per_hour:g}/h"
        )
        return Rejection(
            f"meter/{reading.device}/{reading.metric}",
            f"{reading.value!r}".encode(),
            reason,
            reading.received_at,
            reading.device,
        )

    def _check(self, device: DeviceConfig, previous: CounterCheck | None, r: Reading) -> Verdict:
        spec = device.counter
        return check(
            previous,
            r.value,
            r.ts,
            max_rate_per_hour=spec.max_rate_per_hour,
            rollover_at=spec.rollover_at,
            jitter=spec.jitter,
        )

    def _load(self, key: tuple[str, str]) -> CounterCheck | None:
        if key not in self._state:
            row = self.conn.execute(
                "SELECT value, ts FROM readings WHERE device = ? AND metric = ?"
                " ORDER BY ts DESC LIMIT 1",
                key,
            ).fetchone()
            self._state[key] = CounterCheck(row[0], row[1]) if row else None
        return self._state[key]
