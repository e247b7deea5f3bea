"""Cumulative meters at ingest, through the real writer and store (energy.md)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import store
from agent.config import parse_site
from agent.counters import CounterGuard
from agent.writer import Writer
from collector.models import Reading
from rules.engine import Engine
from tests.support.sqlite import connected

T0 = 1_763_900_000.0
SITE = """
site: {{id: plant}}
storage: {{path: "{db}"}}
devices:
  - {{id: m, kind: power_meter, counter: {{max_rate_per_hour: 500, rollover_at: 100000}}}}
  - {{id: w, kind: water_meter}}
"""


def start(db: Path) -> Writer:
    config, _ = parse_site(SITE.format(db=db), env={})
    conn = store.open_store(db, "plant")
    writer = Writer(
        conn,
        Engine.restore([], T0, {}, []),
        commit_interval=0.01,
        guard=CounterGuard(conn, config.device_map()),
    )
    writer.start()
    return writer


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    running = start(tmp_path / "agent.db")
    yield running
    running.stop()


def energy(value: float, minutes: float, device: str = "m") -> Reading:
    metric = "energy" if device == "m" else "water"
    return Reading(device, metric, T0 + minutes * 60, value, T0 + minutes * 60)


def feed(writer: Writer, readings: list[Reading]) -> None:
    for reading in readings:
        writer.submit(reading)
    assert writer.flush()


def rows(writer: Writer, sql: str) -> list[tuple[object, ...]]:
    with connected(writer.conn.execute("PRAGMA database_list").fetchone()[2]) as conn:
        return conn.execute(sql).fetchall()


def test_an_impossible_jump_is_quarantined_not_stored(writer: Writer) -> None:
    # 500 kW at most: +100 kWh in 10 minutes would be 600 kW.
    feed(writer, [energy(1000, 0), energy(1100, 10), energy(1040, 10.5)])
    assert rows(writer, "SELECT value FROM readings ORDER BY ts") == [(1000.0,), (1040.0,)]
    [(reason,)] = rows(writer, "SELECT reason FROM quarantine")
    assert reason == "impossible jump: energy 1000 -> 1100 in 10.0 min, faster than 500/h"


def test_two_readings_that_agree_after_a_jump_are_a_new_meter(writer: Writer) -> None:
    feed(writer, [energy(1000, 0), energy(50_000, 10), energy(50_001, 20)])
    assert rows(writer, "SELECT value FROM readings ORDER BY ts") == [(1000.0,), (50_001.0,)]
    assert rows(writer, "SELECT kind, value, previous FROM meter_events") == [
        ("reset", 50_001.0, 1000.0)
    ]


@pytest.mark.parametrize(
    ("readings", "events"),
    [
        pytest.param([energy(99_990, 0), energy(5, 60)], [("rollover", 5.0)], id="rollover"),
        pytest.param([energy(5_000, 0), energy(12, 60)], [("reset", 12.0)], id="reset"),
        pytest.param([energy(5_000, 0), energy(5_010, 180)], [("gap", 5010.0)], id="gap"),
        pytest.param(
            [energy(3, 0, "w"), energy(2.9995, 5, "w")], [("jitter", 2.9995)], id="jitter"
        ),
        pytest.param([energy(5_000, 0), energy(5_010, 5)], [], id="ordinary"),
    ],
)
def test_meter_events_are_recorded_and_the_reading_kept(
    writer: Writer, readings: list[Reading], events: list[tuple[str, float]]
) -> None:
    feed(writer, readings)
    assert rows(writer, "SELECT kind, value FROM meter_events") == events
    assert len(rows(writer, "SELECT 1 FROM readings")) == len(readings)
    assert writer.stats.meter_events == dict.fromkeys([kind for kind, _ in events], 1)


def test_a_restart_remembers_where_the_meter_was(tmp_path: Path) -> None:
    first = start(tmp_path / "agent.db")
    feed(first, [energy(1000, 0)])
    first.stop()
    first.conn.close()
    second = start(tmp_path / "agent.db")
    feed(second, [energy(1200, 10)])
    second.stop()
    assert rows(second, "SELECT COUNT(*) FROM quarantine") == [(1,)]
