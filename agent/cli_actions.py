"""``facilitywatch agent ack|close|note|shelve|…``: operator actions taken on site, offline.

Each command records the action in the agent's store (``agent.actions.take``); the running agent's
writer applies it within a second and the next sync takes it to the hub. Thin: parse, call, print.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from agent.config import SiteConfig
from rules.actions import ActionKind, InvalidAction

__all__ = ["register"]

# kind: (help, what it names, note required, duration: None, "optional" or "required")
_KINDS: dict[ActionKind, tuple[str, str, bool, str | None]] = {
    "ack": ("Acknowledge an alarm.", "ALARM", False, None),
    "close": (
        "Close a latched alarm that has cleared, with a disposition (what was found and done).",
        "ALARM",
        True,
        None,
    ),
    "note": ("Add a note to an alarm's history.", "ALARM", True, None),
    "shelve": (
        "Shelve an alarm's rule: still evaluated and recorded, not announced. Without --for it is "
        "one-shot: it ends when that alarm clears. At most 24 h (alarms.md).",
        "ALARM",
        False,
        "optional",
    ),
    "unshelve": ("End a shelve early.", "TARGET", False, None),
    "suppress": (
        "Suppress a rule for a time (cleaning, maintenance): evaluated and recorded, not "
        "announced.",
        "TARGET",
        False,
        "required",
    ),
    "unsuppress": ("End a suppression early.", "TARGET", False, None),
    "disable": (
        "Take a rule out of service (until `enable`, or for --for): evaluated and recorded, never "
        "announced.",
        "TARGET",
        True,
        "optional",
    ),
    "enable": ("Return a rule to service.", "TARGET", False, None),
}


def register(group: click.Group, load: Callable[[Path], SiteConfig]) -> None:
    for kind, (text, target, note, duration) in _KINDS.items():
        group.add_command(_command(kind, text, target, note, duration, load))
    group.add_command(_alarms(load))
    group.add_command(_history(load))


def _command(
    kind: ActionKind,
    text: str,
    target: str,
    note_required: bool,
    duration: str | None,
    load: Callable[[Path], SiteConfig],
) -> click.Command:
    named = "an alarm id (or its first characters, as `agent alarms` shows them)"
    if target == "TARGET":
        named += " or a rule id"

    def run(config: Path, name: str, by: str, note: str | None, for_: timedelta | None) -> None:
        from agent import actions

        site = load(config)
        rules = [r.id for r in site.rules]
        conn = _open(site)
        try:
            now = time.time()
            found = actions.resolve(conn, name, rules)
            if target == "ALARM" and found.alarm_id is None:
                raise InvalidAction(f"{kind} needs an alarm, and {name!r} is a rule")
            until = now + for_.total_seconds() if for_ is not None else None
            action = actions.take(
                conn, actions.new_action(kind, found, by, now, note=note, until=until)
            )
        except InvalidAction as error:
            click.echo(f"{kind} refused: {error}", err=True)
            sys.exit(2)
        finally:
            conn.close()
        about = action.alarm_id or f"rule {action.rule}"
        click.echo(f"{kind} of {about} recorded ({action.id}); the agent applies it within 1 s")

    params: list[click.Parameter] = [
        click.Argument(["config"], type=click.Path(path_type=Path)),
        click.Argument(["name"], metavar=target),
        click.Option(["--by"], required=True, help="Who takes the action."),
        click.Option(
            ["--note", "--disposition", "note"] if kind == "close" else ["--note", "note"],
            required=note_required,
            help="Why, or what was found and done.",
        ),
    ]
    if duration is not None:
        params.append(
            click.Option(
                ["--for", "for_"],
                required=duration == "required",
                callback=_duration,
                help="How long, e.g. 30m, 2h, 1d.",
            )
        )
    callback = run if duration is not None else _without_duration(run)
    return click.Command(kind, params=params, callback=callback, help=f"{text} {target}: {named}.")


def _without_duration(
    run: Callable[[Path, str, str, str | None, timedelta | None], None],
) -> Callable[..., None]:
    def call(config: Path, name: str, by: str, note: str | None) -> None:
        run(config, name, by, note, None)

    return call


def _alarms(load: Callable[[Path], SiteConfig]) -> click.Command:
    def run(config: Path) -> None:
        from agent import actions, store

        site = load(config)
        conn = _open(site)
        try:
            now = time.time()
            open_alarms = {a.rule: a for a in store.open_alarms(conn)}
            standing = actions.standings(conn, open_alarms, now)
        finally:
            conn.close()
        for rule, alarm in sorted(open_alarms.items(), key=lambda x: x[1].raised_at):
            mode = standing[rule].mode if rule in standing else "in_service"
            click.echo(
                f"{alarm.id[:8]}  {alarm.severity:<8} {alarm.state:<22} {mode:<14} "
                f"{_when(alarm.raised_at)}  {rule}: {alarm.message}"
            )
        for rule, held in sorted(standing.items()):
            if rule not in open_alarms and held.mode != "in_service":
                until = f" until {_when(held.until)}" if held.until else ""
                click.echo(f"{'':8}  rule {rule}: {held.mode}{until}")

    return click.Command(
        "alarms",
        params=[click.Argument(["config"], type=click.Path(path_type=Path))],
        callback=run,
        help="List the open alarms (short id, severity, state, standing) and the rules shelved, "
        "suppressed or out of service.",
    )


def _history(load: Callable[[Path], SiteConfig]) -> click.Command:
    def run(config: Path, rule: str | None, limit: int) -> None:
        from agent import actions

        conn = _open(load(config))
        try:
            found = actions.history(conn, rule=rule, limit=limit)
        finally:
            conn.close()
        for action, origin, error in found:
            about = (action.alarm_id or "")[:8] or "-"
            until = f" until {_when(action.until)}" if action.until else ""
            note = f": {action.note}" if action.note else ""
            problem = f"  [not applied: {error}]" if error else ""
            click.echo(
                f"{_when(action.at)}  {origin:<5} {action.by:<12} {action.kind:<10} "
                f"{action.rule} {about}{until}{note}{problem}"
            )

    return click.Command(
        "actions",
        params=[
            click.Argument(["config"], type=click.Path(path_type=Path)),
            click.Option(["--rule"], help="Only this rule's actions."),
            click.Option(["--limit"], type=int, default=50, show_default=True),
        ],
        callback=run,
        help="The operator actions taken on site or at the hub, newest first: who, when, why.",
    )


def _open(site: SiteConfig) -> sqlite3.Connection:
    from agent import store

    path = site.storage.path
    if not path.exists():
        click.echo(f"no store at {path} yet: start the agent first", err=True)
        sys.exit(1)
    try:
        return store.open_store(path, site.site.id)
    except (store.StoreError, sqlite3.Error) as error:
        click.echo(f"{path}: {error}", err=True)
        sys.exit(2)


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta | None:
    from collector.duration import DurationError, parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except DurationError as error:
        raise click.BadParameter(str(error)) from None


def _when(at: float | None) -> str:
    return datetime.fromtimestamp(at or 0, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
