"""Excursion records in the agent's store: written by the writer in the transaction that saves the
drained rule state (once, across restarts and rolled-back batches), read back for people on site
(``agent excursions``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from agent import store
from agent.cli import main
from agent.coldchain import excursion_line, ongoing_excursions, recent_excursions
from agent.config import SiteConfig, parse_site
from agent.writer import Tick, Writer
from collector.models import Reading
from rules.engine import Engine
from rules.excursion import DoorEvent, ExcursionRecord
from rules.kinds import dump_state
from tests.support.sqlite import connected

T0 = 1_763_900_000.0  # 2025-11-23T12:13:20Z
M = 60.0
SITE = """
site: {{id: clinic}}
storage: {{path: "{db}"}}
devices:
  - {{id: fridge-1, kind: temperature}}
  - {{id: fridge-1-door, kind: door}}
  - {{id: fridge-2, kind: temperature}}
rules:
  - {{id: vaccines, type: excursion, device: fridge-1, low: 2, high: 8, doors: [fridge-1-door],
     triggers: [{{at_or_below: -0.5, for: 60m}}, {{above: 8, total: 10h, within: 30d}}]}}
  - {{id: vaccines-2, type: excursion, device: fridge-2, low: 2, high: 8,
     triggers: [{{above: 8, for: 30m}}]}}
"""


@pytest.fixture
def config(tmp_path: Path) -> SiteConfig:
    parsed, _ = parse_site(SITE.format(db=tmp_path / "agent.db"), env={})
    return parsed


def start(config: SiteConfig) -> Writer:
    conn = store.open_store(config.storage.path, "clinic")
    states, alarms = store.rule_states(conn), store.open_alarms(conn)
    engine = Engine.restore(list(config.rules), T0, states, alarms)
    writer = Writer(conn, engine, commit_interval=0.01)
    writer.start()
    return writer


def stop(writer: Writer) -> None:
    writer.stop()
    writer.conn.close()


def temp(minutes: float, value: float, device: str = "fridge-1") -> Reading:
    at = T0 + minutes * M
    return Reading(device, "temperature", at, value, at)


def door(minutes: float, value: float) -> Reading:
    at = T0 + minutes * M
    return Reading("fridge-1-door", "contact", at, value, at)


def feed(writer: Writer, readings: list[Reading]) -> None:
    for reading in readings:
        writer.submit(reading)
    assert writer.flush()


def kept(config: SiteConfig) -> list[tuple[int, ExcursionRecord]]:
    with connected(config.storage.path) as conn:
        return recent_excursions(conn, limit=100)


def record(
    start: float, end: float, lowest: float, highest: float, **fields: object
) -> ExcursionRecord:
    base: dict[str, object] = {
        "rule": "vaccines",
        "device": "fridge-1",
        "metric": "temperature",
        "ended_by": "range",
    }
    return ExcursionRecord(
        **base | fields,  # type: ignore[arg-type]
        start=T0 + start * M,
        end=T0 + end * M,
        lowest=lowest,
        highest=highest,
    )


WARM = [temp(0, 5), door(5, 1), temp(10, 9), door(12, 0), temp(30, 10.5), temp(50, 5)]
WARM_RECORD = record(
    10,
    50,
    9,
    10.5,
    doors=(
        DoorEvent("fridge-1-door", T0 + 5 * M, True),
        DoorEvent("fridge-1-door", T0 + 12 * M, False),
    ),
)


def test_a_completed_excursion_is_stored_once_with_its_doors(config: SiteConfig) -> None:
    writer = start(config)
    feed(writer, [*WARM, temp(60, 5), door(70, 1)])
    writer.submit(Tick(T0 + 80 * M))
    assert writer.flush()
    stop(writer)
    assert kept(config) == [(1, WARM_RECORD)]
    with connected(config.storage.path) as conn:
        assert store.rule_states(conn)["vaccines"].done == ()


def test_an_excursion_going_on_at_a_restart_is_recorded_once_and_whole(
    config: SiteConfig,
) -> None:
    writer = start(config)
    feed(writer, WARM[:4])
    stop(writer)
    with connected(config.storage.path) as conn:
        going = ongoing_excursions(conn, config.rules)
    assert (kept(config), [x.start for x in going]) == ([], [T0 + 10 * M])
    again = start(config)
    feed(again, WARM[4:])
    stop(again)
    third = start(config)
    feed(third, [temp(60, 5)])
    stop(third)
    assert kept(config) == [(1, WARM_RECORD)]


def test_a_rolled_back_batch_neither_loses_nor_repeats_a_record(config: SiteConfig) -> None:
    writer = start(config)
    feed(writer, WARM[:-1])
    # A lone surrogate cannot be stored: its batch rolls back and is retried entry by entry.
    writer.submit(WARM[-1])
    writer.submit(Reading("fridge-2", "temp\ud800", T0, 1.0, T0 + 50 * M))
    assert writer.flush()
    stop(writer)
    with connected(config.storage.path) as conn:
        quarantined = conn.execute("SELECT topic FROM quarantine").fetchall()
    assert (kept(config), quarantined) == ([(1, WARM_RECORD)], [("internal/Reading",)])


def test_records_an_older_agent_left_in_a_state_are_taken_at_the_first_commit(
    config: SiteConfig,
) -> None:
    engine = Engine(list(config.rules), T0)
    for reading in WARM:
        engine.on_series(reading.device, reading.metric, [reading.value], reading.received_at)
    with store.open_store(config.storage.path, "clinic") as conn:
        conn.execute(
            "INSERT INTO rule_states (rule, state) VALUES ('vaccines', ?)",
            (dump_state(engine.states["vaccines"]),),
        )
    writer = start(config)
    writer.submit(Tick(T0 + 51 * M))  # changes nothing: the state is the one loaded
    assert writer.flush()
    stop(writer)
    assert kept(config) == [(1, WARM_RECORD)]


def test_the_latest_come_first_and_a_device_filters(config: SiteConfig) -> None:
    writer = start(config)
    feed(writer, [*WARM, temp(100, 9, "fridge-2"), temp(130, 4, "fridge-2")])
    stop(writer)
    with connected(config.storage.path) as conn:
        everything = [r.rule for _, r in recent_excursions(conn, limit=10)]
        one = [r.rule for _, r in recent_excursions(conn, limit=10, device="fridge-1")]
        latest = [r.rule for _, r in recent_excursions(conn, limit=1)]
    assert (everything, one, latest) == (["vaccines-2", "vaccines"], ["vaccines"], ["vaccines-2"])


def test_a_line_for_a_person() -> None:
    assert excursion_line(WARM_RECORD) == (
        "fridge-1 temperature 2025-11-23T12:23:20.000Z to 2025-11-23T13:03:20.000Z (40m),"
        " lowest 9, highest 10.5, back in range [vaccines];"
        " doors: fridge-1-door opened 2025-11-23T12:18:20.000Z,"
        " fridge-1-door closed 2025-11-23T12:25:20.000Z"
    )


def test_agent_excursions_lists_the_store(config: SiteConfig, tmp_path: Path) -> None:
    writer = start(config)
    feed(writer, [*WARM, temp(100, 9, "fridge-2")])
    stop(writer)
    path = tmp_path / "site.yaml"
    path.write_text(SITE.format(db=config.storage.path))
    result = CliRunner().invoke(main, ["agent", "excursions", str(path), "--device", "fridge-1"])
    assert (result.exit_code, result.output.splitlines()) == (
        0,
        [
            "excursions: 1 shown (newest first)",
            f"  #1 {excursion_line(WARM_RECORD)}",
            "going on: 0",
        ],
    )
    going = CliRunner().invoke(main, ["agent", "excursions", str(path)])
    assert going.output.splitlines()[-2:] == [
        "going on: 1",
        "  fridge-2 temperature 2025-11-23T13:53:20.000Z to 2025-11-23T13:53:20.000Z (0s),"
        " lowest 9, highest 9, going on [vaccines-2]",
    ]


def test_agent_excursions_without_a_store_says_so(config: SiteConfig, tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(SITE.format(db=config.storage.path))
    result = CliRunner().invoke(main, ["agent", "excursions", str(path)])
    assert result.exit_code == 1
