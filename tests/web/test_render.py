import pytest

from web import render

T0 = 1_795_000_000.0


@pytest.mark.parametrize(
    ("ts", "text"),
    [
        (T0, "2026-11-18T11:06:40.000Z"),
        (T0 + 0.1234, "2026-11-18T11:06:40.123Z"),
        (0.0, "1970-01-01T00:00:00.000Z"),
    ],
)
def test_iso_is_utc_with_milliseconds(ts: float, text: str) -> None:
    assert render.iso(ts) == text


@pytest.mark.parametrize(("ts", "text"), [(T0, "2026-11-18 11:06:40 UTC"), (None, "—")])
def test_when(ts: float | None, text: str) -> None:
    assert render.when(ts) == text


@pytest.mark.parametrize(
    ("ago", "text"),
    [(0, "0 s"), (59.4, "59 s"), (60, "1 min"), (3599, "59 min"), (7200, "2 h"), (90000, "1 d")],
)
def test_age(ago: float, text: str) -> None:
    assert render.age(T0 - ago, T0) == text


def test_age_of_nothing_and_of_the_future() -> None:
    assert (render.age(None, T0), render.age(T0 + 5, T0)) == ("never", "0 s")


@pytest.mark.parametrize(
    ("value", "metric", "text"),
    [
        (-12.25, "temperature", "-12.25 °C"),
        (1234567.0, "energy", "1.23457e+06 kWh"),
        (1.0, "contact", "1"),
        (3.5, "unknown", "3.5"),
        (None, "power", "—"),
    ],
)
def test_quantity(value: float | None, metric: str, text: str) -> None:
    assert render.quantity(value, metric) == text
