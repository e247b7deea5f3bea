import pytest

from sync.clock import describe, measure
from sync.protocol import ClockReport

T0 = 1_795_000_000.0


@pytest.mark.parametrize(
    ("sent", "received", "server_time", "offset", "round_trip"),
    [
        pytest.param(T0, T0 + 0.2, T0 + 0.1, 0.0, 0.2, id="in step"),
        pytest.param(T0, T0 + 0.2, T0 + 120.1, 120.0, 0.2, id="agent behind"),
        pytest.param(T0, T0 + 2.0, T0 - 89.0, -90.0, 2.0, id="agent ahead, slow sync"),
        # The agent's clock stepped back during the request: no negative round trip.
        pytest.param(T0, T0 - 0.5, T0, 0.25, 0.0, id="clock stepped back"),
    ],
)
def test_measure_takes_the_midpoint_of_the_request(
    sent: float, received: float, server_time: float, offset: float, round_trip: float
) -> None:
    report = measure(sent, received, server_time)
    # Unix seconds keep about a microsecond of precision.
    assert report.offset == pytest.approx(offset, abs=1e-6)
    assert report.round_trip == pytest.approx(round_trip, abs=1e-6)
    assert report.measured_at == received


@pytest.mark.parametrize(
    ("report", "text"),
    [
        (None, "not measured yet (no sync acknowledged)"),
        (
            ClockReport(offset=0.4125, round_trip=0.006, measured_at=T0),
            "0.412 s behind the hub (± 0.003 s, measured 2026-11-18T11:06:40Z)",
        ),
        (
            ClockReport(offset=-95.0, round_trip=1.0, measured_at=T0),
            "95.000 s ahead of the hub (± 0.500 s, measured 2026-11-18T11:06:40Z)",
        ),
    ],
)
def test_describe(report: ClockReport | None, text: str) -> None:
    assert describe(report) == text
