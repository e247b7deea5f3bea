import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from collector.duration import DurationError
from rules.alarm import Alarm
from sync.hub import actions as hub_actions
from sync.hub import alarms, auth, board, heartbeat, query, schema
from sync.hub.auth import User
from sync.hub.db import HubDB
from sync.hub.heartbeat import Heartbeat, check_silent_agents, silent_since, transition
from sync.hub.ingest import apply_batch
from tests.hubfixtures import T0, alarm, alarm_event, batch

ANN = User(1, "ann", "maintenance")
AFTER = timedelta(minutes=15)
HELD = Alarm(
    id="hub-1",
    rule="agent_silent",
    device="clinic",
    metric=None,
    severity="high",
    post=None,
    message="old",
    raised_at=T0,
    changed_at=T0,
)
CLEARED = replace(HELD, active=False, cleared_at=T0 + 5, changed_at=T0 + 5)


@pytest.fixture
def clinic(hubdb: HubDB) -> HubDB:
    """Site ``clinic`` with an agent token, which last synced at T0."""
    auth.create_agent(hubdb, "clinic", now=T0)
    apply_batch(hubdb, "clinic", batch(), T0)
    return hubdb


@pytest.fixture
def silent(clinic: HubDB) -> alarms.HubAlarm:
    [change] = check_silent_agents(clinic, T0 + 900, AFTER)
    return alarms.get_alarm(clinic, change.alarm.id)


def open_silent(hubdb: HubDB) -> list[tuple[str, str, int]]:
    found = query.alarms(hubdb, state="open")
    return [(h.alarm.device, h.alarm.state, h.alarm.activations) for h in found]


def history(hubdb: HubDB) -> list[tuple[int, str, str, float]]:
    e = schema.alarm_events
    with hubdb.read() as conn:
        rows = conn.execute(select(e).order_by(e.c.seq.desc()))
        return [(row.seq, row.alarm_id, row.kind, row.at) for row in rows]


@pytest.mark.parametrize(
    ("text", "after"),
    [
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(minutes=90)),
        (" 30s ", timedelta(seconds=30)),
        ("0", None),
        ("0s", None),
        ("off", None),
        ("OFF", None),
    ],
)
def test_the_delay_reads_as_durations_do(text: str, after: timedelta | None) -> None:
    assert heartbeat.parse_after(text) == after


@pytest.mark.parametrize("text", ["soon", "", "-5m", "15"])
def test_a_delay_that_is_not_a_duration(text: str) -> None:
    with pytest.raises(DurationError, match="not a duration"):
        heartbeat.parse_after(text)


@pytest.mark.parametrize(
    ("beat", "now", "listening_since", "since"),
    [
        (Heartbeat("clinic", T0, True), T0 + 899, None, None),
        (Heartbeat("clinic", T0, True), T0 + 900, None, T0),
        (Heartbeat("clinic", None, True), T0 + 9999, None, None),
        (Heartbeat("clinic", T0, False), T0 + 9999, None, None),
        (Heartbeat("clinic", T0, True), T0 + 1000, T0 + 200, None),
        (Heartbeat("clinic", T0, True), T0 + 1100, T0 + 200, T0),
    ],
    ids=["recent", "silent", "never-synced", "revoked", "hub-just-started", "hub-listened-long"],
)
def test_when_a_site_is_silent(
    beat: Heartbeat, now: float, listening_since: float | None, since: float | None
) -> None:
    assert silent_since(beat, now, AFTER, listening_since) == since


@pytest.mark.parametrize(
    ("held", "since", "kind", "active", "activations"),
    [
        (None, T0, "raised", True, 1),
        (HELD, None, "cleared", False, 1),
        (CLEARED, T0, "reraised", True, 2),
    ],
)
def test_the_life_cycle_is_the_agents(
    held: Alarm | None, since: float | None, kind: str, active: bool, activations: int
) -> None:
    change = transition(held, "clinic", since, T0 + 900, "hub-2")
    assert change is not None
    assert (change.kind, change.alarm.active, change.alarm.activations) == (
        kind,
        active,
        activations,
    )


@pytest.mark.parametrize(("held", "since"), [(None, None), (HELD, T0), (CLEARED, None)])
def test_nothing_changes(held: Alarm | None, since: float | None) -> None:
    assert transition(held, "clinic", since, T0 + 900, "hub-2") is None


@pytest.mark.parametrize(
    ("now", "after", "listening_since", "expected"),
    [
        (T0 + 60, AFTER, None, []),
        (T0 + 900, AFTER, None, [("clinic", "unacknowledged", 1)]),
        (T0 + 3600, timedelta(hours=2), None, []),
        (T0 + 3600, None, None, []),
        (T0 + 3600, AFTER, T0 + 3000, []),
    ],
    ids=["synced-recently", "silent", "longer-delay", "disabled", "hub-restarted"],
)
def test_one_check(
    clinic: HubDB,
    now: float,
    after: timedelta | None,
    listening_since: float | None,
    expected: list[tuple[str, str, int]],
) -> None:
    changes = check_silent_agents(clinic, now, after, listening_since)
    assert (len(changes), open_silent(clinic)) == (len(expected), expected)


def test_a_silent_site_gets_one_high_alarm_naming_it(
    clinic: HubDB, silent: alarms.HubAlarm
) -> None:
    assert check_silent_agents(clinic, T0 + 960, AFTER) == []
    assert (silent.site, silent.alarm.rule, silent.alarm.severity, silent.alarm.device) == (
        "clinic",
        "agent_silent",
        "high",
        "clinic",
    )
    assert silent.alarm.message == (
        "the agent of site clinic has not synced since 2026-11-18T11:06:40Z"
    )
    assert alarms.hub_owned(silent.alarm.id)


def test_a_sync_clears_it_at_once(clinic: HubDB, silent: alarms.HubAlarm) -> None:
    apply_batch(clinic, "clinic", batch(), T0 + 1000)
    assert open_silent(clinic) == [("clinic", "cleared_unacknowledged", 1)]
    assert check_silent_agents(clinic, T0 + 1010, AFTER) == []


def test_silent_again_before_anyone_acknowledged_is_a_new_activation(
    clinic: HubDB, silent: alarms.HubAlarm
) -> None:
    apply_batch(clinic, "clinic", batch(), T0 + 1000)
    [change] = check_silent_agents(clinic, T0 + 1900, AFTER)
    assert (change.kind, change.alarm.id, open_silent(clinic)) == (
        "reraised",
        silent.alarm.id,
        [("clinic", "unacknowledged", 2)],
    )
    assert change.alarm.message.endswith("since 2026-11-18T11:23:20Z")


def test_silent_again_after_it_closed_is_a_new_alarm(
    clinic: HubDB, silent: alarms.HubAlarm
) -> None:
    hub_actions.acknowledge_alarm(clinic, silent.alarm.id, ANN, T0 + 950)
    apply_batch(clinic, "clinic", batch(), T0 + 1000)
    [change] = check_silent_agents(clinic, T0 + 1900, AFTER)
    assert (change.kind, change.alarm.id != silent.alarm.id) == ("raised", True)
    assert alarms.get_alarm(clinic, silent.alarm.id).alarm.state == "normal"


def test_its_history_counts_down_beside_the_agents(clinic: HubDB, silent: alarms.HubAlarm) -> None:
    apply_batch(clinic, "clinic", batch(alarm_events=[alarm_event(1, alarm())]), T0 + 1000)
    check_silent_agents(clinic, T0 + 1900, AFTER)
    mine = silent.alarm.id
    assert history(clinic) == [
        (1, "a1", "raised", T0),
        (-1, mine, "raised", T0 + 900),
        (-2, mine, "cleared", T0 + 1000),
        (-3, mine, "reraised", T0 + 1900),
    ]


def test_a_site_that_never_synced_is_not_watched(hubdb: HubDB) -> None:
    auth.create_agent(hubdb, "school", now=T0)
    assert check_silent_agents(hubdb, T0 + 86400, AFTER) == []


def test_revoking_the_sites_agent_clears_it(clinic: HubDB, silent: alarms.HubAlarm) -> None:
    with clinic.write() as conn:
        conn.execute(schema.agents.update().values(revoked_at=T0 + 950))
    [change] = check_silent_agents(clinic, T0 + 1000, AFTER)
    assert (change.kind, change.alarm.id) == ("cleared", silent.alarm.id)


def test_a_token_in_its_rotation_grace_still_watches_the_site(clinic: HubDB) -> None:
    """Revocation scheduled for later (a rotation's grace period): the agent can still sync, so
    its silence is still an alarm until the revocation time."""
    with clinic.write() as conn:
        conn.execute(schema.agents.update().values(revoked_at=T0 + 2000))
    assert open_silent(clinic) == []
    check_silent_agents(clinic, T0 + 960, AFTER)
    assert open_silent(clinic) == [("clinic", "unacknowledged", 1)]
    [change] = check_silent_agents(clinic, T0 + 2001, AFTER)
    assert change.kind == "cleared"


def test_acknowledging_it_sends_nothing_to_the_agent(
    clinic: HubDB, silent: alarms.HubAlarm
) -> None:
    apply_batch(clinic, "clinic", batch(alarm_events=[alarm_event(1, alarm())]), T0 + 900)
    hub_actions.acknowledge_alarm(clinic, silent.alarm.id, ANN, T0 + 950)
    hub_actions.acknowledge_alarm(clinic, "a1", ANN, T0 + 950)
    ack = apply_batch(clinic, "clinic", batch(), T0 + 1000)
    assert [a.alarm_id for a in ack.actions] == ["a1"]
    assert alarms.get_alarm(clinic, silent.alarm.id).alarm.acked_by == "ann"


def test_an_agent_cannot_change_it(clinic: HubDB, silent: alarms.HubAlarm) -> None:
    forged = alarm(silent.alarm.id, at=T0 + 990, active=False, acked_at=T0 + 990, acked_by="x")
    apply_batch(clinic, "clinic", batch(alarm_events=[alarm_event(1, forged)]), T0 + 990)
    assert alarms.get_alarm(clinic, silent.alarm.id).alarm == replace(
        silent.alarm, active=False, cleared_at=T0 + 990, changed_at=T0 + 990
    )
    assert [h[2] for h in history(clinic) if h[1] == silent.alarm.id] == ["raised", "cleared"]


def test_it_is_on_the_board(clinic: HubDB, silent: alarms.HubAlarm) -> None:
    [site] = board.dashboard(clinic, T0)
    assert [(h.alarm.id, site.device(h.alarm.device).label) for h in site.alarms] == [
        (silent.alarm.id, "clinic")
    ]


def test_a_failed_check_is_logged_and_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No tables: every check fails.
    broken = HubDB(create_engine(f"sqlite:///{tmp_path}/empty.db"))

    async def watch_a_while() -> None:
        async with heartbeat.watching(broken, AFTER, interval=0.01):
            await asyncio.sleep(0.2)

    with caplog.at_level(logging.ERROR, logger="sync.hub.heartbeat"):
        asyncio.run(watch_a_while())
    broken.close()
    assert len(caplog.records) >= 2
    assert {r.getMessage() for r in caplog.records} == {"agent_silent check failed"}
