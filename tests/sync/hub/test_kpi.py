"""The alarm review: KPIs over synthetic histories computed by hand, the grouping, the period, and
the query that fetches the histories from SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from rules.actions import Action
from rules.alarm import Alarm
from sync import hub
from sync.hub import actions as hub_actions
from sync.hub import alarms, reports, schema
from sync.hub.auth import User, create_agent
from sync.hub.db import HubDB
from sync.hub.ingest import apply_batch
from sync.hub.reports import Activation, AlarmHistory, Change, Load, Period, ResponseTimes
from sync.hub.reports import RuleCount as Top
from sync.hub.reports.kpi import (
    announced,
    chattering,
    flood,
    is_stale,
    load,
    percentile,
    priority,
    replay,
    response_times,
)
from sync.hub.reports.review import InvalidPeriod, fetch_histories, period_of, review
from sync.protocol import AlarmEventRecord
from tests.hubfixtures import T0, alarm, batch

H = 3600.0
DAY = 86400.0
INF = float("inf")
HOUR = Period(T0, T0 + H)
TWO_DAYS = Period(T0, T0 + 2 * DAY)


def raised(at: float) -> Change:
    return Change(at, "raised")


def reraised(at: float) -> Change:
    return Change(at, "reraised")


def acked(at: float, by: str = "ann") -> Change:
    return Change(at, "acked", by)


def cleared(at: float) -> Change:
    return Change(at, "cleared")


def history(
    alarm_id: str,
    *changes: Change,
    rule: str = "r1",
    severity: str = "low",
    post: str | None = "cold-store",
    site: str = "clinic",
) -> AlarmHistory:
    activations, spans = replay(changes)
    return AlarmHistory(site, alarm_id, rule, severity, post, activations, spans)


def load_of(histories: list[AlarmHistory], period: Period) -> Load:
    pairs = [(h, a) for h in histories for a in h.activations]
    return load(pairs, histories, period)


def test_exported_members_exist() -> None:
    assert [name for name in reports.__all__ if not hasattr(reports, name)] == []
    assert reports.__all__ == sorted(reports.__all__)
    assert hub.HubError in reports.InvalidPeriod.__mro__


@pytest.mark.parametrize(
    ("changes", "activations", "spans"),
    [
        ([], (), ()),
        ([raised(0)], (Activation(0),), ((0, INF),)),
        ([raised(0), acked(60), cleared(300)], (Activation(0, 60, "ann"),), ((0, 300),)),
        # Cleared unacknowledged and reraised: one acknowledgement answers both activations.
        (
            [raised(0), cleared(60), reraised(120), acked(180, "Li"), cleared(240)],
            (Activation(0, 180, "Li"), Activation(120, 180, "Li")),
            ((0, 60), (120, 240)),
        ),
        # A re-alarm: a new activation of a condition that never cleared, answered by bob.
        (
            [raised(0), acked(60), reraised(1860), acked(1900, "bob"), cleared(2000)],
            (Activation(0, 60, "ann"), Activation(1860, 1900, "bob")),
            ((0, 2000),),
        ),
        (
            [raised(0), acked(60), reraised(1860)],
            (Activation(0, 60, "ann"), Activation(1860)),
            ((0, INF),),
        ),
        # The hub's own acknowledgement comes last, even when its event came back already, and
        # even when the hub's clock is behind the agent's.
        ([raised(10), acked(5), acked(5)], (Activation(10, 5, "ann"),), ((10, INF),)),
        ([acked(5), raised(10), cleared(20), cleared(30)], (Activation(10),), ((10, 20),)),
        # A latched alarm closed with a disposition: the close answers it.
        (
            [raised(0), cleared(60), Change(600, "closed", "wang")],
            (Activation(0, 600, "wang"),),
            ((0, 60),),
        ),
    ],
)
def test_replay(
    changes: list[Change], activations: tuple[Activation, ...], spans: tuple[tuple[float, ...]]
) -> None:
    assert replay(changes) == (activations, spans)


def test_an_empty_period() -> None:
    assert load([], [], HOUR) == Load(
        activations=0,
        unannounced=0,
        per_hour=0.0,
        per_10min=0.0,
        peak_10min=0,
        peak_10min_at=None,
        flood_share=0.0,
        floods=0,
        top10_share=None,
        top_rules=(),
        chattering=0,
        stale=0,
        priority={},
    )
    assert response_times([], HOUR) == ResponseTimes(0, 0, 0, None, None, None, None)


def test_rates_peak_and_boundaries() -> None:
    # Window 0 gets 2 (T0, T0+599), window 1 gets 3; T0-1 and T0+3600 lie outside the hour.
    times = [T0 - 1, T0, T0 + 599, T0 + 600, T0 + 700, T0 + 1199, T0 + 3599.5, T0 + H]
    found = load_of([history(f"a{i}", raised(t), rule=f"r{i}") for i, t in enumerate(times)], HOUR)
    assert (found.activations, found.per_hour, found.per_10min) == (6, 6.0, 1.0)
    assert (found.peak_10min, found.peak_10min_at) == (3, T0 + 600)


def test_the_earliest_of_equal_peaks() -> None:
    found = load_of([history("a1", raised(T0 + 1300)), history("a2", raised(T0 + 10))], HOUR)
    assert (found.peak_10min, found.peak_10min_at) == (1, T0)


def test_every_activation_in_the_period_counts() -> None:
    reraised_twice = history(
        "a1",
        raised(T0 - 300),
        cleared(T0 - 200),
        reraised(T0 + 100),
        cleared(T0 + 200),
        reraised(T0 + 2000),
        acked(T0 + 2100),
        reraised(T0 + 3000),
    )
    found = load_of([reraised_twice], HOUR)
    assert (found.activations, found.per_hour, found.peak_10min) == (3, 3.0, 1)


@pytest.mark.parametrize(
    ("counts", "seconds", "expected"),
    [
        ({}, H, (0.0, 0)),
        ({0: 10}, H, (0.0, 0)),
        ({0: 11}, H, (1 / 6, 1)),
        # 5 is not fewer than 5: the flood goes on through window 1 and ends in window 2.
        ({0: 11, 1: 5, 2: 4}, H, (2 / 6, 1)),
        # An empty window ends a flood; 7 does not begin one.
        ({0: 11, 2: 7}, H, (1 / 6, 1)),
        ({0: 11, 1: 4, 2: 11}, H, (2 / 6, 2)),
        ({0: 11, 1: 6, 2: 6, 3: 6, 4: 6, 5: 6}, H, (1.0, 1)),
        # The last window of a 55-minute period is 5 minutes long.
        ({5: 11}, 3300.0, (300 / 3300, 1)),
        ({4: 12, 5: 9}, 3300.0, (900 / 3300, 1)),
    ],
)
def test_flood(counts: dict[int, int], seconds: float, expected: tuple[float, int]) -> None:
    assert flood(counts, Period(T0, T0 + seconds)) == pytest.approx(expected)


def test_a_flood_through_load() -> None:
    burst = [history(f"a{i}", raised(T0 + 600 + i), rule=f"r{i}") for i in range(11)]
    found = load_of(burst, HOUR)
    assert (found.flood_share, found.floods, found.peak_10min) == (pytest.approx(1 / 6), 1, 11)


def test_the_top_ten_rules_share() -> None:
    r1 = [history(f"r1-{i}", raised(T0 + i), rule="r1") for i in range(5)]
    others = [history(f"r{i}", raised(T0 + 100 * i), rule=f"r{i:02}") for i in range(2, 13)]
    found = load_of([*r1, *others], HOUR)
    assert (found.activations, found.top10_share) == (16, 14 / 16)
    assert found.top_rules[:2] == (Top("clinic", "r1", 5), Top("clinic", "r02", 1))
    assert len(found.top_rules) == 10


def test_rules_of_two_sites_are_two_rules() -> None:
    found = load_of([history("a1", raised(T0)), history("a2", raised(T0), site="school")], HOUR)
    assert found.top_rules == (Top("clinic", "r1", 1), Top("school", "r1", 1))
    assert found.top10_share == 1.0


@pytest.mark.parametrize(
    ("activations", "rules"),
    [
        ([("clinic", "r1", 0.0), ("clinic", "r1", 30.0), ("clinic", "r1", 60.0)], 1),
        ([("clinic", "r1", 0.0), ("clinic", "r1", 30.0), ("clinic", "r1", 61.0)], 0),
        ([("clinic", "r1", 0.0), ("clinic", "r1", 1.0)], 0),
        ([("clinic", "r1", t) for t in (50.0, 0.0, 200.0, 10.0, 20.0, 30.0)], 1),
        ([(s, r, t) for s in ("clinic", "school") for r in ("r1", "r2") for t in (0, 9, 19)], 4),
        ([("clinic", "r1", 0.0), ("school", "r1", 1.0), ("clinic", "r1", 2.0)], 0),
        ([("clinic", "r1", 0.0), ("clinic", "r2", 1.0), ("clinic", "r1", 2.0)], 0),
    ],
)
def test_chattering(activations: list[tuple[str, str, float]], rules: int) -> None:
    assert chattering(activations) == rules


def test_chattering_across_alarms_of_one_rule_within_the_period() -> None:
    flapping = history(
        "a1",
        raised(T0 + 10),
        cleared(T0 + 20),
        reraised(T0 + 30),
        cleared(T0 + 40),
        reraised(T0 + 50),
    )
    new_alarms = [
        history(f"b{i}", raised(T0 + 1000 + 20 * i), acked(T0 + 1001 + 20 * i), cleared(T0 + 2000))
        for i in range(3)
    ]
    straddling = history(
        "c1",
        raised(T0 - 20),
        cleared(T0 - 15),
        reraised(T0 - 10),
        cleared(T0 - 5),
        reraised(T0 + 5),
    )
    assert load_of([flapping], HOUR).chattering == 1
    assert load_of(new_alarms, HOUR).chattering == 1
    assert load_of([straddling], HOUR).chattering == 0


@pytest.mark.parametrize(
    ("alarm_history", "stale"),
    [
        (history("a", raised(T0)), True),
        (history("a", raised(T0), cleared(T0 + DAY)), False),
        (history("a", raised(T0), cleared(T0 + DAY + 1)), True),
        (history("a", raised(T0 - 3 * DAY), cleared(T0 - DAY)), False),
        (history("a", raised(T0 - 3 * DAY), cleared(T0 + 1)), True),
        (history("a", raised(T0 - 2 * DAY)), True),
        (history("a", raised(T0 + 1.5 * DAY)), False),
        (history("a", raised(T0), cleared(T0 + 10 * H), reraised(T0 + 20 * H)), True),
        (
            history(
                "a", raised(T0), cleared(T0 + 10 * H), reraised(T0 + 20 * H), cleared(T0 + 40 * H)
            ),
            False,
        ),
        (history("a", raised(T0 + 3 * DAY)), False),
        # Re-alarms do not restart the condition: active for 24 h and 1 s.
        (history("a", raised(T0), acked(T0 + 60), reraised(T0 + H), cleared(T0 + DAY + 1)), True),
        (history("a", raised(T0), acked(T0 + 60), reraised(T0 + H), cleared(T0 + 2 * H)), False),
    ],
)
def test_stale(alarm_history: AlarmHistory, stale: bool) -> None:
    assert is_stale(alarm_history, TWO_DAYS) is stale
    assert load_of([alarm_history], TWO_DAYS).stale == int(stale)


def test_priority_mix() -> None:
    mix = priority(["low", "low", "high", "warning"])
    assert mix == {"low": 0.5, "medium": 0.0, "high": 0.25, "critical": 0.0, "warning": 0.25}
    assert list(mix) == ["low", "medium", "high", "critical", "warning"]


def test_priority_mix_counts_activations() -> None:
    histories = [
        history("a1", raised(T0), cleared(T0 + 30), reraised(T0 + 60)),
        history("a2", raised(T0), severity="high"),
    ]
    assert load_of(histories, HOUR).priority == pytest.approx(
        {"low": 2 / 3, "medium": 0.0, "high": 1 / 3, "critical": 0.0}
    )


@pytest.mark.parametrize(
    ("values", "p50", "p95"),
    [
        ([], None, None),
        ([5.0], 5.0, 5.0),
        ([10.0, 1.0, 5.0], 5.0, 10.0),
        ([1.0, 2.0, 3.0, 4.0], 2.0, 4.0),
        ([float(v) for v in range(1, 21)], 10.0, 19.0),
        ([float(v) for v in range(1, 101)], 50.0, 95.0),
    ],
)
def test_percentile(values: list[float], p50: float | None, p95: float | None) -> None:
    assert (percentile(values, 50), percentile(values, 95)) == (p50, p95)


@pytest.mark.parametrize(
    ("alarm_history", "expected"),
    [
        (
            history("a", raised(T0), acked(T0 + 60), cleared(T0 + 300)),
            ResponseTimes(1, 1, 1, 60, 60, 300, 300),
        ),
        # Never acknowledged.
        (
            history("a", raised(T0 + 100), cleared(T0 + 400)),
            ResponseTimes(1, 0, 1, None, None, 300, 300),
        ),
        # Still active.
        (
            history("a", raised(T0 + 200), acked(T0 + 500)),
            ResponseTimes(1, 1, 0, 300, 300, None, None),
        ),
        # Raised before the period: not this period's response.
        (
            history("a", raised(T0 - 100), acked(T0 + 10), cleared(T0 + 20)),
            ResponseTimes(0, 0, 0, None, None, None, None),
        ),
        # Reraised: from the first raise to the acknowledgement and to the last clear, which
        # came after the period.
        (
            history(
                "a",
                raised(T0 + 1000),
                cleared(T0 + 1050),
                reraised(T0 + 1100),
                acked(T0 + 1200),
                cleared(T0 + 4000),
            ),
            ResponseTimes(1, 1, 1, 200, 200, 3000, 3000),
        ),
        # Re-alarmed: the first acknowledgement is the response.
        (
            history(
                "a",
                raised(T0),
                acked(T0 + 60),
                reraised(T0 + 1860),
                acked(T0 + 1900, "bob"),
                cleared(T0 + 2000),
            ),
            ResponseTimes(1, 1, 1, 60, 60, 2000, 2000),
        ),
        # Cleared once, reraised and active again: not cleared.
        (
            history("a", raised(T0), cleared(T0 + 50), reraised(T0 + 100)),
            ResponseTimes(1, 0, 0, None, None, None, None),
        ),
        # Acknowledged at the hub by a clock a little behind the agent's.
        (
            history("a", raised(T0 + 10), acked(T0 + 5)),
            ResponseTimes(1, 1, 0, 0, 0, None, None),
        ),
        # Raised in the last second, acknowledged after the period.
        (
            history("a", raised(T0 + 3599), acked(T0 + 3700)),
            ResponseTimes(1, 1, 0, 101, 101, None, None),
        ),
    ],
)
def test_response_of_one_alarm(alarm_history: AlarmHistory, expected: ResponseTimes) -> None:
    assert response_times([alarm_history], HOUR) == expected


def test_response_percentiles() -> None:
    histories = [
        history("a1", raised(T0), acked(T0 + 60), cleared(T0 + 300)),
        history("a2", raised(T0 + 100), cleared(T0 + 400)),
        history("a3", raised(T0 + 200), acked(T0 + 500)),
        history("a4", raised(T0 - 100), acked(T0 + 10)),
        history(
            "a5",
            raised(T0 + 1000),
            cleared(T0 + 1050),
            reraised(T0 + 1100),
            acked(T0 + 1200),
            cleared(T0 + 4000),
        ),
        history("a6", raised(T0 + 3599), acked(T0 + 3700)),
    ]
    # To acknowledge: 60, 101, 200, 300; to clear: 300, 300, 3000.
    assert response_times(histories, HOUR) == ResponseTimes(5, 4, 3, 101, 300, 300, 3000)


def keys(groups: tuple[reports.GroupReview, ...]) -> list[tuple[str, str | None, str, int]]:
    return [(g.scope, g.site, g.key, g.load.activations) for g in groups]


def point(kind: str, at: float, until: float | None = None, alarm_id: str | None = None) -> Action:
    return Action(f"{kind}-{at}", kind, "r1", "li", at, alarm_id=alarm_id, until=until)  # type: ignore[arg-type]


# a1: raised at 0, re-alarmed at 20 min while still active, cleared at 30 min, reraised at 40 min.
SHELVED_HISTORY = history(
    "a1", raised(T0), reraised(T0 + 1200), cleared(T0 + 1800), reraised(T0 + 2400)
)


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        pytest.param([], [True, True, True], id="no actions"),
        pytest.param(
            [point("shelve", T0 + 600, alarm_id="a1")],
            [True, False, True],
            id="one-shot shelve: the re-alarm in the same span, not the reraise after a clear",
        ),
        pytest.param(
            [point("shelve", T0 + 600, until=T0 + 3000)],
            [True, False, False],
            id="timed shelve",
        ),
        pytest.param(
            [point("suppress", T0 - 60, until=T0 + 1500)], [False, False, True], id="suppressed"
        ),
        pytest.param(
            [point("disable", T0 + 1000), point("enable", T0 + 2000)],
            [True, False, True],
            id="out of service, then back",
        ),
        pytest.param(
            [point("shelve", T0 + 600, alarm_id="other")],
            [True, True, True],
            id="a one-shot shelve of another alarm",
        ),
    ],
)
def test_each_activation_is_marked_by_whether_its_rule_was_in_service(
    log: list[Action], expected: list[bool]
) -> None:
    marked = announced(SHELVED_HISTORY, log)
    assert [a.announced for a in marked.activations] == expected
    assert [a.at for a in marked.activations] == [a.at for a in SHELVED_HISTORY.activations]


def test_unannounced_activations_load_nobody_and_are_counted_apart() -> None:
    log = [point("shelve", T0 + 600, until=T0 + 3000)]
    marked = announced(SHELVED_HISTORY, log)
    shelved_from_start = announced(history("b1", raised(T0 + 700), acked(T0 + 900)), log)
    period = Period(T0, T0 + 2 * H)
    counted = load_of([marked, shelved_from_start], period)
    assert (counted.activations, counted.unannounced) == (1, 3)
    assert counted.priority == {"low": 1.0, "medium": 0.0, "high": 0.0, "critical": 0.0}
    # b1 was raised while shelved: no one was asked to answer it.
    assert response_times([marked, shelved_from_start], period).raised == 1


def test_groups_per_site_post_and_person() -> None:
    histories = [
        history("a1", raised(T0 + 10), acked(T0 + 20)),
        history("a2", raised(T0 + 20), post=None, rule="r2"),
        history("a3", raised(T0 + 30), cleared(T0 + 60), reraised(T0 + 90), acked(T0 + 100, "bob")),
        history("a4", raised(T0 + 40), acked(T0 + 50), site="school", post="gate"),
        history("a5", raised(T0 - 3 * DAY), cleared(T0 - 2 * DAY), acked(T0, "cy"), post="gone"),
    ]
    found = review(histories, HOUR, ["clinic", "school"], overall=True)
    assert keys(found) == [
        ("all", None, "(all)", 5),
        ("site", "clinic", "clinic", 4),
        ("post", "clinic", "cold-store", 3),
        ("post", "clinic", "(none)", 1),
        ("person", "clinic", "ann", 1),
        ("person", "clinic", "bob", 2),
        ("person", "clinic", "(none)", 1),
        ("site", "school", "school", 1),
        ("post", "school", "gate", 1),
        ("person", "school", "ann", 1),
    ]
    assert [g.response.raised for g in found[:2]] == [4, 3]


def test_an_activation_counts_for_whoever_answered_it() -> None:
    realarmed = history(
        "a1", raised(T0 + 10), acked(T0 + 20), reraised(T0 + 1820), acked(T0 + 1900, "bob")
    )
    standing = history("a2", raised(T0 - 2 * DAY), acked(T0 - DAY, "cy"), reraised(T0 + 100))
    found = review([realarmed, standing], HOUR, ["clinic"], overall=False)
    assert keys(found) == [
        ("site", "clinic", "clinic", 3),
        ("post", "clinic", "cold-store", 3),
        ("person", "clinic", "ann", 1),
        ("person", "clinic", "bob", 1),
        ("person", "clinic", "cy", 0),
        ("person", "clinic", "(none)", 1),
    ]
    assert [(g.load.stale, g.response.raised, g.response.ack_p50) for g in found] == [
        (1, 1, 10),
        (1, 1, 10),
        (0, 1, 10),
        (0, 0, None),
        (1, 0, None),
        (0, 0, None),
    ]


def test_one_site_without_alarms() -> None:
    found = review([history("a1", raised(T0), site="school")], HOUR, ["clinic"], overall=False)
    assert keys(found) == [("site", "clinic", "clinic", 0)]
    assert found[0].load == load([], [], HOUR)


def test_a_stale_alarm_alone_makes_a_group() -> None:
    standing = history("a1", raised(T0 - 2 * DAY), post="boiler")
    found = review([standing], HOUR, ["clinic"], overall=False)
    assert keys(found) == [
        ("site", "clinic", "clinic", 0),
        ("post", "clinic", "boiler", 0),
        ("person", "clinic", "(none)", 0),
    ]
    assert [g.load.stale for g in found] == [1, 1, 1]


NOW = T0 + 100 * DAY


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, Period(NOW - 30 * DAY, NOW)),
        (T0, None, Period(T0, NOW)),
        (None, T0, Period(T0 - 30 * DAY, T0)),
        (T0, T0 + H, HOUR),
        (T0, NOW + DAY, Period(T0, NOW)),
        (NOW - 366 * DAY, None, Period(NOW - 366 * DAY, NOW)),
    ],
)
def test_period(start: float | None, end: float | None, expected: Period) -> None:
    assert period_of(start, end, NOW) == expected


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        (T0, T0, "from must be before to"),
        (T0 + 1, T0, "from must be before to"),
        (NOW + 1, None, "from must be before to"),
        (NOW - 367 * DAY, None, "at most 366 days"),
    ],
)
def test_a_bad_period(start: float, end: float | None, reason: str) -> None:
    with pytest.raises(InvalidPeriod, match=f"invalid report period: {reason}"):
        period_of(start, end, NOW)


def event(
    seq: int,
    kind: str,
    at: float,
    alarm_id: str = "a1",
    raised_at: float = T0,
    by: str | None = None,
    **fields: object,
) -> AlarmEventRecord:
    """An alarm change as the agent sends it: the change and the alarm's snapshot after it."""
    record = alarm(alarm_id, at=raised_at, changed_at=at, **fields)
    return AlarmEventRecord(seq=seq, kind=kind, at=at, by=by, alarm=record)  # type: ignore[arg-type]


@pytest.fixture
def synced(hubdb: HubDB) -> HubDB:
    """Clinic: a1 raised, cleared, reraised, acknowledged by Li at the agent, cleared; a2 raised
    two days before T0 and still active; a3 over before the period; a4 raised after it; c1
    acknowledged by Li and re-alarmed; d1 acknowledged at a hub whose clock is 10 s behind.
    School: b1, acknowledged at the hub by ann (its agent has not heard of that yet)."""
    create_agent(hubdb, "school", now=T0)
    li = {"activations": 2, "acked_at": T0 + 180, "acked_by": "Li"}
    ann = {"acked_at": T0 + 990, "acked_by": "ann"}
    clinic = [
        event(1, "raised", T0),
        event(2, "cleared", T0 + 60, active=False, cleared_at=T0 + 60),
        event(3, "reraised", T0 + 120, activations=2),
        event(4, "acked", T0 + 180, by="Li", **li),
        event(5, "cleared", T0 + 240, **li, active=False, cleared_at=T0 + 240),
        event(6, "raised", T0 - 2 * DAY, "a2", T0 - 2 * DAY, rule="boiler-low"),
        event(7, "raised", T0 - 9 * DAY, "a3", T0 - 9 * DAY),
        event(
            8, "cleared", T0 - 8 * DAY, "a3", T0 - 9 * DAY, active=False, cleared_at=T0 - 8 * DAY
        ),
        event(9, "raised", T0 + H, "a4", T0 + H),
        event(10, "raised", T0 + 400, "c1", T0 + 400),
        event(11, "acked", T0 + 500, "c1", T0 + 400, "Li", acked_at=T0 + 500, acked_by="Li"),
        event(12, "reraised", T0 + 2300, "c1", T0 + 400, activations=2),
        event(13, "raised", T0 + 1000, "d1", T0 + 1000),
        event(14, "acked", T0 + 990, "d1", T0 + 1000, "ann", **ann),
    ]
    school = [event(1, "raised", T0 + 30, "b1", T0 + 30, post="gate")]
    apply_batch(hubdb, "clinic", batch(alarm_events=clinic), T0 + 300)
    apply_batch(hubdb, "school", batch("school", alarm_events=school), T0 + 300)
    hub_actions.acknowledge_alarm(hubdb, "b1", User(1, "ann", "maintenance"), T0 + 90)
    return hubdb


def test_the_histories_of_a_period(synced: HubDB) -> None:
    with synced.read() as conn:
        found = fetch_histories(conn, None, HOUR)
        clinic = fetch_histories(conn, "clinic", HOUR)
    fields: dict[str, str] = {"rule": "freezer-warm", "severity": "high"}
    assert found == [
        history("a2", raised(T0 - 2 * DAY), **fields | {"rule": "boiler-low"}),
        history(
            "a1",
            raised(T0),
            cleared(T0 + 60),
            reraised(T0 + 120),
            acked(T0 + 180, "Li"),
            cleared(T0 + 240),
            **fields,
        ),
        history("b1", raised(T0 + 30), acked(T0 + 90), post="gate", site="school", **fields),
        history("c1", raised(T0 + 400), acked(T0 + 500, "Li"), reraised(T0 + 2300), **fields),
        history("d1", raised(T0 + 1000), acked(T0 + 990), **fields),
    ]
    assert clinic == [found[0], found[1], found[3], found[4]]


def test_the_hubs_own_alarms_in_the_order_it_made_them(hubdb: HubDB) -> None:
    """Rows the hub makes itself take falling negative seq (``sync.hub.manual``)."""
    own = Alarm("hub-1", "agent-silent", "agent", None, "high", None, "silent", T0 + 10, T0 + 30)
    changes = [(-1, "raised", T0 + 10), (-2, "cleared", T0 + 20), (-3, "reraised", T0 + 30)]
    with hubdb.write() as conn:
        conn.execute(schema.alarms.insert().values(alarms.row_values(own) | {"site": "clinic"}))
        conn.execute(
            schema.alarm_events.insert(),
            [
                {"site": "clinic", "seq": seq, "alarm_id": "hub-1", "kind": kind, "at": at}
                for seq, kind, at in changes
            ],
        )
    hub_actions.acknowledge_alarm(hubdb, "hub-1", User(1, "ann", "maintenance"), T0 + 40)
    with hubdb.read() as conn:
        found = fetch_histories(conn, "clinic", HOUR)
    expected = [raised(T0 + 10), cleared(T0 + 20), reraised(T0 + 30), acked(T0 + 40)]
    fields: dict[str, str | None] = {"rule": "agent-silent", "severity": "high", "post": None}
    assert found == [history("hub-1", *expected, **fields)]


def test_the_review_from_the_database(synced: HubDB) -> None:
    found = reports.alarm_review(synced, site=None, start=T0, end=T0 + H, now=NOW)
    assert (found.site, found.start, found.end) == (None, T0, T0 + H)
    assert keys(found.groups) == [
        ("all", None, "(all)", 6),
        ("site", "clinic", "clinic", 5),
        ("post", "clinic", "cold-store", 5),
        ("person", "clinic", "Li", 3),
        ("person", "clinic", "ann", 1),
        ("person", "clinic", "(none)", 1),
        ("site", "school", "school", 1),
        ("post", "school", "gate", 1),
        ("person", "school", "ann", 1),
    ]
    clinic = found.groups[1]
    # To acknowledge: a1 180 s, c1 100 s, d1 0 (-10 s by the two clocks); to clear: a1 240 s.
    assert (clinic.load.stale, clinic.response) == (1, ResponseTimes(3, 3, 1, 100, 180, 240, 240))


def test_a_review_of_an_unknown_site_is_empty(synced: HubDB) -> None:
    found = reports.alarm_review(synced, site="nowhere", start=None, end=None, now=NOW)
    assert keys(found.groups) == [("site", "nowhere", "nowhere", 0)]
    assert (found.start, found.end) == (NOW - 30 * DAY, NOW)
