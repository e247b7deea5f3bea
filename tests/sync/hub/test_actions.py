import uuid
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from rules.actions import Action, standing
from rules.alarm import Alarm
from sync.hub import actions, alarms, board, schema
from sync.hub.auth import User
from sync.hub.db import HubDB
from sync.hub.errors import RefusedAction
from sync.hub.ingest import apply_batch
from sync.protocol import ACTION_KINDS, Chunk, OperatorActionRecord
from tests.hubfixtures import DEVICES, T0, alarm, alarm_event, batch
from tests.support.actions import point_logs

ANN = User(1, "ann", "maintenance")
KINDS = list(ACTION_KINDS)


@pytest.fixture
def raised(hubdb: HubDB) -> HubDB:
    apply_batch(hubdb, "clinic", batch(alarm_events=[alarm_event(1, alarm())]), T0)
    return hubdb


def from_site(seq: int, uid: str, kind: str, **fields: object) -> OperatorActionRecord:
    base = {"seq": seq, "uid": uid, "kind": kind, "rule": "freezer-warm", "by": "li", "at": T0}
    return OperatorActionRecord.model_validate(base | fields)


def push_actions(hubdb: HubDB, records: list[OperatorActionRecord], after: int = 0) -> None:
    chunk = Chunk[OperatorActionRecord](after=after, through=records[-1].seq, items=records)
    apply_batch(hubdb, "clinic", batch().model_copy(update={"actions": chunk}), T0 + 60)


def rows(hubdb: HubDB) -> int:
    with hubdb.read() as conn:
        return conn.scalar(select(func.count()).select_from(schema.alarm_actions)) or 0


def pending(hubdb: HubDB, kinds: list[str] | None = KINDS) -> list[tuple[str, str | None]]:
    with hubdb.read() as conn:
        return [(a.action, a.alarm_id) for a in actions.pending(conn, "clinic", kinds)]


def test_a_shelve_at_the_hub_is_pending_for_the_agent(raised: HubDB) -> None:
    held = actions.take(raised, "a1", actions.Request("shelve", "swap", T0 + 3600), ANN, T0 + 5)
    assert held.alarm == alarms.get_alarm(raised, "a1").alarm  # the alarm itself is unchanged
    assert pending(raised) == [("shelve", "a1")]
    assert pending(raised, None) == []  # an older agent is sent acknowledgements only
    [standing] = actions.standing_of(raised, [held], T0 + 10)
    assert (standing.mode, standing.until) == ("shelved", T0 + 3600)


def test_the_same_action_from_the_agent_is_kept_once(raised: HubDB) -> None:
    record = from_site(1, "u1", "disable", note="repair <script>")
    push_actions(raised, [record])
    push_actions(raised, [record])
    assert rows(raised) == 1
    assert pending(raised) == []  # the agent has it already
    history = actions.history(raised, "clinic", "freezer-warm", "a1")
    assert [(a.kind, a.note, origin) for a, origin in history] == [
        ("disable", "repair <script>", "agent")
    ]


def test_an_action_taken_at_the_hub_and_echoed_by_the_agent_stays_one(raised: HubDB) -> None:
    actions.take(raised, "a1", actions.Request("suppress", None, T0 + 600), ANN, T0 + 5)
    [(taken, _)] = actions.history(raised, "clinic", "freezer-warm")
    echo = from_site(1, taken.id, "suppress", by="ann", at=T0 + 5, until=T0 + 600)
    push_actions(raised, [echo])
    assert rows(raised) == 1


def test_a_kind_from_a_newer_agent_is_kept_unapplied(raised: HubDB) -> None:
    push_actions(raised, [from_site(1, "u9", "escalate-manually", alarm_id="a1")])
    [(kept, origin)] = actions.history(raised, "clinic", "freezer-warm")
    assert (kept.kind, origin) == ("escalate-manually", "agent")
    [standing] = actions.standing_of(raised, [alarms.get_alarm(raised, "a1")], T0 + 70)
    assert standing.mode == "in_service"


def test_closing_an_alarm_that_is_not_latched_is_refused(raised: HubDB) -> None:
    with pytest.raises(RefusedAction, match="not latched"):
        actions.take(raised, "a1", actions.Request("close", "done"), ANN, T0 + 5)
    assert rows(raised) == 0


def test_a_latched_alarm_closes_at_the_hub_and_the_close_goes_down(hubdb: HubDB) -> None:
    cleared = alarm(latched=True, active=False, cleared_at=T0 + 1, changed_at=T0 + 1)
    apply_batch(hubdb, "clinic", batch(alarm_events=[alarm_event(1, cleared, "cleared")]), T0)
    assert alarms.get_alarm(hubdb, "a1").alarm.state == "latched"
    held = actions.take(hubdb, "a1", actions.Request("close", "seal replaced"), ANN, T0 + 5)
    assert (held.alarm.state, held.alarm.disposition, held.alarm.closed_by) == (
        "normal",
        "seal replaced",
        "ann",
    )
    assert pending(hubdb) == [("close", "a1")]


def test_the_board_shows_each_alarms_standing(raised: HubDB) -> None:
    apply_batch(raised, "clinic", batch(devices=DEVICES), T0)
    push_actions(raised, [from_site(1, "u1", "disable", note="repair")])
    [clinic] = board.dashboard(raised, T0 + 60)
    assert {i: s.mode for i, s in clinic.standings.items()} == {"a1": "out_of_service"}


def test_a_disposition_for_an_active_latched_alarm_goes_to_the_agent(hubdb: HubDB) -> None:
    # An excursion's cumulative exposure: only the agent's rule can put it to rest.
    apply_batch(hubdb, "clinic", batch(alarm_events=[alarm_event(1, alarm(latched=True))]), T0)
    held = actions.take(hubdb, "a1", actions.Request("close", "stock released"), ANN, T0 + 5)
    assert (held.alarm.state, held.alarm.closed_at) == ("unacknowledged", None)
    assert pending(hubdb) == [("close", "a1")]


def record(seq: int, action: Action) -> OperatorActionRecord:
    return OperatorActionRecord(
        seq=seq, uid=action.id, kind=action.kind, rule=action.rule, alarm_id=action.alarm_id,
        by=action.by, at=action.at, until=action.until,
    )  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=point_logs(T0), minute=st.integers(0, 25), active=st.booleans())
def test_standings_read_at_the_hub_are_the_fold_of_the_whole_log(
    hubdb: HubDB, log: list[Action], minute: int, active: bool
) -> None:
    site = f"s-{uuid.uuid4().hex[:12]}"  # one database for every example: a site each
    with hubdb.write() as conn:
        records = [record(seq, action) for seq, action in enumerate(log, 1)]
        actions.store_from_agent(hubdb, conn, site, records, T0)
    now = T0 + 60 * minute
    warm = Alarm("a1", "freezer-warm", "freezer-1", "temperature", "high", None, "x", T0, T0)
    silent = Alarm("a2", "freezer-silent", "freezer-1", "temperature", "medium", None, "x", T0, T0)
    open_alarms = {
        (site, "freezer-warm"): replace(warm, active=active),
        (site, "freezer-silent"): silent,
    }
    expected = {
        (site, rule): standing([a for a in log if a.rule == rule], now, alarm)
        for (_, rule), alarm in open_alarms.items()
    }
    with hubdb.read() as conn:
        assert actions.standings(conn, open_alarms, now) == expected
