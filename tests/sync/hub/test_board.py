from sync.hub import board
from sync.hub.db import HubDB
from sync.hub.ingest import apply_batch
from tests.hubfixtures import DEVICES, T0, alarm, alarm_event, batch, reading


def test_a_board_per_site_with_open_alarms_and_latest_values(hubdb: HubDB) -> None:
    closed = alarm("a0", active=False, acked_at=T0, acked_by="Li")
    events = [alarm_event(1, alarm("a1")), alarm_event(2, closed)]
    readings = [reading(1, value=-18), reading(2, ts=T0 + 9, value=-16), reading(3, device="x")]
    full = batch(readings=readings, alarm_events=events, devices=DEVICES)
    apply_batch(hubdb, "clinic", full, T0)
    [clinic] = board.dashboard(hubdb, T0)
    assert [h.alarm.id for h in clinic.alarms] == ["a1"]
    assert [(r.device.label, r.device.kind, r.value) for r in clinic.readings] == [
        ("Kitchen freezer", "temperature", -16.0),
        ("x", None, 1.0),
    ]
    assert (clinic.device("freezer-1").building, clinic.device("gone").label) == ("Canteen", "gone")


def test_no_sites_no_boards(hubdb: HubDB) -> None:
    assert board.dashboard(hubdb, T0) == []
