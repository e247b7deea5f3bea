"""The ``facilitywatch`` command: thin wrappers that parse arguments and call the library."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from agent.cli_actions import register as register_actions
from agent.cli_hub import hub
from agent.config import ConfigError, SiteConfig, load_site


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="facilitywatch")
def main() -> None:
    """facilitywatch: offline-first monitoring for facilities departments."""


@main.command("check-config")
@click.argument("config", type=click.Path(path_type=Path))
def check_config(config: Path) -> None:
    """Validate a site YAML file and print every error with its path."""
    site, warnings = _load_or_exit(config, exit_code=1)
    for warning in warnings:
        click.echo(f"{config}: warning: {warning}", err=True)
    click.echo(
        f"{config}: ok — site {site.site.id}, {len(site.devices)} devices, "
        f"{len(site.rules)} rules, {len(site.posts)} posts"
    )


@main.group()
def agent() -> None:
    """Run the edge agent of one site."""


def _site(config: Path) -> SiteConfig:
    return _load_or_exit(config)[0]


register_actions(agent, _site)


@agent.command("run")
@click.argument("config", type=click.Path(path_type=Path))
def agent_run(config: Path) -> None:
    """Collect readings, evaluate rules, raise alarms and sync to the hub until stopped."""
    from agent.runtime import run_from_config

    sys.exit(run_from_config(config))


@agent.command("status")
@click.argument("config", type=click.Path(path_type=Path))
def agent_status(config: Path) -> None:
    """Print what the agent's store holds, its size against storage.max_size and what was
    thinned, what the hub has not yet acknowledged, the clock's offset against the hub's at the
    last sync, what was quarantined (per device and reason), the open alarms, the notifications
    not delivered (pending or given up, URLs redacted), and which hub version of the devices,
    posts and rules runs (and the last one refused, with why)."""
    from datetime import UTC, datetime

    from agent import store
    from agent.status import config_lines, notification_lines, read_status, store_line
    from sync.clock import describe

    site, _ = _load_or_exit(config)
    if not site.storage.path.exists():
        click.echo(f"no store at {site.storage.path} yet", err=True)
        sys.exit(1)
    status = read_status(store.connect(site.storage.path, readonly=True), site.storage.max_size)
    last = status.last_reading_at
    when = datetime.fromtimestamp(last, UTC).isoformat() if last else "never"
    click.echo(
        f"site {site.site.id}: {status.readings} readings (last {when}), "
        f"{status.access_events} access events"
    )
    click.echo(store_line(status))
    click.echo(
        "not yet acknowledged by the hub: "
        + ", ".join(f"{k} {v}" for k, v in status.unsent.items())
    )
    click.echo(f"clock: {describe(status.clock)}")
    click.echo(f"quarantined: {sum(n for _, _, n in status.quarantined)}")
    for device, reason, count in status.quarantined:
        click.echo(f"  {count:>7}  {device}: {reason}")
    click.echo(f"open alarms: {len(status.open_alarms)}")
    for alarm in status.open_alarms:
        click.echo(f"  {alarm.severity:<8} {alarm.state:<22} {alarm.rule}: {alarm.message}")
    for line in notification_lines(status) + config_lines(status):
        click.echo(line)


@agent.command("excursions")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--device", default=None, help="Only this cold room or fridge.")
def agent_excursions(config: Path, limit: int, device: str | None) -> None:
    """Print the cold-chain excursions in the agent's own store, newest first, with their
    lowest and highest values and the door events during them, then the ones going on now.
    Reads the store only: works with the agent running or stopped, and without the hub."""
    from agent import store
    from agent.coldchain import excursion_line, ongoing_excursions, recent_excursions

    site, _ = _load_or_exit(config)
    if not site.storage.path.exists():
        click.echo(f"no store at {site.storage.path} yet", err=True)
        sys.exit(1)
    conn = store.connect(site.storage.path, readonly=True)
    try:
        kept = recent_excursions(conn, limit=limit, device=device)
        going = [x for x in ongoing_excursions(conn, site.rules) if device in (None, x.device)]
    finally:
        conn.close()
    click.echo(f"excursions: {len(kept)} shown (newest first)")
    for seq, record in kept:
        click.echo(f"  #{seq} {excursion_line(record)}")
    click.echo(f"going on: {len(going)}")
    for record in going:
        click.echo(f"  {excursion_line(record)}")


@agent.command("import-readings")
@click.argument("config", type=click.Path(path_type=Path))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def agent_import_readings(config: Path, file: Path) -> None:
    """Import hand-read meter readings from FILE, a CSV file with the header
    device,time,value and optionally metric and replacement.

    time is ISO 8601; without a UTC offset it is local time in the site's time zone. metric
    defaults to the device's meter (energy, water). A value lower than the previous reading is
    rejected unless replacement is true/yes/1 (the meter was replaced). Each row is checked on
    its own: the valid rows are stored even when others are rejected. Exits 0 when every row was
    stored, 1 when any was rejected, 2 when the file could not be read at all (nothing stored).
    """
    import sqlite3
    import time

    from agent import store
    from agent.manual import import_csv
    from collector.manual import FileError

    site, _ = _load_or_exit(config)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        click.echo(f"{file}: {error}", err=True)
        sys.exit(2)
    try:
        conn = store.open_store(site.storage.path, site.site.id)
    except store.StoreError as error:
        click.echo(f"{error}; nothing stored", err=True)
        sys.exit(2)
    except (OSError, sqlite3.Error) as error:
        click.echo(f"{site.storage.path}: {error}; nothing stored", err=True)
        sys.exit(2)
    try:
        report = import_csv(conn, site, text, time.time())
    except FileError as error:
        click.echo(f"{file}: {error}; nothing stored", err=True)
        sys.exit(2)
    except sqlite3.Error as error:
        click.echo(f"{site.storage.path}: {error}; nothing stored", err=True)
        sys.exit(2)
    finally:
        conn.close()
    click.echo(f"{report.stored} stored, {len(report.rejected)} rejected")
    for problem in report.rejected:
        click.echo(f"{file}:{problem.line}: {problem.reason}")
    sys.exit(1 if report.rejected else 0)


@agent.group("silence")
def agent_silence() -> None:
    """Mute notifications about matching alarms for a while (they are still evaluated and
    recorded): add, list and expire silences in the agent's store."""


@agent_silence.command("add")
@click.argument("config", type=click.Path(path_type=Path))
@click.option(
    "--match",
    "-m",
    "matchers",
    multiple=True,
    required=True,
    help="label=value (site, post, rule, type, device, metric, severity, building, floor, room,"
    " department); repeat it: every label must match, a label given twice takes either value.",
)
@click.option("--until", "ends", required=True, help="An end: 2h, 1d, or 2026-11-01T08:30.")
@click.option("--from", "starts", default=None, help="A start (default now): 30m, or a time.")
@click.option("--by", "author", required=True, help="Who silences: the record says so.")
@click.option("--comment", required=True, help="Why: the record says so.")
def agent_silence_add(
    config: Path,
    matchers: tuple[str, ...],
    ends: str,
    starts: str | None,
    author: str,
    comment: str,
) -> None:
    """Silence the alarms matching every --match, until --until; prints the silence's id.
    Times without a UTC offset are the site's local time."""
    import time
    from zoneinfo import ZoneInfo

    from agent.notify import silences

    site, _ = _load_or_exit(config)
    now = time.time()
    zone = ZoneInfo(site.site.timezone)
    try:
        found = silences.parse_matchers(matchers)
        begins = now if starts is None else silences.parse_when(starts, zone, now)
        ending = silences.parse_when(ends, zone, now)
        with _store(site) as conn:
            silence = silences.add(conn, found, begins, ending, author, comment, now)
    except silences.SilenceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(silence.id)


@agent_silence.command("list")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--all", "everything", is_flag=True, help="Include the silences that have ended.")
def agent_silence_list(config: Path, everything: bool) -> None:
    """List the silences in force or to come (with --all, ended ones too), in the site's time."""
    import time
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from agent.notify import silences

    site, _ = _load_or_exit(config)
    zone = ZoneInfo(site.site.timezone)
    with _store(site) as conn:
        found = silences.listed(conn, None if everything else time.time())
    for s in found:
        start, end = (
            datetime.fromtimestamp(t, zone).isoformat("T", "minutes")
            for t in (s.starts_at, s.ends_at)
        )
        match = " ".join(f"{k}={v}" for k, values in s.matchers.items() for v in values)
        click.echo(f"{s.id}  {start} .. {end}  {match}  by {s.created_by}: {s.comment}")


@agent_silence.command("expire")
@click.argument("config", type=click.Path(path_type=Path))
@click.argument("silence_id")
def agent_silence_expire(config: Path, silence_id: str) -> None:
    """End the silence SILENCE_ID now; its record stays."""
    import time

    from agent.notify import silences

    site, _ = _load_or_exit(config)
    try:
        with _store(site) as conn:
            silences.expire(conn, silence_id, time.time())
    except silences.SilenceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"silence {silence_id} expired")


@contextmanager
def _store(site: SiteConfig) -> Iterator[sqlite3.Connection]:
    from agent import store

    try:
        conn = store.open_store(site.storage.path, site.site.id)
    except (store.StoreError, OSError, sqlite3.Error) as error:
        raise click.ClickException(f"{site.storage.path}: {error}") from None
    try:
        yield conn
    finally:
        conn.close()


def _load_or_exit(config: Path, exit_code: int = 2) -> tuple[SiteConfig, list[str]]:
    try:
        return load_site(config)
    except ConfigError as error:
        for line in error.errors:
            click.echo(f"{config}: {line}", err=True)
        sys.exit(exit_code)


main.add_command(hub)


@main.command()
@click.option("--mqtt-url", default=None, help="Use this broker instead of the embedded one.")
@click.option("--port", default=8000, show_default=True, type=int, help="Hub port.")
@click.option(
    "--data-dir", default=Path("./demo-data"), show_default=True, type=click.Path(path_type=Path)
)
def demo(mqtt_url: str | None, port: int, data_dir: Path) -> None:
    """Run a whole demo site: broker, hub, agent and simulated devices, until Ctrl-C."""
    from agent.demo import run_demo

    sys.exit(run_demo(mqtt_url=mqtt_url, port=port, data_dir=data_dir))


if __name__ == "__main__":
    main()
