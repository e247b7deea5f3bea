"""The ``facilitywatch`` command as people run it: help, clean errors, no tracebacks."""

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from agent.cli import main

ROOT = Path(__file__).resolve().parents[2]


def commands(group: click.Group, path: list[str]) -> list[list[str]]:
    """Every command of the CLI, read from it, so a new one cannot go undocumented."""
    found = [path]
    for name, command in sorted(group.commands.items()):
        found += (
            commands(command, [*path, name])
            if isinstance(command, click.Group)
            else [[*path, name]]
        )
    return found


COMMANDS = commands(main, [])


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


@pytest.mark.parametrize("command", COMMANDS[1:], ids=" ".join)
def test_every_command_is_in_the_readme(command: list[str]) -> None:
    assert f"facilitywatch {' '.join(command)}" in (ROOT / "README.md").read_text()


def test_the_example_config_checks_out() -> None:
    result = CliRunner().invoke(main, ["check-config", str(ROOT / "examples/demo-site.yaml")])
    assert result.exit_code == 0, result.output
    assert "ok — site demo-hospital" in result.output


def test_a_broken_config_prints_every_error_with_its_path(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        "site: {id: s}\n"
        "devices:\n"
        "  - {id: a, kind: power_meter}\n"
        "  - {id: b, kind: toaster}\n"
        "rules:\n"
        "  - {id: r, type: stale, device: a, after: soon}\n"
    )
    result = CliRunner().invoke(main, ["check-config", str(config)])
    assert result.exit_code == 1
    assert "devices[1].kind: Input should be" in result.output
    assert "rules[0].after: not a duration: 'soon'" in result.output
