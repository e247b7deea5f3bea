from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Table, func, select

from rules.alarm import Alarm
from sync.hub import actions as hub_actions
from sync.hub import alarms, auth, schema
from sync.hub.db import HubDB
from sync.hub.errors import InvalidBatch, WrongSite
from sync.hub.ingest import advance, apply_batch
from sync.protocol import Chunk, ClockReport, ReadingRecord, StoreReport, SyncAck, SyncBatch
from tests.hubfixtures import (
    DEVICES,
    T0,
    access,
    alarm,
    alarm_event,
    batch,
    excursion,
    meter_event,
    reading,
    rollup,
)

MAINTENANCE = auth.User(id=1, name="ann", role="maintenance")


def count(hubdb: HubDB, table: Table) -> int:
    with hubdb.read() as conn:
        found: int = conn.scalar(select(func.count()).select_from(table)) or 0
    return found


def hub_alarm(hubdb: HubDB, alarm_id: str = "a1") -> Alarm:
    return alarms.get_alarm(hubdb, alarm_id).alarm


def full_batch() -> SyncBatch:
    return batch(
        readings=[reading(1), reading(2, ts=T0 + 1)],
        access_events=[access(1)],
        alarm_events=[alarm_event(1, alarm())],
        meter_events=[meter_event(1), meter_event(2, ts=T0 + 1, kind="gap")],
        rollups=[rollup(1, replaces=(2, 9))],
        excursions=[excursion(1)],
        devices=DEVICES,
    )


def test_a_batch_sent_twice_is_stored_once(hubdb: HubDB) -> None:
    first = apply_batch(hubdb, "clinic", full_batch(), T0)
    second = apply_batch(hubdb, "clinic", full_batch(), T0 + 1)
    tables = (schema.readings, schema.access_events, schema.alarms, schema.alarm_events)
    more = (schema.meter_events, schema.rollups, schema.excursions, schema.devices)
    stored = [count(hubdb, t) for t in (*tables, *more)]
    assert stored == [2, 1, 1, 1, 2, 1, 1, 2]
    assert (
        first.acked
        == second.acked
        == {
            "readings": 2,
            "access_events": 1,
            "alarm_events": 1,
            "meter_events": 2,
            "actions": 0,
            "rollups": 1,
            "excursions": 1,
        }
    )


def test_meter_events_are_stored_as_sent(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(meter_events=[meter_event(1, previous=None)]), T0)
    with hubdb.read() as conn:
        rows = conn.execute(select(schema.meter_events)).mappings().all()
    assert [dict(row) for row in rows] == [
        {
            "site": "clinic",
            "seq": 1,
            "device": "main-meter",
            "metric": "energy",
            "ts": T0,
            "kind": "reset",
            "value": 3.0,
            "previous": None,
        }
    ]


def test_meter_events_resume_after_a_gap(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(meter_events=[meter_event(1)]), T0)
    gap = apply_batch(hubdb, "clinic", batch(meter_events=[meter_event(3)], after=2), T0)
    resent = apply_batch(
        hubdb, "clinic", batch(meter_events=[meter_event(2), meter_event(3)], after=1), T0
    )
    assert (gap.acked["meter_events"], resent.acked["meter_events"]) == (1, 3)
    assert count(hubdb, schema.meter_events) == 3


def test_an_older_agents_batch_without_meter_events_is_taken(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(meter_events=[meter_event(1)]), T0)
    old = batch(readings=[reading(1)]).model_copy(update={"meter_events": None})
    ack = apply_batch(hubdb, "clinic", old, T0)
    assert ack.acked == {
        "readings": 1,
        "access_events": 0,
        "alarm_events": 0,
        "meter_events": 1,
        "actions": 0,
        "rollups": 0,
        "excursions": 0,
    }


def test_stand_in_rollups_are_stored_as_sent_and_resume_after_a_gap(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(rollups=[rollup(1, replaces=(0, 40))]), T0)
    gap = apply_batch(hubdb, "clinic", batch(rollups=[rollup(3)], after=2), T0)
    resent = apply_batch(hubdb, "clinic", batch(rollups=[rollup(2), rollup(3)], after=1), T0)
    with hubdb.read() as conn:
        first = conn.execute(select(schema.rollups).limit(1)).mappings().one()
    assert (gap.acked["rollups"], resent.acked["rollups"], count(hubdb, schema.rollups)) == (
        1,
        3,
        3,
    )
    assert dict(first) == rollup(1, replaces=(0, 40)).model_dump() | {"site": "clinic"}


def test_an_older_agents_batch_without_rollups_or_a_store_report_is_taken(hubdb: HubDB) -> None:
    old = batch(readings=[reading(1)]).model_copy(update={"rollups": None, "store": None})
    ack = apply_batch(hubdb, "clinic", old, T0)
    assert (ack.acked["readings"], ack.acked["rollups"], count(hubdb, schema.site_stores)) == (
        1,
        0,
        0,
    )


def test_the_last_store_report_is_kept_per_site(hubdb: HubDB) -> None:
    for n, size in enumerate((100, 250)):
        report = StoreReport(size=size, max_size=500, pressure=n == 1, thinned={"synced": n})
        apply_batch(hubdb, "clinic", batch().model_copy(update={"store": report}), T0 + n)
    with hubdb.read() as conn:
        rows = conn.execute(select(schema.site_stores)).mappings().all()
    assert [dict(r) for r in rows] == [
        {
            "site": "clinic",
            "size": 250,
            "max_size": 500,
            "pressure": True,
            "thinned": '{"synced": 1}',
            "reported_at": T0 + 1,
        }
    ]


@pytest.mark.parametrize(
    ("cursor", "after", "through", "expected"),
    [
        (0, 0, 5, 5),  # first chunk
        (5, 5, 9, 9),  # the next one
        (5, 3, 9, 9),  # overlaps what the hub holds: resent after a lost answer
        (9, 3, 5, 9),  # entirely old: never moves back
        (5, 6, 9, 5),  # a gap: 6 is missing, the agent resends from 5
        (0, 7, 7, 0),  # an empty chunk beyond the cursor proves nothing
        (5, 5, 5, 5),  # nothing new
    ],
)
def test_cursor_advances_only_over_complete_ranges(
    cursor: int, after: int, through: int, expected: int
) -> None:
    assert advance(cursor, Chunk[ReadingRecord](after=after, through=through)) == expected


def test_a_gap_keeps_the_cursor_and_the_resend_closes_it(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(readings=[reading(1), reading(2)]), T0)
    gap = apply_batch(hubdb, "clinic", batch(readings=[reading(5)], after=4), T0)
    resent = apply_batch(
        hubdb, "clinic", batch(readings=[reading(3), reading(4), reading(5)], after=2), T0
    )
    assert (gap.acked["readings"], resent.acked["readings"]) == (2, 5)
    assert count(hubdb, schema.readings) == 5


def test_streams_have_their_own_cursors(hubdb: HubDB) -> None:
    ack = apply_batch(hubdb, "clinic", batch(access_events=[access(1), access(2)]), T0)
    assert ack.acked == {
        "readings": 0,
        "access_events": 2,
        "alarm_events": 0,
        "meter_events": 0,
        "actions": 0,
        "rollups": 0,
        "excursions": 0,
    }


def test_sites_are_numbered_apart(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch("clinic", readings=[reading(1)]), T0)
    ack = apply_batch(hubdb, "school", batch("school", readings=[reading(1)]), T0)
    assert (ack.acked["readings"], count(hubdb, schema.readings)) == (1, 2)


def test_an_agent_writes_only_its_own_site(hubdb: HubDB) -> None:
    with pytest.raises(WrongSite, match="belongs to site 'clinic'"):
        apply_batch(hubdb, "clinic", batch("school", readings=[reading(1)]), T0)
    assert count(hubdb, schema.readings) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"protocol": 2}, "protocol 2"),
        ({"readings": {"after": 5, "through": 4, "items": []}}, "through 4 < after 5"),
        ({"readings": {"after": 0, "through": 1, "items": [reading(2)]}}, r"seq 2 outside"),
        ({"access_events": {"after": 1, "through": 2, "items": [access(1)]}}, r"seq 1 outside"),
        (
            {"meter_events": {"after": 0, "through": 1, "items": [meter_event(-1)]}},
            r"meter_events: seq -1 outside",
        ),
    ],
)
def test_a_batch_that_breaks_the_protocol_is_refused(
    hubdb: HubDB, change: dict[str, Any], message: str
) -> None:
    bad = SyncBatch.model_validate(batch().model_dump() | change)
    with pytest.raises(InvalidBatch, match=message):
        apply_batch(hubdb, "clinic", bad, T0)


def test_the_site_row_follows_the_agent(hubdb: HubDB) -> None:
    clock = ClockReport(offset=-2.5, round_trip=0.25, measured_at=T0 + 6)
    apply_batch(
        hubdb, "clinic", batch().model_copy(update={"quarantined": 3, "clock": clock}), T0 + 5
    )
    with hubdb.read() as conn:
        row = conn.execute(select(schema.sites)).mappings().one()
    assert dict(row) == {
        "id": "clinic",
        "name": "clinic",
        "timezone": None,
        "last_sync_at": T0 + 5,
        "agent_version": "test",
        "quarantined": 3,
        "clock_offset": -2.5,
        "clock_round_trip": 0.25,
        # On the hub's clock.
        "clock_measured_at": T0 + 3.5,
    }


def test_a_batch_without_a_clock_report_keeps_the_last_one(hubdb: HubDB) -> None:
    clock = ClockReport(offset=1.0, round_trip=0.1, measured_at=T0)
    apply_batch(hubdb, "clinic", batch().model_copy(update={"clock": clock}), T0)
    apply_batch(hubdb, "clinic", batch(), T0 + 5)
    with hubdb.read() as conn:
        row = conn.execute(select(schema.sites.c.clock_offset)).one()
    assert row == (1.0,)


def test_the_site_takes_its_name_and_time_zone_from_the_agent(hubdb: HubDB) -> None:
    named = batch().model_copy(update={"site_name": "诊所 Clinic", "timezone": "Asia/Shanghai"})
    apply_batch(hubdb, "clinic", named, T0)
    apply_batch(hubdb, "clinic", batch(), T0 + 5)
    with hubdb.read() as conn:
        row = conn.execute(select(schema.sites.c.name, schema.sites.c.timezone)).one()
    assert tuple(row) == ("诊所 Clinic", "Asia/Shanghai")


def test_devices_are_updated_when_sent(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(devices=DEVICES), T0)
    renamed = [DEVICES[0].model_copy(update={"name": "Freezer <b>"})]
    apply_batch(hubdb, "clinic", batch(devices=renamed), T0)
    with hubdb.read() as conn:
        names = {i: n for i, n in conn.execute(select(schema.devices.c.id, schema.devices.c.name))}
    assert names == {"freezer-1": "Freezer <b>", "gate-north": "North gate"}


def test_latest_reading_ignores_late_arrivals(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(readings=[reading(1, ts=T0, value=-18)]), T0)
    apply_batch(hubdb, "clinic", batch(readings=[reading(2, ts=T0 + 60, value=-17)], after=1), T0)
    late = batch(readings=[reading(3, ts=T0 - 600, value=-30)], after=2)
    apply_batch(hubdb, "clinic", late, T0)
    with hubdb.read() as conn:
        latest = conn.execute(select(schema.latest_readings.c.ts, schema.latest_readings.c.value))
        assert [tuple(row) for row in latest] == [(T0 + 60, -17.0)]


def test_an_ack_at_the_hub_survives_an_older_agent_snapshot(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(alarm_events=[alarm_event(1, alarm())]), T0)
    hub_actions.acknowledge_alarm(hubdb, "a1", MAINTENANCE, T0 + 10)
    apply_batch(hubdb, "clinic", batch(alarm_events=[alarm_event(1, alarm())]), T0 + 20)
    assert (hub_alarm(hubdb).state, hub_alarm(hubdb).acked_by) == ("acknowledged", "ann")


def test_an_agent_clear_keeps_the_hub_ack(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(alarm_events=[alarm_event(1, alarm())]), T0)
    hub_actions.acknowledge_alarm(hubdb, "a1", MAINTENANCE, T0 + 10)
    cleared = alarm(active=False, changed_at=T0 + 30, cleared_at=T0 + 30)
    apply_batch(hubdb, "clinic", batch(alarm_events=[alarm_event(2, cleared, "cleared")]), T0)
    assert (hub_alarm(hubdb).state, hub_alarm(hubdb).cleared_at) == ("normal", T0 + 30)


def test_events_of_one_alarm_in_one_batch_merge(hubdb: HubDB) -> None:
    acked = alarm(acked_at=T0 + 5, acked_by="Li")
    cleared = alarm(active=False, changed_at=T0 + 9, cleared_at=T0 + 9)
    events = [alarm_event(1, alarm()), alarm_event(2, acked, "acked"), alarm_event(3, cleared)]
    apply_batch(hubdb, "clinic", batch(alarm_events=events), T0)
    assert (hub_alarm(hubdb).state, hub_alarm(hubdb).acked_by) == ("normal", "Li")
    assert count(hubdb, schema.alarm_events) == 3


def test_another_sites_alarm_id_is_not_taken_over(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(alarm_events=[alarm_event(1, alarm())]), T0)
    forged = alarm(active=False, changed_at=T0 + 9, message="forged")
    apply_batch(hubdb, "school", batch("school", alarm_events=[alarm_event(1, forged)]), T0)
    assert alarms.get_alarm(hubdb, "a1") == alarms.HubAlarm("clinic", alarms.from_record(alarm()))


def test_actions_are_returned_until_the_agent_applied_them(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(alarm_events=[alarm_event(1, alarm())]), T0)
    hub_actions.acknowledge_alarm(hubdb, "a1", MAINTENANCE, T0 + 10)
    first = apply_batch(hubdb, "clinic", batch(after=1), T0 + 11)
    again = apply_batch(hubdb, "clinic", batch(after=1), T0 + 12)
    applied = apply_batch(hubdb, "clinic", batch(after=1, applied_actions=[1]), T0 + 13)
    assert [(a.id, a.alarm_id, a.action, a.by, a.at) for a in first.actions] == [
        (1, "a1", "ack", "ann", T0 + 10)
    ]
    assert (again.actions, applied.actions) == (first.actions, [])


def test_a_site_does_not_see_or_apply_another_sites_actions(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(alarm_events=[alarm_event(1, alarm())]), T0)
    hub_actions.acknowledge_alarm(hubdb, "a1", MAINTENANCE, T0 + 10)
    other = apply_batch(hubdb, "school", batch("school", applied_actions=[1]), T0 + 11)
    own = apply_batch(hubdb, "clinic", batch(after=1), T0 + 12)
    assert (other.actions, [a.id for a in own.actions]) == ([], [1])


def test_the_answer_carries_the_hub_clock(hubdb: HubDB) -> None:
    assert apply_batch(hubdb, "clinic", batch(), T0 + 42).server_time == T0 + 42


def test_concurrent_batches_store_everything_once(hubdb: HubDB) -> None:
    def send(n: int) -> SyncAck:
        readings = [reading(seq) for seq in range(1, 51)]
        site = ("clinic", "school")[n % 2]
        return apply_batch(hubdb, site, batch(site, readings=readings), T0 + n)

    with ThreadPoolExecutor(8) as pool:
        acks = list(pool.map(send, range(16)))
    assert {a.acked["readings"] for a in acks} == {50}
    assert count(hubdb, schema.readings) == 100


def test_an_ack_of_an_ended_excursion_does_not_silence_the_next_one(hubdb: HubDB) -> None:
    cleared = alarm(active=False, changed_at=T0 + 30, cleared_at=T0 + 30)
    apply_batch(hubdb, "clinic", batch(alarm_events=[alarm_event(1, cleared, "cleared")]), T0)
    hub_actions.acknowledge_alarm(hubdb, "a1", MAINTENANCE, T0 + 100)
    # Meanwhile, offline, the site saw the condition come back before it heard of the ack.
    again = alarm(changed_at=T0 + 60, activations=2)
    ack = apply_batch(
        hubdb, "clinic", batch(alarm_events=[alarm_event(2, again, "reraised")], after=1), T0
    )
    assert (hub_alarm(hubdb).state, hub_alarm(hubdb).activations) == ("unacknowledged", 2)
    assert [(a.alarm_id, a.activation) for a in ack.actions] == [("a1", 1)]


def test_the_last_swipe_per_gate_is_kept_and_a_resend_does_not_roll_it_back(
    hubdb: HubDB,
) -> None:
    newer = batch(access_events=[access(1, ts=T0, card="A"), access(2, ts=T0 + 9, card="B")])
    apply_batch(hubdb, "clinic", newer, T0)
    apply_batch(hubdb, "clinic", batch(access_events=[access(1, ts=T0, card="A")]), T0)
    with hubdb.read() as conn:
        rows = conn.execute(
            select(schema.latest_access.c.device, schema.latest_access.c.card)
        ).all()
    assert [tuple(r) for r in rows] == [("gate-north", "B")]
