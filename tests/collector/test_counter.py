from __future__ import annotations

import pytest

from collector.counter import CounterCheck, OutOfOrder, Verdict, VerdictKind, check

T0 = 1_795_000_000.0
# A 10 kW meter whose register shows 0000.0 to 99999.9 kWh and wraps at 100000.
METER = {"max_rate_per_hour": 10.0, "rollover_at": 100_000.0, "jitter": 0.05}
LAST = CounterCheck(1000.0, T0)

CASES: list[tuple[str, CounterCheck | None, float, float, VerdictKind, float, CounterCheck]] = [
    ("first reading", None, 1000.0, T0, "ok", 0.0, LAST),
    ("rise", LAST, 1001.0, T0 + 900, "ok", 1.0, CounterCheck(1001.0, T0 + 900)),
    ("rise at rated power", LAST, 1002.5, T0 + 900, "ok", 2.5, CounterCheck(1002.5, T0 + 900)),
    ("above rated power", LAST, 1002.6, T0 + 900, "spike", 0.0, LAST),
    ("a day's worth in a minute", LAST, 1240.0, T0 + 60, "spike", 0.0, LAST),
    ("rise with no time passed", LAST, 1000.1, T0, "spike", 0.0, LAST),
    ("same value, same time", LAST, 1000.0, T0, "ok", 0.0, CounterCheck(1000.0, T0)),
    ("small drop", LAST, 999.95, T0 + 900, "jitter", 0.0, LAST),
    ("drop of 5% (not jitter)", LAST, 950.0, T0 + 900, "reset", 0.0, CounterCheck(950.0, T0 + 900)),
    ("drop to zero", LAST, 0.0, T0 + 900, "reset", 0.0, CounterCheck(0.0, T0 + 900)),
    ("silence of 3 h", LAST, 1030.0, T0 + 3 * 3600, "gap", 30.0, CounterCheck(1030.0, T0 + 10800)),
    (
        "silence of exactly 1 h",
        LAST,
        1010.0,
        T0 + 3600,
        "ok",
        10.0,
        CounterCheck(1010.0, T0 + 3600),
    ),
]
ROLLOVERS: list[tuple[str, float, float, float, VerdictKind, float]] = [
    ("wraps past the top", 99990.0, 5.0, 7200, "rollover", 15.0),
    ("wraps to exactly zero", 99995.0, 0.0, 3600, "rollover", 5.0),
    ("wrap faster than rated", 99990.0, 5.0, 60, "reset", 0.0),
    ("drop from the middle", 50000.0, 5.0, 3600, "reset", 0.0),
    ("drop to the middle", 99990.0, 50000.0, 3600, "reset", 0.0),
]


@pytest.mark.parametrize(
    ("previous", "value", "ts", "kind", "consumption", "state"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_reading_is_judged_against_the_last(
    previous: CounterCheck | None,
    value: float,
    ts: float,
    kind: VerdictKind,
    consumption: float,
    state: CounterCheck,
) -> None:
    verdict = check(previous, value, ts, **METER)
    assert (verdict.kind, verdict.consumption, verdict.state) == (kind, consumption, state)


@pytest.mark.parametrize(
    ("last", "value", "elapsed", "kind", "consumption"),
    [case[1:] for case in ROLLOVERS],
    ids=[case[0] for case in ROLLOVERS],
)
def test_a_drop_near_the_top_of_the_register_is_a_rollover(
    last: float, value: float, elapsed: float, kind: VerdictKind, consumption: float
) -> None:
    verdict = check(CounterCheck(last, T0), value, T0 + elapsed, **METER)
    assert verdict.kind == kind
    assert verdict.consumption == pytest.approx(consumption)
    assert verdict.state == CounterCheck(value, T0 + elapsed)


def test_without_a_rated_power_or_register_size_nothing_is_a_spike_or_a_rollover() -> None:
    assert check(LAST, 1e6, T0 + 1, max_rate_per_hour=None, rollover_at=None, jitter=0.0) == (
        Verdict("ok", 1e6 - 1000.0, T0, CounterCheck(1e6, T0 + 1))
    )
    assert (
        check(
            CounterCheck(99990.0, T0),
            5.0,
            T0 + 3600,
            max_rate_per_hour=None,
            rollover_at=None,
            jitter=0.0,
        ).kind
        == "reset"
    )


def test_the_gap_threshold_is_the_callers() -> None:
    monthly = check(LAST, 1500.0, T0 + 31 * 86400, **METER, gap_after=40 * 86400)
    assert (monthly.kind, monthly.consumption, monthly.since) == ("ok", 500.0, T0)


def test_a_reading_older_than_the_last_is_refused() -> None:
    with pytest.raises(OutOfOrder) as refused:
        check(LAST, 1001.0, T0 - 1, **METER)
    assert (refused.value.last_ts, refused.value.ts) == (T0, T0 - 1)


SEQUENCES: list[tuple[str, list[float], float]] = [
    ("a spike between good readings", [1000.0, 1001.0, 5000.0, 1002.0], 2.0),
    ("jitter then a climb", [1000.0, 999.98, 1000.5], 0.5),
    ("a meter replaced", [1000.0, 1001.0, 0.0, 1.5], 2.5),
    ("a rollover", [99998.0, 99999.5, 0.5, 1.0], 3.0),
]


@pytest.mark.parametrize(
    ("values", "total"), [s[1:] for s in SEQUENCES], ids=[s[0] for s in SEQUENCES]
)
def test_consumption_over_a_sequence_is_never_negative_nor_absurd(
    values: list[float], total: float
) -> None:
    state: CounterCheck | None = None
    consumed = 0.0
    for i, value in enumerate(values):
        verdict = check(state, value, T0 + 900 * i, **METER)
        state, consumed = verdict.state, consumed + verdict.consumption
    assert consumed == pytest.approx(total)
