import pytest
from sqlalchemy import func, select

from sync.hub import actions as hub_actions
from sync.hub import alarms, schema
from sync.hub.auth import User
from sync.hub.db import HubDB
from sync.hub.errors import NotPermitted, UnknownAlarm
from sync.hub.ingest import apply_batch
from tests.hubfixtures import T0, alarm, alarm_event, batch

ANN = User(1, "ann", "maintenance")


@pytest.fixture
def raised(hubdb: HubDB) -> HubDB:
    apply_batch(hubdb, "clinic", batch(alarm_events=[alarm_event(1, alarm())]), T0)
    return hubdb


def actions(hubdb: HubDB) -> int:
    with hubdb.read() as conn:
        found: int = conn.scalar(select(func.count()).select_from(schema.alarm_actions)) or 0
    return found


def test_an_ack_applies_at_once_and_queues_an_action(raised: HubDB) -> None:
    held = hub_actions.acknowledge_alarm(raised, "a1", ANN, T0 + 5)
    assert (held.alarm.state, held.alarm.acked_by, held.alarm.acked_at) == (
        "acknowledged",
        "ann",
        T0 + 5,
    )
    assert (alarms.get_alarm(raised, "a1"), actions(raised)) == (held, 1)


def test_acknowledging_twice_keeps_the_first(raised: HubDB) -> None:
    first = hub_actions.acknowledge_alarm(raised, "a1", ANN, T0 + 5)
    again = hub_actions.acknowledge_alarm(raised, "a1", User(2, "bob", "admin"), T0 + 9)
    assert (again, actions(raised)) == (first, 1)


@pytest.mark.parametrize("role", ["energy", "security"])
def test_only_some_roles_acknowledge(raised: HubDB, role: str) -> None:
    with pytest.raises(NotPermitted, match=f"role '{role}' may not act on alarms"):
        hub_actions.acknowledge_alarm(raised, "a1", User(3, "eve", role), T0)
    assert alarms.get_alarm(raised, "a1").alarm.state == "unacknowledged"


def test_an_unknown_alarm(raised: HubDB) -> None:
    with pytest.raises(UnknownAlarm, match="no alarm 'nope'"):
        hub_actions.acknowledge_alarm(raised, "nope", ANN, T0)


def test_records_and_alarms_convert_both_ways() -> None:
    record = alarm(acked_at=T0 + 1, acked_by="Li", value=None)
    assert alarms.from_record(record).acked_by == "Li"
    assert alarms.row_values(alarms.from_record(record))["state"] == "acknowledged"
