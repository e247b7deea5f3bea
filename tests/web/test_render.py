import pytest

from web import render

T0 = 1_795_000_000.0


@pytest.mark.parametrize(
    ("ts", "zone", "text"),
    [
        (T0, None, "2026-11-18 11:06:40 UTC"),
        (T0, "Asia/Shanghai", "2026-11-18 19:06:40 CST"),
        (T0, "Europe/London", "2026-11-18 11:06:40 GMT"),
        (T0, "Not/AZone", "2026-11-18 11:06:40 UTC"),
        (None, "Asia/Shanghai", "—"),
    ],
)
def test_when_is_the_sites_local_time(ts: float | None, zone: str | None, text: str) -> None:
    assert render.when(ts, zone) == text


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
        (-18.0, "temperature", "-18 °C"),
        (1234567.4, "energy", "1,234,567 kWh"),
        (48215.43, "water", "48,215 m³"),
        (328528.7, "power", "328,529 W"),
        (157.26, "power", "157.3 W"),
        (0.005, "water", "0.01 m³"),
        (0.0, "power", "0 W"),
        (1.0, "contact", "open"),
        (0.0, "contact", "closed"),
        (3.5, "unknown", "3.5"),
        (None, "power", "—"),
    ],
)
def test_quantity(value: float | None, metric: str, text: str) -> None:
    assert render.quantity(value, metric) == text
