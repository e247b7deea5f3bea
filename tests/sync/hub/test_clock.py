import pytest
from sqlalchemy import select

from sync.hub import alarms, board, query, schema
from sync.hub.clock import CLEAR_AT, RAISE_AT, out_of_step
from sync.hub.db import HubDB
from sync.hub.ingest import apply_batch
from sync.protocol import ClockReport
from tests.hubfixtures import T0, batch, reading


def report(offset: float, round_trip: float = 0.1) -> ClockReport:
    return ClockReport(offset=offset, round_trip=round_trip, measured_at=T0)


@pytest.mark.parametrize(
    ("offset", "round_trip", "raised", "after"),
    [
        pytest.param(0.2, 0.1, False, False, id="in step"),
        pytest.param(RAISE_AT + 1, 0.1, False, True, id="over: raise"),
        pytest.param(-(RAISE_AT + 1), 0.1, False, True, id="ahead, over: raise"),
        pytest.param(RAISE_AT, 0.1, False, False, id="at the limit: not yet"),
        pytest.param(RAISE_AT + 1, 4.0, False, False, id="over, but maybe not: slow sync"),
        pytest.param(45.0, 0.1, True, True, id="between: stays raised"),
        pytest.param(45.0, 0.1, False, False, id="between: stays clear"),
        pytest.param(CLEAR_AT - 1, 0.1, True, False, id="within: clear"),
        pytest.param(CLEAR_AT - 1, 4.0, True, True, id="within, but maybe not: slow sync"),
        pytest.param(-(CLEAR_AT - 1), 0.1, True, False, id="ahead, within: clear"),
    ],
)
def test_out_of_step_with_a_deadband_and_the_round_trip(
    offset: float, round_trip: float, raised: bool, after: bool
) -> None:
    assert out_of_step(report(offset, round_trip), raised) is after


def sync(hubdb: HubDB, seq: int, offset: float | None, at: float) -> None:
    clock = None if offset is None else report(offset)
    sent = batch(readings=[reading(seq)], after=seq - 1).model_copy(update={"clock": clock})
    apply_batch(hubdb, "clinic", sent, at)


def clock_alarms(hubdb: HubDB) -> list[tuple[str, str, int, str]]:
    found = [h.alarm for h in query.alarms(hubdb) if h.alarm.rule == "clock_offset"]
    return [(a.device, a.state, a.activations, a.message) for a in found]


def history(hubdb: HubDB) -> list[tuple[int, str, float]]:
    e = schema.alarm_events
    with hubdb.read() as conn:
        rows = conn.execute(select(e).where(e.c.seq < 0).order_by(e.c.seq.desc()))
        return [(row.seq, row.kind, row.at) for row in rows]


def test_a_clock_far_off_raises_clock_offset_until_it_is_back_in_step(hubdb: HubDB) -> None:
    sync(hubdb, 1, None, T0)
    sync(hubdb, 2, 0.5, T0 + 1)
    assert clock_alarms(hubdb) == []
    sync(hubdb, 3, 95.0, T0 + 2)
    message = "the clock of site clinic's agent is 95 s behind the hub's"
    assert clock_alarms(hubdb) == [("clinic", "unacknowledged", 1, message)]
    sync(hubdb, 4, 40.0, T0 + 3)
    sync(hubdb, 5, None, T0 + 4)
    assert clock_alarms(hubdb) == [("clinic", "unacknowledged", 1, message)]
    sync(hubdb, 6, 2.0, T0 + 5)
    assert clock_alarms(hubdb) == [("clinic", "cleared_unacknowledged", 1, message)]
    sync(hubdb, 7, -70.0, T0 + 6)
    ahead = "the clock of site clinic's agent is 70 s ahead of the hub's"
    assert clock_alarms(hubdb) == [("clinic", "unacknowledged", 2, ahead)]
    assert history(hubdb) == [
        (-1, "raised", T0 + 2),
        (-2, "cleared", T0 + 5),
        (-3, "reraised", T0 + 6),
    ]


def test_the_offset_and_its_alarm_are_on_the_sites_board(hubdb: HubDB) -> None:
    sync(hubdb, 1, -75.0, T0)
    [site] = query.sites(hubdb)
    assert (site.clock_offset, site.clock_round_trip, site.clock_measured_at) == (
        -75.0,
        0.1,
        T0 - 75.0,
    )
    [shown] = board.dashboard(hubdb, T0)
    assert [h.alarm.rule for h in shown.alarms] == ["clock_offset"]
    assert alarms.hub_owned(shown.alarms[0].alarm.id)
