"""Silences in the agent's store and on the command line: written with an author, a comment and
an end, listed, expired with their record kept, served to the notifier by the instant."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from agent import store
from agent.cli import main
from agent.notify import silences
from agent.notify.silences import SilenceError
from tests.support.site import site_yaml

T = 1_763_900_000.0
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = store.open_store(tmp_path / "agent.db", "clinic")
    yield connection
    connection.close()


def test_a_silence_is_served_while_it_lasts(conn: sqlite3.Connection) -> None:
    silence = silences.add(conn, {"device": ("f1",)}, T, T + 60, "li", "defrost", T)
    provide = silences.active_silences(conn)

    assert [s.id for s in provide(T)] == [silence.id]
    assert provide(T - 1) == []
    assert provide(T + 60) == []
    assert provide(T + 30) == [silence]


def test_an_expired_silence_keeps_its_record(conn: sqlite3.Connection) -> None:
    silence = silences.add(conn, {"building": ("Canteen",)}, T, T + 3600, "li", "repair", T)

    ended = silences.expire(conn, silence.id, T + 60)

    assert ended.ends_at == T + 60
    assert silences.active_silences(conn)(T + 61) == []
    assert silences.listed(conn, T + 61) == []
    assert [(s.created_by, s.comment) for s in silences.listed(conn)] == [("li", "repair")]
    with pytest.raises(SilenceError, match="no silence"):
        silences.expire(conn, silence.id, T + 120)


@pytest.mark.parametrize(
    ("matchers", "start", "end", "by", "comment", "message"),
    [
        ({}, T, T + 60, "li", "x", "at least one matcher"),
        ({"device": ("f1",)}, T, T, "li", "x", "ends before it begins"),
        ({"device": ("f1",)}, T - 120, T - 60, "li", "x", "in the past"),
        ({"device": ("f1",)}, T, T + 60, " ", "x", "its author and a comment"),
        ({"device": ("f1",)}, T, T + 60, "li", "", "its author and a comment"),
    ],
)
def test_a_silence_without_its_parts_is_refused(
    conn: sqlite3.Connection,
    matchers: dict[str, tuple[str, ...]],
    start: float,
    end: float,
    by: str,
    comment: str,
    message: str,
) -> None:
    with pytest.raises(SilenceError, match=message):
        silences.add(conn, matchers, start, end, by, comment, T)
    assert silences.listed(conn) == []


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["device=f1"], {"device": ("f1",)}),
        (
            ["device=f1", "device=f2", "building = Canteen"],
            {"device": ("f1", "f2")} | {"building": ("Canteen",)},
        ),
    ],
)
def test_matchers_read_as_written(items: list[str], expected: dict[str, tuple[str, ...]]) -> None:
    assert silences.parse_matchers(items) == expected


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "at least one matcher"),
        (["f1"], "write label=value"),
        (["device="], "write label=value"),
        (["wing=A"], "'wing' is not a label"),
    ],
)
def test_bad_matchers_are_refused_clearly(items: list[str], message: str) -> None:
    with pytest.raises(SilenceError, match=message):
        silences.parse_matchers(items)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", T + 7200),
        ("90m", T + 5400),
        ("2025-11-23T20:00", 1_763_899_200.0),  # Shanghai's local time
        ("2025-11-23T12:00+00:00", 1_763_899_200.0),
    ],
)
def test_an_end_is_a_duration_or_a_time(text: str, expected: float) -> None:
    assert silences.parse_when(text, SHANGHAI, T) == expected


def test_an_end_that_is_neither_is_refused() -> None:
    with pytest.raises(SilenceError, match="neither a duration"):
        silences.parse_when("tomorrow", SHANGHAI, T)


def test_the_commands_add_list_and_expire(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(site_yaml(tmp_path / "agent.db", "mqtt://127.0.0.1:1"), encoding="utf-8")
    runner = CliRunner()
    added = runner.invoke(
        main,
        [
            *("agent", "silence", "add", str(site), "-m", "building=Canteen", "-m", "type=stale"),
            *("--until", "2h", "--by", "Li", "--comment", "defrost 除霜"),
        ],
    )
    assert added.exit_code == 0, added.output
    silence_id = added.output.strip()

    listed = runner.invoke(main, ["agent", "silence", "list", str(site)])
    expired = runner.invoke(main, ["agent", "silence", "expire", str(site), silence_id])
    after = runner.invoke(main, ["agent", "silence", "list", str(site)])
    everything = runner.invoke(main, ["agent", "silence", "list", str(site), "--all"])

    assert listed.exit_code == 0, listed.output
    [line] = listed.output.splitlines()
    assert line.startswith(silence_id)
    assert line.endswith("building=Canteen type=stale  by Li: defrost 除霜")
    assert "+08:00" in line
    assert expired.output == f"silence {silence_id} expired\n"
    assert after.output == ""
    assert everything.output.startswith(silence_id)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["-m", "wing=A", "--until", "2h", "--by", "Li", "--comment", "x"],
            "'wing' is not a label",
        ),
        (["-m", "device=f1", "--until", "soon", "--by", "Li", "--comment", "x"], "neither"),
        (["-m", "device=f1", "--until", "2h", "--by", "Li"], "Missing option '--comment'"),
        (["-m", "device=f1", "--by", "Li", "--comment", "x"], "Missing option '--until'"),
        (["--until", "2h", "--by", "Li", "--comment", "x"], "Missing option '--match'"),
    ],
)
def test_a_bad_silence_command_says_why(tmp_path: Path, arguments: list[str], message: str) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(site_yaml(tmp_path / "agent.db", "mqtt://127.0.0.1:1"), encoding="utf-8")

    result = CliRunner().invoke(main, ["agent", "silence", "add", str(site), *arguments])

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_expiring_an_unknown_silence_says_so(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(site_yaml(tmp_path / "agent.db", "mqtt://127.0.0.1:1"), encoding="utf-8")

    result = CliRunner().invoke(main, ["agent", "silence", "expire", str(site), "nope"])

    assert result.exit_code == 1
    assert "no silence 'nope' in force or to come" in result.output


def test_an_unreadable_silence_is_ignored_not_fatal(
    conn: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    good = silences.add(conn, {"device": ("f1",)}, T, T + 60, "li", "defrost", T)
    conn.execute(
        "INSERT INTO silences VALUES ('bad', '[\"device\"]', ?, ?, 'x', 'hand-edited', ?)",
        (T, T + 60, T),
    )

    assert silences.active_silences(conn)(T + 1) == [good]
    assert silences.listed(conn) == [good]
    assert "silence bad has unreadable matchers: ignored" in caplog.text
