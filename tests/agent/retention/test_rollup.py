"""Hourly rollups: what an hour of a series keeps, and how rollups of one hour combine."""

from __future__ import annotations

import pytest

from agent.retention.rollup import Rollup, combine, hour_of, roll_up

H = 1_763_899_200.0  # a whole UTC hour


@pytest.mark.parametrize(
    ("ts", "hour"),
    [(H, H), (H + 0.5, H), (H + 3599.99, H), (H + 3600, H + 3600), (H - 1, H - 3600)],
)
def test_an_hour_starts_on_the_utc_hour(ts: float, hour: float) -> None:
    assert hour_of(ts) == hour


def test_readings_become_one_rollup_per_series_and_hour() -> None:
    rows = [
        ("m", "energy", H + 10, 100.0),
        ("f", "temperature", H + 20, -18.0),
        ("m", "energy", H + 3000, 104.5),
        ("m", "energy", H + 1000, 101.0),  # out of order: first and last go by time
        ("f", "temperature", H + 30, -16.0),
        ("m", "energy", H + 3700, 105.0),
    ]
    assert roll_up(rows) == [
        Rollup("m", "energy", H, 3, 100.0, 104.5, 305.5, H + 10, 100.0, H + 3000, 104.5),
        Rollup("f", "temperature", H, 2, -18.0, -16.0, -34.0, H + 20, -18.0, H + 30, -16.0),
        Rollup("m", "energy", H + 3600, 1, 105.0, 105.0, 105.0, H + 3700, 105.0, H + 3700, 105.0),
    ]


def test_rollups_of_one_hour_combine_into_the_rollup_of_all_its_readings() -> None:
    rows = [("w", "water", H + s, float(v)) for s, v in [(5, 7), (900, 9), (60, 8), (3000, 12)]]
    parts = [roll_up(rows[:1])[0], roll_up(rows[1:3])[0], roll_up(rows[3:])[0]]
    whole = roll_up(rows)[0]
    assert (combine(combine(parts[0], parts[1]), parts[2]), combine(parts[2], parts[0])) == (
        whole,
        roll_up([rows[0], rows[3]])[0],
    )


def test_consumption_of_a_cumulative_meter_survives_its_rollups() -> None:
    meter = [("m", "energy", H + 600 * i, 1000.0 + 2.5 * i) for i in range(13)]
    rollups = roll_up(meter)
    within = sum(r.last - r.first for r in rollups)
    across = rollups[1].first - rollups[0].last + rollups[2].first - rollups[1].last
    assert within + across == meter[-1][3] - meter[0][3] == 30.0
