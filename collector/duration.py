"""Durations as people write them in site YAML: ``30s``, ``10m``, ``2h``, ``1d``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


class DurationError(ValueError):
    """A duration string that does not parse."""


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse ``"10m"`` (or a number of seconds) into a timedelta; reject anything else."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise DurationError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise DurationError(f"a duration cannot be negative: {text!r}")
        return _seconds(text, text)
    compact = text.strip().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise DurationError(f"not a duration: {text!r} (write e.g. 30s, 10m, 2h, 1d)")
    return _seconds(sum(float(n) * _SECONDS[u] for n, u in parts), text)


def _seconds(seconds: float, text: object) -> timedelta:
    try:
        return timedelta(seconds=seconds)
    except (OverflowError, ValueError):  # NaN, infinity, or past timedelta.max
        raise DurationError(f"not a duration: {text!r}") from None


def format_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit in ("d", "h", "m"):
        size = _SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    # Not "{:g}": it writes 1e-06 and 1e+06, which parse_duration refuses (and rounds).
    whole, micros = divmod(value // timedelta(microseconds=1), 1_000_000)
    return f"{whole}.{micros:06d}".rstrip("0").rstrip(".") + "s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
