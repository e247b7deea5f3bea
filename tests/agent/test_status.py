from pathlib import Path

from click.testing import CliRunner

from agent import downlink, store
from agent.cli import main
from agent.writer import SyncAcked
from collector.models import Rejection
from sync.protocol import ClockReport, ConfigVersion
from tests.agent.writer.test_core import T0, start_writer, temp
from tests.support.site import site_config, site_yaml


def test_status_counts_quarantine_per_device_and_reason_and_lists_open_alarms(
    tmp_path: Path,
) -> None:
    db = tmp_path / "agent.db"
    writer = start_writer(db)
    writer.submit(temp(-10.0, T0))
    for _ in range(3):
        writer.submit(Rejection("fw/clinic/x/power", b"?", "unknown device 'x'", T0, "x"))
    writer.submit(
        Rejection("fw/clinic/freezer-1/temperature", b"NaN", "value is not finite", T0, "freezer-1")
    )
    assert writer.flush()
    writer.stop()
    config = tmp_path / "site.yaml"
    config.write_text(site_yaml(db, "mqtt://127.0.0.1:1"))

    result = CliRunner().invoke(main, ["agent", "status", str(config)])

    assert result.exit_code == 0, result.output
    assert "1 readings" in result.output
    assert "quarantined: 4" in result.output
    assert "      3  x: unknown device 'x'" in result.output
    assert "      1  freezer-1: value is not finite" in result.output
    assert "readings 1, access_events 0, alarm_events 1" in result.output
    assert "high     unacknowledged         freezer-warm" in result.output
    assert "of 500MB (" in result.output
    assert (
        "0 rollups; thinned: expired 0, synced 0, rolled_up 0, rollups_expired 0" in result.output
    )


def test_status_of_a_broken_config_exits_non_zero(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("site: {id: 'bad id!'}\n")
    result = CliRunner().invoke(main, ["agent", "status", str(config)])
    assert result.exit_code == 2
    assert "site.id:" in result.output


def test_status_says_which_configuration_runs_and_what_was_refused(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    config = tmp_path / "site.yaml"
    config.write_text(site_yaml(db, "mqtt://127.0.0.1:1"))
    running = site_config(db, "mqtt://127.0.0.1:1")
    conn = store.open_store(db, "clinic")
    for number, text in [(1, "devices: []\n"), (2, "rules: [{id: r, type: stale, after: 1h}]\n")]:
        version = ConfigVersion(version=number, format="yaml", text=text, by="root", at=T0)
        downlink.record(conn, downlink.check(running, version, T0))
    conn.close()

    result = CliRunner().invoke(main, ["agent", "status", str(config)])

    assert result.output.splitlines()[-3:] == [
        "configuration: hub version 1 devices, posts and rules",
        "refused hub version 2:",
        "  rules[0].device: Field required",
    ]


def test_status_shows_the_clock_offset_measured_at_the_last_sync(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    config = tmp_path / "site.yaml"
    config.write_text(site_yaml(db, "mqtt://127.0.0.1:1"))
    writer = start_writer(db)
    assert writer.flush()
    before = CliRunner().invoke(main, ["agent", "status", str(config)]).output
    clock = ClockReport(offset=-2.5, round_trip=0.1, measured_at=1_795_000_000.0)
    writer.submit(SyncAcked(cursors={}, actions=[], reported=[], at=T0, clock=clock))
    assert writer.flush()
    writer.stop()
    after = CliRunner().invoke(main, ["agent", "status", str(config)]).output
    assert "clock: not measured yet (no sync acknowledged)" in before
    assert "clock: 2.500 s ahead of the hub (± 0.050 s, measured 2026-11-18T11:06:40Z)" in after
