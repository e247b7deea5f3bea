"""The one JSON time format: the hub's API and the agent's MQTT alarm states."""

import pytest

from collector.timestamps import iso

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
    assert iso(ts) == text
