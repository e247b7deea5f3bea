import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import actions, outbox, store
from agent.cli import main
from agent.config import SiteConfig, parse_site
from agent.writer import SyncAcked, Tick, Writer
from collector.models import Reading
from rules.actions import IN_SERVICE, Action, standing
from rules.alarm import Alarm
from rules.engine import Engine
from sync.protocol import ActionRecord
from tests.support.actions import point_logs
from tests.support.site import site_yaml
from tests.support.sqlite import connected

T0 = 1_763_900_000.0  # 2025-11-23 20:13:20 in Asia/Shanghai
LATCHED = "severity: high, post: cold-store, latch: true}"
# Cleaning every evening 20:00-20:30 site time: suppressed by design.
CLEANING = (
    "severity: high, post: cold-store,\n"
    "     suppress: {timezone: Asia/Shanghai, weekly: {mon-sun: '20:00-20:30'}}}"
)


def config_text(db: Path, rule_tail: str = "") -> str:
    text = site_yaml(db, "mqtt://127.0.0.1:1")
    if not rule_tail:
        return text
    changed = text.replace("severity: high, post: cold-store}", rule_tail, 1)
    assert changed != text
    return changed


@pytest.fixture
def site(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(config_text(tmp_path / "agent.db", getattr(request, "param", "")))
    return path


@pytest.fixture
def writer(site: Path) -> Iterator[Writer]:
    config, _ = parse_site(site.read_text(), env={})
    running = start(config)
    yield running
    running.stop()
    running.conn.close()


def start(config: SiteConfig, now: float = T0) -> Writer:
    conn = store.open_store(config.storage.path, config.site.id)
    engine = Engine.restore(
        list(config.rules), now, store.rule_states(conn), store.open_alarms(conn)
    )
    writer = Writer(conn, engine, commit_interval=0.01)
    writer.start()
    return writer


def rows(writer: Writer, sql: str) -> list[tuple[object, ...]]:
    with connected(writer.conn.execute("PRAGMA database_list").fetchone()[2]) as conn:
        return conn.execute(sql).fetchall()


def warm(writer: Writer, value: float, at: float) -> None:
    writer.submit(Reading("freezer-1", "temperature", at, value, at))
    writer.submit(Tick(at))
    assert writer.flush()


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["agent", *args])
    return result.exit_code, result.output


def alarm_id(writer: Writer) -> str:
    return str(rows(writer, "SELECT id FROM alarms")[0][0])


def test_an_ack_taken_on_site_is_applied_on_the_next_tick(site: Path, writer: Writer) -> None:
    warm(writer, -10.0, T0)
    code, output = cli("ack", str(site), alarm_id(writer)[:8], "--by", "Li")
    assert (code, "ack of " in output) == (0, True)
    writer.submit(Tick(T0 + 2))
    assert writer.flush()
    assert rows(writer, "SELECT state, acked_by FROM alarms") == [("acknowledged", "Li")]
    assert rows(writer, "SELECT kind, by FROM alarm_events ORDER BY id") == [
        ("raised", None),
        ("acked", "Li"),
    ]
    assert rows(writer, "SELECT kind, origin, error FROM actions") == [("ack", "agent", None)]


@pytest.mark.parametrize("site", [LATCHED], indirect=True)
def test_a_latched_alarm_is_closed_with_a_disposition_once_cleared(
    site: Path, writer: Writer
) -> None:
    warm(writer, -10.0, T0)
    target = alarm_id(writer)
    cli("close", str(site), target, "--by", "Li", "--disposition", "too early")
    writer.submit(Tick(T0 + 1))  # applied while the condition is still active: refused
    warm(writer, -20.0, T0 + 60)
    assert rows(writer, "SELECT state FROM alarms") == [("latched",)]
    code, _ = cli("close", str(site), target, "--by", "Wang", "--disposition", "seal replaced")
    writer.submit(Tick(T0 + 70))
    assert writer.flush()
    assert code == 0
    assert rows(writer, "SELECT state, closed_by, disposition, acked_by FROM alarms") == [
        ("normal", "Wang", "seal replaced", "Wang")
    ]
    code, output = cli("actions", str(site))
    assert "not applied: alarm " in output and "is still active" in output
    assert rows(writer, "SELECT kind FROM alarm_events ORDER BY id") == [
        ("raised",),
        ("cleared",),
        ("closed",),
    ]


def test_a_shelved_rule_shows_in_the_alarm_list(site: Path, writer: Writer) -> None:
    warm(writer, -10.0, T0)
    code, _ = cli("shelve", str(site), alarm_id(writer), "--by", "Li", "--for", "2h")
    assert code == 0
    code, output = cli("alarms", str(site))
    assert "shelved" in output and "freezer-warm" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ack", "{site}", "nope", "--by", "Li"], "no alarm or rule 'nope'"),
        (["ack", "{site}", "freezer-warm", "--by", "Li"], "ack needs an alarm"),
        (["disable", "{site}", "freezer-warm", "--by", "Li"], "Missing option '--note'"),
        (["suppress", "{site}", "freezer-warm", "--by", "Li"], "Missing option '--for'"),
        (["suppress", "{site}", "freezer-warm", "--by", "Li", "--for", "soon"], "soon"),
        (["note", "{site}", "freezer-warm", "--by", "Li", "--note", "x"], "note needs an alarm"),
    ],
)
def test_bad_actions_are_refused_with_the_reason(
    site: Path, writer: Writer, args: list[str], message: str
) -> None:
    code, output = cli(*[a.format(site=site) for a in args])
    assert (code, message in output) == (2, True)
    assert rows(writer, "SELECT COUNT(*) FROM actions") == [(0,)]


def test_a_rule_is_taken_out_of_service_before_any_alarm(site: Path, writer: Writer) -> None:
    code, _ = cli("disable", str(site), "freezer-warm", "--by", "Li", "--note", "defrosting")
    assert code == 0
    assert rows(writer, "SELECT kind, rule, alarm_id FROM actions") == [
        ("disable", "freezer-warm", None)
    ]
    assert "rule freezer-warm: out_of_service" in cli("alarms", str(site))[1]


@pytest.mark.parametrize("site", [CLEANING], indirect=True)
def test_a_suppress_schedule_records_one_action_per_window(writer: Writer) -> None:
    for offset in (0, 1, 2):
        writer.submit(Tick(T0 + offset))
    assert writer.flush()
    assert rows(writer, "SELECT kind, by, until - at FROM actions") == [
        ("suppress", "(schedule)", pytest.approx(1000.0))
    ]


def test_actions_from_the_hub_are_kept_and_applied(writer: Writer) -> None:
    warm(writer, -10.0, T0)
    target = alarm_id(writer)
    shelve = ActionRecord(
        id=3, uid="u-3", alarm_id=target, rule="freezer-warm", action="shelve", by="Zhao",
        at=T0 + 5, until=T0 + 3600,
    )  # fmt: skip
    older_hub_ack = ActionRecord(id=4, alarm_id=target, action="ack", by="Zhao", at=T0 + 6)
    writer.submit(SyncAcked(cursors={}, actions=[shelve, older_hub_ack], reported=[], at=T0 + 7))
    assert writer.flush()
    assert rows(writer, "SELECT uid, kind, rule, origin FROM actions ORDER BY id") == [
        ("u-3", "shelve", "freezer-warm", "hub"),
        ("hub-4", "ack", "freezer-warm", "hub"),
    ]
    assert rows(writer, "SELECT acked_by FROM alarms") == [("Zhao",)]


def test_every_action_goes_to_the_hub(site: Path, writer: Writer) -> None:
    warm(writer, -10.0, T0)
    cli("note", str(site), alarm_id(writer), "--by", "Li", "--note", "checked <b>on site</b>")
    batch = outbox.build_batch(writer.conn, "clinic", limit=100, now=T0 + 10)
    assert batch.actions is not None
    assert [(a.kind, a.by, a.note) for a in batch.actions.items] == [
        ("note", "Li", "checked <b>on site</b>")
    ]
    assert batch.action_kinds is not None and "shelve" in batch.action_kinds


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log=point_logs(T0), minute=st.integers(0, 25), active=st.booleans())
def test_standings_read_from_the_store_are_the_fold_of_the_whole_log(
    tmp_path: Path, log: list[Action], minute: int, active: bool
) -> None:
    conn = store.open_store(tmp_path / f"standings-{uuid.uuid4().hex}.db", "clinic")
    try:
        for action in log:
            actions.receive(conn, action, "hub", T0)
        now = T0 + 60 * minute
        alarm = Alarm("a1", "freezer-warm", "freezer-1", "temperature", "high", None, "x", T0, T0)
        alarms = {"freezer-warm": replace(alarm, active=active)}
        expected = {
            rule: standing([a for a in log if a.rule == rule], now, alarms.get(rule))
            for rule in {a.rule for a in log}
        }
        found = actions.standings(conn, alarms, now)
        # A rule with no standing at all may be left out: readers take it as in service.
        assert {rule: found.get(rule, IN_SERVICE) for rule in expected} == expected
        assert set(found) <= set(expected)
    finally:
        conn.close()
