"""``facilitywatch agent import-readings``: hand-read meters into the agent's store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from agent import store
from agent.cli import main
from tests.support.site import site_yaml
from tests.support.sqlite import connected

OCT_1 = datetime.fromisoformat("2026-10-01T08:00+08:00").timestamp()
NOV_1 = datetime.fromisoformat("2026-11-01T08:00+08:00").timestamp()
HEADER = "device,time,value,metric,replacement\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The test clinic (Asia/Shanghai) with a hand-read water meter, and a store that already
    holds a water reading from October, as the running agent would have left it."""
    yaml = site_yaml(tmp_path / "agent.db", "mqtt://127.0.0.1:1883").replace(
        "posts:", "  - {id: water-1, name: Main water, kind: water_meter}\nposts:"
    )
    path = tmp_path / "site.yaml"
    path.write_text(yaml)
    conn = store.open_store(tmp_path / "agent.db", "clinic")
    conn.execute(
        "INSERT INTO readings (device, metric, ts, value, received_at) VALUES (?, ?, ?, ?, ?)",
        ("water-1", "water", OCT_1, 120.0, OCT_1),
    )
    conn.close()
    return path


def run(config: Path, text: str) -> Result:
    csv = config.parent / "readings.csv"
    csv.write_text(text, encoding="utf-8")
    return CliRunner().invoke(main, ["agent", "import-readings", str(config), str(csv)])


def stored(config: Path) -> list[tuple[int, str, str, float, float]]:
    with connected(config.parent / "agent.db") as conn:
        rows = conn.execute("SELECT id, device, metric, ts, value FROM readings ORDER BY id")
        return rows.fetchall()


def test_good_rows_are_stored_as_ordinary_readings(config: Path) -> None:
    result = run(
        config,
        HEADER + "water-1,2026-11-01T08:00,130.5,,\nmain-meter,2026-11-01T00:00Z,5021.5,energy,\n",
    )
    assert (result.exit_code, result.output) == (0, "2 stored, 0 rejected\n")
    # New row ids after the agent's: the syncer sends them to the hub like any other reading.
    assert stored(config)[1:] == [
        (2, "water-1", "water", NOV_1, 130.5),
        (3, "main-meter", "energy", NOV_1, 5021.5),
    ]


BAD: list[tuple[str, str]] = [
    ("pump-9,2026-11-01T08:00,1,,", "unknown device 'pump-9'"),
    ("water-1,1/11/2026,131,,", "time '1/11/2026' is not ISO 8601 (2026-11-01T08:30+08:00)"),
    (
        "water-1,2026-11-01T08:00,lots,,",
        "value 'lots' is not a number (use a point, no separators)",
    ),
    ("water-1,2026-11-01T08:00,inf,,", "value 'inf' is not finite"),
    ("water-1,2026-11-01T08:00,-5,,yes", "water -5 m³ is outside 0..1e+12"),
    (
        "water-1,2026-11-01T08:00,110,,",
        "value 110 is lower than the previous reading 120 at 2026-10-01T08:00:00+08:00; "
        "mark the row as a replacement if the meter was replaced",
    ),
    ("water-1,2026-10-01T08:00,120,,", "water-1 water already has a reading at that time"),
]


@pytest.mark.parametrize(("row", "reason"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_row_is_reported_with_its_line_and_the_rest_stored(
    config: Path, row: str, reason: str
) -> None:
    result = run(config, HEADER + "water-1,2026-11-01T09:00,131,,\n" + row + "\n")
    csv = config.parent / "readings.csv"
    assert result.exit_code == 1
    assert result.output == f"1 stored, 1 rejected\n{csv}:3: {reason}\n"
    assert [row[1:] for row in stored(config)][1:] == [("water-1", "water", NOV_1 + 3600, 131.0)]


def test_a_lower_value_is_taken_when_marked_as_a_replacement(config: Path) -> None:
    result = run(config, HEADER + "water-1,2026-11-01T08:00,3.2,,yes\n")
    assert (result.exit_code, result.output) == (0, "1 stored, 0 rejected\n")
    assert stored(config)[-1][3:] == (NOV_1, 3.2)


def test_rows_are_checked_in_file_order_against_the_rows_before_them(config: Path) -> None:
    result = run(
        config,
        "device,time,value,replacement\n"
        "water-1,2026-11-01T08:00,130,\n"
        "water-1,2026-11-02T08:00,125,\n"
        "water-1,2026-11-03T08:00,0.5,true\n"
        "water-1,2026-11-04T08:00,1.5,\n",
    )
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "3 stored, 1 rejected"
    assert ":3: value 125 is lower than the previous reading 130 at 2026-11-01" in result.output
    assert [row[4] for row in stored(config)] == [120.0, 130.0, 0.5, 1.5]


def test_a_file_without_the_columns_stores_nothing(config: Path) -> None:
    result = run(config, "meter,reading\nwater-1,130\n")
    assert result.exit_code == 2
    assert "line 1: unknown column 'meter'" in result.output
    assert "nothing stored" in result.output
    assert len(stored(config)) == 1


def test_the_import_checks_against_what_the_running_agent_committed(config: Path) -> None:
    writer = store.connect(config.parent / "agent.db")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO readings (device, metric, ts, value, received_at) VALUES (?, ?, ?, ?, ?)",
        ("water-1", "water", NOV_1, 140.0, NOV_1),
    )
    writer.execute("COMMIT")
    writer.close()
    result = run(config, HEADER + "water-1,2026-11-02T08:00,139,,\n")
    assert "lower than the previous reading 140" in result.output


def test_the_help_says_valid_rows_are_stored_even_when_others_are_not() -> None:
    result = CliRunner().invoke(main, ["agent", "import-readings", "--help"])
    assert result.exit_code == 0
    assert "valid rows are stored even when others are rejected" in " ".join(result.output.split())


def queued(config: Path) -> list[int]:
    with connected(config.parent / "agent.db") as conn:
        return [row[0] for row in conn.execute("SELECT reading FROM import_queue ORDER BY 1")]


def test_the_stored_rows_are_queued_for_the_rules(config: Path) -> None:
    result = run(config, HEADER + "water-1,2026-11-01T08:00,130,,\npump-9,2026-11-01T08:00,1,,\n")
    assert result.exit_code == 1
    assert queued(config) == [row[0] for row in stored(config)[1:]] == [2]


def test_a_replacement_is_recorded_as_a_meter_event(config: Path) -> None:
    result = run(
        config,
        "device,time,value,replacement\n"
        "water-1,2026-11-03T08:00,0.5,yes\n"
        "water-1,2026-11-02T08:00,130,\n"
        "water-1,2026-11-04T08:00,2.5,yes\n",
    )
    assert (result.exit_code, result.output) == (0, "3 stored, 0 rejected\n")
    with connected(config.parent / "agent.db") as conn:
        events = conn.execute(
            "SELECT device, metric, ts, kind, value, previous FROM meter_events ORDER BY id"
        ).fetchall()
    # Each with the reading just before it in time, from this file or the store.
    assert events == [
        ("water-1", "water", NOV_1 + 2 * 86400, "replacement", 0.5, 130.0),
        ("water-1", "water", NOV_1 + 3 * 86400, "replacement", 2.5, 0.5),
    ]


def test_a_store_that_is_not_a_database_is_reported_without_a_traceback(config: Path) -> None:
    (config.parent / "agent.db").write_bytes(b"not sqlite " * 100)
    result = run(config, HEADER + "water-1,2026-11-01T08:00,130,,\n")
    assert (result.exit_code, result.output) == (
        2,
        f"{config.parent / 'agent.db'}: file is not a database; nothing stored\n",
    )
