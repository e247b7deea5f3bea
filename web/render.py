"""How times and values look to people and in JSON: ISO 8601 UTC, ages, units."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jinja2

from collector.models import METRICS

TEMPLATES = Path(__file__).parent / "templates"


def iso(ts: float) -> str:
    """``2026-11-23T08:00:00.123Z``: the one time format of the JSON API."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def when(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def age(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    seconds = max(0.0, now - ts)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size:.0f} {unit}"
    return f"{seconds:.0f} s"


def quantity(value: float | None, metric: str | None) -> str:
    if value is None:
        return "—"
    spec = METRICS.get(metric or "")
    unit = spec.unit if spec else ""
    return f"{value:.6g} {unit}".rstrip()


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(iso=iso, when=when, quantity=quantity)
    env.globals["age"] = age
    return env
