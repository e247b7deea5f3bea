import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent import downlink, store
from agent.config import SiteConfig, parse_site
from agent.counters import CounterGuard
from agent.downlink import NewConfig
from agent.manual import import_csv
from agent.writer import SyncAcked, Tick, Writer
from collector.models import AccessEvent, Reading, Rejection
from rules.alarm import AlarmChange
from rules.engine import Engine
from sync.protocol import ActionRecord, ConfigVersion
from tests.support.site import site_config, site_yaml
from tests.support.sqlite import rows

T0 = 1_763_900_000.0


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "agent.db"


def make_writer(
    db: Path,
    now: float = T0,
    max_queue: int = 100_000,
    config: SiteConfig | None = None,
    engine_type: type[Engine] = Engine,
) -> Writer:
    config = config or site_config(db, "mqtt://127.0.0.1:1")
    conn = store.open_store(db, config.site.id)
    engine = engine_type.restore(
        list(config.rules), now, store.rule_states(conn), store.open_alarms(conn)
    )
    return Writer(conn, engine, commit_interval=0.01, max_queue=max_queue)


def start_writer(db: Path, now: float = T0, config: SiteConfig | None = None) -> Writer:
    writer = make_writer(db, now, config=config)
    writer.start()
    return writer


@pytest.fixture
def writer(db: Path) -> Iterator[Writer]:
    running = start_writer(db)
    yield running
    running.stop()


def temp(value: float, at: float) -> Reading:
    return Reading("freezer-1", "temperature", at, value, at)


def test_acknowledgements_run_only_after_the_commit(writer: Writer, db: Path) -> None:
    seen: list[int] = []

    def ack() -> None:
        seen.append(rows(db, "SELECT COUNT(*) FROM readings")[0][0])

    writer.submit(temp(-18.0, T0), ack)
    assert writer.flush()
    assert seen == [1]


def test_a_full_queue_holds_the_sender_until_the_writer_catches_up(db: Path) -> None:
    writer = make_writer(db, max_queue=2)
    writer.submit(temp(-18.0, T0))
    writer.submit(temp(-18.5, T0 + 1))
    third = threading.Thread(target=writer.submit, args=(temp(-19.0, T0 + 2),))
    third.start()
    third.join(0.2)
    held = third.is_alive()
    writer.start()
    third.join(5)
    assert writer.flush()
    writer.stop()
    assert (held, third.is_alive()) == (True, False)
    assert rows(db, "SELECT value FROM readings ORDER BY ts") == [(-18.0,), (-18.5,), (-19.0,)]


def test_a_message_of_many_readings_is_evaluated_in_order(writer: Writer, db: Path) -> None:
    writer.submit_many([temp(-18.0, T0), temp(-12.0, T0 + 1)])
    writer.submit_many([temp(v, T0 + 400) for v in (-12.0, -11.0, -18.0)])
    assert writer.flush()
    # freezer-warm (above -15 for 5m, deadband 1) on the agent clock: the breach began at
    # T0 + 1; the second message comes past the on-delay, its first value raises, its last clears.
    assert rows(db, "SELECT kind, json_extract(snapshot, '$.value') FROM alarm_events") == [
        ("raised", -12.0),
        ("cleared", -18.0),
    ]


def test_every_kind_of_record_is_stored(writer: Writer, db: Path) -> None:
    writer.submit(Reading("main-meter", "energy", T0, 1234.5, T0 + 1))
    writer.submit(AccessEvent("gate-north", T0, "C001", "denied", "in", "unknown card", T0))
    writer.submit(Rejection("fw/clinic/x/power", b"\xff", "unknown device 'x'", T0, "x"))
    assert writer.flush()
    assert rows(db, "SELECT device, metric, ts, value, received_at FROM readings") == [
        ("main-meter", "energy", T0, 1234.5, T0 + 1)
    ]
    assert rows(db, "SELECT card, result, reason FROM access_events") == [
        ("C001", "denied", "unknown card")
    ]
    assert rows(db, "SELECT topic, payload, reason FROM quarantine") == [
        ("fw/clinic/x/power", b"\xff", "unknown device 'x'")
    ]
    assert writer.stats.quarantined["x"] == 1


def test_a_breach_raises_an_alarm_and_its_history(writer: Writer, db: Path) -> None:
    writer.submit(temp(-18.0, T0))
    writer.submit(temp(-12.0, T0 + 60))
    writer.submit(temp(-17.0, T0 + 120))
    assert writer.flush()
    assert rows(db, "SELECT rule, state, raised_at, cleared_at FROM alarms") == [
        ("freezer-warm", "cleared_unacknowledged", T0 + 60, T0 + 120)
    ]
    assert rows(db, "SELECT kind FROM alarm_events ORDER BY id") == [("raised",), ("cleared",)]


def test_stale_rule_fires_on_the_tick(writer: Writer, db: Path) -> None:
    writer.submit(Tick(T0 + 3601))
    assert writer.flush()
    assert rows(db, "SELECT rule, state FROM alarms") == [("freezer-silent", "unacknowledged")]


def test_a_hub_ack_is_applied_once_and_reported(writer: Writer, db: Path) -> None:
    writer.submit(temp(-10.0, T0))
    assert writer.flush()
    alarm_id = rows(db, "SELECT id FROM alarms")[0][0]
    action = ActionRecord(id=7, alarm_id=str(alarm_id), action="ack", by="wang", at=T0 + 5)
    acked = SyncAcked(cursors={"readings": 1}, actions=[action], reported=[], at=T0 + 6)
    writer.submit(acked)
    writer.submit(acked)
    assert writer.flush()
    assert rows(db, "SELECT state, acked_by, acked_at FROM alarms") == [
        ("acknowledged", "wang", T0 + 5)
    ]
    assert rows(db, "SELECT kind, by FROM alarm_events ORDER BY id") == [
        ("raised", None),
        ("acked", "wang"),
    ]
    assert rows(db, "SELECT id, reported FROM hub_actions") == [(7, 0)]
    writer.submit(SyncAcked(cursors={}, actions=[], reported=[7], at=T0 + 7))
    assert writer.flush()
    assert rows(db, "SELECT id, reported FROM hub_actions") == [(7, 1)]


def test_an_active_condition_survives_a_restart_without_a_second_alarm(db: Path) -> None:
    first = start_writer(db)
    first.submit(temp(-10.0, T0))
    assert first.flush()
    first.stop()
    first.conn.close()
    second = start_writer(db, now=T0 + 100)
    second.submit(temp(-9.0, T0 + 100))
    second.submit(temp(-20.0, T0 + 200))
    assert second.flush()
    second.stop()
    assert rows(db, "SELECT kind FROM alarm_events ORDER BY id") == [("raised",), ("cleared",)]
    assert rows(db, "SELECT COUNT(*) FROM alarms") == [(1,)]


def test_a_redelivered_message_is_stored_once_and_counted(writer: Writer, db: Path) -> None:
    reading = Reading("main-meter", "energy", T0, 1234.5, T0 + 1)
    swipe = AccessEvent("gate-north", T0, "C001", "granted", "in", None, T0)
    writer.submit(reading)
    writer.submit(swipe)
    assert writer.flush()
    writer.submit(reading._replace(received_at=T0 + 9))
    writer.submit(replace(swipe, received_at=T0 + 9))
    writer.submit(reading._replace(ts=T0 + 60, value=1235.0))
    assert writer.flush()
    assert rows(db, "SELECT ts, value, received_at FROM readings ORDER BY id") == [
        (T0, 1234.5, T0 + 1),
        (T0 + 60, 1235.0, T0 + 1),
    ]
    assert rows(db, "SELECT COUNT(*) FROM access_events") == [(1,)]
    assert (writer.stats.readings, writer.stats.access_events, writer.stats.duplicates) == (2, 1, 2)


def test_two_values_at_one_device_time_are_two_readings(writer: Writer, db: Path) -> None:
    door = Reading("door-1", "contact", T0, 1.0, T0)
    writer.submit_many([door, door._replace(value=0.0, received_at=T0 + 0.3)])
    assert writer.flush()
    assert rows(db, "SELECT ts, value FROM readings ORDER BY id") == [(T0, 1.0), (T0, 0.0)]
    assert writer.stats.duplicates == 0


def test_a_poison_entry_is_quarantined_and_the_rest_committed(writer: Writer, db: Path) -> None:
    acked: list[str] = []
    # A lone surrogate cannot be stored by SQLite; the parser refuses it, the writer must too.
    writer.submit(temp(-18.0, T0), lambda: acked.append("before"))
    writer.submit(Reading("freezer-1", "temp\ud800", T0, 1.0, T0), lambda: acked.append("poison"))
    writer.submit(temp(-18.5, T0 + 1), lambda: acked.append("after"))
    assert writer.flush()
    assert rows(db, "SELECT value FROM readings ORDER BY ts") == [(-18.0,), (-18.5,)]
    assert rows(db, "SELECT topic, device FROM quarantine") == [("internal/Reading", None)]
    assert sorted(acked) == ["after", "before", "poison"]


DAY = 86400.0
HEADER = "device,time,value,metric\n"


def hand_read_site(db: Path) -> SiteConfig:
    """The test clinic with a water meter read by hand, which a rule expects a reading from a
    month."""
    yaml = (
        site_yaml(db, "mqtt://127.0.0.1:1")
        .replace("posts:", "  - {id: water-2, name: Hand-read water, kind: water_meter}\nposts:")
        .replace(
            "rules:", "rules:\n  - {id: water-silent, type: stale, device: water-2, after: 35d}"
        )
    )
    config, _ = parse_site(yaml, env={})
    return config


def row(device: str, ts: float, value: float, metric: str = "") -> str:
    return f"{device},{datetime.fromtimestamp(ts, UTC).isoformat()},{value},{metric}\n"


def import_at(db: Path, now: float, text: str) -> None:
    """``agent import-readings`` at ``now``, on its own connection as from its own process."""
    conn = store.open_store(db, "clinic")
    report = import_csv(conn, hand_read_site(db), HEADER + text, now)
    conn.close()
    assert report.rejected == []


def history(db: Path, rule: str) -> list[tuple[object, ...]]:
    return rows(
        db,
        "SELECT e.kind, e.at, json_extract(e.snapshot, '$.value') FROM alarm_events e"
        f" JOIN alarms a ON a.id = e.alarm_id WHERE a.rule = '{rule}' ORDER BY e.id",
    )


def test_a_reading_imported_while_the_agent_runs_keeps_its_stale_rule_quiet(db: Path) -> None:
    writer = start_writer(db, config=hand_read_site(db))
    import_at(db, T0 + 34 * DAY, row("water-2", T0 + 33 * DAY, 120.0))
    writer.submit(Tick(T0 + 36 * DAY))
    assert writer.flush()
    writer.stop()
    assert rows(db, "SELECT rule FROM alarms") == [("freezer-silent",)]
    assert rows(db, "SELECT COUNT(*) FROM import_queue") == [(0,)]


def test_a_reading_imported_while_the_agent_is_down_is_evaluated_when_it_starts(
    db: Path,
) -> None:
    first = start_writer(db, config=hand_read_site(db))
    first.submit(Tick(T0 + 36 * DAY))
    assert first.flush()
    first.stop()
    first.conn.close()
    import_at(db, T0 + 37 * DAY, row("water-2", T0 + 37 * DAY - 3600, 120.0))
    second = start_writer(db, now=T0 + 38 * DAY, config=hand_read_site(db))
    second.submit(Tick(T0 + 38 * DAY))
    assert second.flush()
    second.stop()
    # On the agent's clock: the reading arrived when it was imported.
    assert history(db, "water-silent") == [
        ("raised", T0 + 36 * DAY, None),
        ("cleared", T0 + 37 * DAY, 120.0),
    ]


def test_imported_readings_are_evaluated_once_in_time_order(writer: Writer, db: Path) -> None:
    # freezer-warm: above -15 raises at once, -17 is back inside the deadband.
    import_at(
        db,
        T0 + 600,
        row("freezer-1", T0 + 500, -17, "temperature")
        + row("freezer-1", T0 + 400, -10, "temperature"),
    )
    writer.submit(Tick(T0 + 601))
    writer.submit(Tick(T0 + 602))
    assert writer.flush()
    assert history(db, "freezer-warm") == [
        ("raised", T0 + 600, -10.0),
        ("cleared", T0 + 600, -17.0),
    ]


def test_a_rolled_back_tick_leaves_the_imports_queued(writer: Writer, db: Path) -> None:
    import_at(db, T0 + 600, row("freezer-1", T0 + 400, -10, "temperature"))
    # A lone surrogate cannot be stored: the tick's transaction rolls back with it.
    writer.submit_many([Tick(T0 + 601), Reading("freezer-1", "temp\ud800", T0, 1.0, T0)])
    assert writer.flush()
    assert history(db, "freezer-warm") == []
    assert rows(db, "SELECT COUNT(*) FROM import_queue") == [(1,)]
    writer.submit(Tick(T0 + 602))
    assert writer.flush()
    assert history(db, "freezer-warm") == [("raised", T0 + 600, -10.0)]
    assert rows(db, "SELECT COUNT(*) FROM import_queue") == [(0,)]


def test_imports_follow_their_readings_when_the_hub_renumbers_them(
    writer: Writer, db: Path
) -> None:
    import_at(db, T0 + 600, row("freezer-1", T0 + 400, -10, "temperature"))
    writer.submit(SyncAcked(cursors={"readings": 1000}, actions=[], reported=[], at=T0 + 601))
    writer.submit(Tick(T0 + 602))
    assert writer.flush()
    assert rows(db, "SELECT id FROM readings") == [(1001,)]
    assert history(db, "freezer-warm") == [("raised", T0 + 600, -10.0)]


class WaterBreaksTheRules(Engine):
    def on_series(
        self, device: str, metric: str, values: Sequence[float], at: float
    ) -> list[AlarmChange]:
        if device == "water-2":
            raise RuntimeError("a bug meeting odd input")
        return super().on_series(device, metric, values, at)


def test_imports_the_rules_fail_on_are_quarantined_and_the_rest_evaluated(db: Path) -> None:
    writer = make_writer(db, config=hand_read_site(db), engine_type=WaterBreaksTheRules)
    writer.start()
    import_at(
        db, T0 + 600, row("water-2", T0 + 400, 120) + row("freezer-1", T0 + 400, -10, "temperature")
    )
    writer.submit(Tick(T0 + 601))
    assert writer.flush()
    writer.stop()
    assert rows(db, "SELECT topic, device FROM quarantine") == [("internal/import", "water-2")]
    assert history(db, "freezer-warm") == [("raised", T0 + 600, -10.0)]
    assert rows(db, "SELECT COUNT(*) FROM import_queue") == [(0,)]


ACCESS_RULES = """
  - {id: gate-burst, type: denied_burst, device: gate-north, count: 3, window: 1m}
  - {id: door-forced, type: door_forced, device: door-1, reader: gate-north, late_grant: 0s}
"""


def access_writer(db: Path) -> Writer:
    yaml = site_yaml(db, "mqtt://127.0.0.1:1").replace("rules:\n", "rules:\n" + ACCESS_RULES)
    config, _ = parse_site(yaml, env={})
    return start_writer(db, config=config)


def test_access_events_reach_the_rules_once(db: Path) -> None:
    writer = access_writer(db)
    denied = [
        AccessEvent("gate-north", T0 + i, "C7", "denied", "in", None, T0 + i) for i in range(4)
    ]
    for event in [*denied[:3], replace(denied[2], received_at=T0 + 3.5)]:  # one redelivered
        writer.submit(event)
    assert writer.flush()
    quiet = rows(db, "SELECT COUNT(*) FROM alarms")
    writer.submit(denied[3])  # the fourth denial within the minute: more than 3
    assert writer.flush()
    writer.stop()
    assert quiet == [(0,)]
    assert rows(db, "SELECT rule, state, raised_at FROM alarms") == [
        ("gate-burst", "cleared_unacknowledged", T0 + 3)
    ]


def test_a_door_opening_without_a_grant_is_forced(db: Path) -> None:
    writer = access_writer(db)
    door = Reading("door-1", "contact", T0, 0.0, T0)
    granted = AccessEvent("gate-north", T0 + 9, "C1", "granted", "in", None, T0 + 9)
    writer.submit(door)
    writer.submit(granted)
    writer.submit(door._replace(value=1.0, ts=T0 + 10, received_at=T0 + 10))  # after a grant
    writer.submit(door._replace(ts=T0 + 20, received_at=T0 + 20))
    writer.submit(door._replace(value=1.0, ts=T0 + 60, received_at=T0 + 60))  # no grant
    assert writer.flush()
    writer.stop()
    assert rows(db, "SELECT rule, raised_at FROM alarms") == [("door-forced", T0 + 60)]


def test_a_live_meter_counts_on_from_a_replacement_entered_by_hand(db: Path) -> None:
    config = hand_read_site(db)
    conn = store.open_store(db, config.site.id)
    engine = Engine.restore(list(config.rules), T0, {}, [])
    guard = CounterGuard(conn, config.device_map())
    writer = Writer(conn, engine, commit_interval=0.01, guard=guard)
    writer.start()
    writer.submit(Reading("water-2", "water", T0, 100.0, T0))
    assert writer.flush()
    conn_import = store.open_store(db, "clinic")
    text = "device,time,value,metric,replacement\n" + row("water-2", T0 + 3_600, 5.0, "water")
    report = import_csv(conn_import, config, text.rstrip("\n") + ",yes\n", T0 + 3_700)
    conn_import.close()
    writer.submit(Tick(T0 + 3_800))  # the import reaches the writer
    writer.submit(Reading("water-2", "water", T0 + 7_200, 6.0, T0 + 7_200))
    assert writer.flush()
    writer.stop()
    assert report.rejected == []
    # Counting goes on from the new meter's 5, not the old meter's 100: no spurious reset.
    assert rows(db, "SELECT kind, value, previous FROM meter_events") == [
        ("replacement", 5.0, 100.0)
    ]


ONLY_THE_DOOR = """\
devices: [{id: door-1, kind: door}, {id: freezer-1, kind: temperature}]
rules: [{id: door-open, type: threshold, device: door-1, metric: contact, above: 0.5}]
"""


def new_config(db: Path, text: str, at: float) -> NewConfig:
    version = ConfigVersion(version=1, format="yaml", text=text, by="root", at=at)
    return downlink.check(site_config(db, "mqtt://127.0.0.1:1"), version, at)


def test_a_new_configuration_clears_the_alarm_of_a_removed_rule(writer: Writer, db: Path) -> None:
    switched: list[SiteConfig] = []
    writer.on_reconfigure = switched.append
    writer.submit(temp(-12.0, T0))
    writer.submit(new_config(db, ONLY_THE_DOOR, T0 + 10))
    writer.submit(temp(-11.0, T0 + 20))
    writer.submit(Reading("door-1", "contact", T0 + 30, 1.0, T0 + 30))
    assert writer.flush()
    assert rows(
        db,
        "SELECT a.rule, e.kind, e.at FROM alarm_events e JOIN alarms a"
        " ON a.id = e.alarm_id ORDER BY e.id",
    ) == [
        ("freezer-warm", "raised", T0),
        ("freezer-warm", "cleared", T0 + 10),
        ("door-open", "raised", T0 + 30),
    ]
    assert rows(db, "SELECT rule FROM rule_states") == [("door-open",)]
    assert rows(db, "SELECT version, applied_at, error FROM hub_config") == [(1, T0 + 10, None)]
    assert [[r.id for r in c.rules] for c in switched] == [["door-open"]]


def test_a_refused_configuration_changes_nothing_but_its_record(writer: Writer, db: Path) -> None:
    writer.submit(new_config(db, "rules: [{id: x, type: stale, device: nope, after: 1m}]", T0))
    writer.submit(temp(-12.0, T0 + 20))
    assert writer.flush()
    assert [r.id for r in writer.engine.rules] == ["freezer-warm", "freezer-silent"]
    assert rows(db, "SELECT rule FROM alarms") == [("freezer-warm",)]
    assert rows(db, "SELECT version, applied_at, error FROM hub_config") == [
        (1, None, "rules[0].device: unknown device 'nope'")
    ]
