"""How times and values look to people and in JSON: ISO 8601 UTC in the API; on the pages,
the site's local time, ages, and numbers with their units as a facilities office writes them."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2

from collector.models import METRICS
from collector.size import format_size
from collector.timestamps import iso

TEMPLATES = Path(__file__).parent / "templates"


def when(ts: float | None, timezone: str | None = None) -> str:
    """Local time at the site, with its zone, because that is the time on the wall there."""
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, _zone(timezone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def _zone(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def age(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    seconds = max(0.0, now - ts)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size:.0f} {unit}"
    return f"{seconds:.0f} s"


def quantity(value: float | None, metric: str | None) -> str:
    """``3,862,420 kWh``, ``-18.4 °C``, ``open``: never scientific notation."""
    if value is None:
        return "—"
    if metric == "contact":
        return "open" if value >= 0.5 else "closed"
    spec = METRICS.get(metric or "")
    unit = spec.unit if spec else ""
    places = 0 if abs(value) >= 1000 else 1 if abs(value) >= 100 else 2
    number = f"{value:,.{places}f}"
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return f"{number} {unit}".rstrip()


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(iso=iso, when=when, quantity=quantity, size=format_size)
    env.globals["age"] = age
    return env
