"""``facilitywatch hub``: its commands as people run them, with clean errors and no tracebacks."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli import main


def test_a_duplicate_user_is_a_clear_error(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    runner = CliRunner()
    first = runner.invoke(main, ["hub", "create-user", "li", "--role", "energy", "--db", db])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, ["hub", "create-user", "li", "--role", "energy", "--db", db])
    assert again.exit_code == 1
    assert "Error:" in again.output
    assert "Traceback" not in again.output


def test_a_bad_database_url_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["hub", "create-agent", "s", "--db", "mysql://nope"])
    assert result.exit_code == 1
    assert "Error:" in result.output


@pytest.mark.parametrize("args", [["--agent-silent-after", "soon"], ["--agent-silent-after=-1m"]])
def test_a_silence_delay_that_is_not_a_duration_is_a_clear_error(args: list[str]) -> None:
    result = CliRunner().invoke(main, ["hub", "serve", *args])
    assert result.exit_code == 2
    assert "Invalid value for '--agent-silent-after': not a duration" in result.output


def test_rotate_then_revoke_a_sites_agent_tokens(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'hub.db'}"]
    runner = CliRunner()
    first = runner.invoke(main, ["hub", "create-agent", "clinic", *db])
    rotated = runner.invoke(main, ["hub", "rotate-agent", "clinic", "--grace", "2h", *db])
    revoked = runner.invoke(main, ["hub", "revoke-agent", "clinic", *db])
    assert (first.exit_code, rotated.exit_code, revoked.exit_code) == (0, 0, 0)
    assert "the old ones stop in 2h" in rotated.output
    assert rotated.output.splitlines()[-1] != first.output.splitlines()[-1]
    assert revoked.output == "revoked 2 agent token(s) of site clinic\n"


def test_a_bad_grace_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["hub", "rotate-agent", "clinic", "--grace", "soon", "--db", "sqlite:///x.db"]
    )
    assert (result.exit_code, "not a duration" in result.output) == (2, True)
