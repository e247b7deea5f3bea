"""Hand-read meter readings (抄表): parse a CSV file or JSON rows, then check them row by row.

Parsing and checking are pure; the agent and the hub each supply their own devices and a way to
look up the reading stored before a given time, and store what passes. A bad row is reported with
its line and never stops the good ones.

ManualError
└── FileError   the file as a whole is unusable (no header, unknown columns, too many rows)
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from collector.config import KIND_METRICS
from collector.models import METRICS
from collector.native import EARLIEST_TS

__all__ = [
    "COLUMNS",
    "CUMULATIVE_METRIC",
    "MAX_ROWS",
    "Checked",
    "FileError",
    "ImportReport",
    "ManualError",
    "ManualReading",
    "MeterReplacement",
    "Point",
    "Previous",
    "RawRow",
    "RowProblem",
    "parse_csv",
    "replacements",
    "rows_from_json",
    "validate",
]

REQUIRED = ("device", "time", "value")
COLUMNS = (*REQUIRED, "metric", "replacement")
MAX_ROWS = 100_000
# The metric a hand-read row means when it names none: the device's cumulative meter.
CUMULATIVE_METRIC = {"power_meter": "energy", "water_meter": "water"}
_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0", "")


class ManualError(ValueError):
    """Manual readings that cannot be imported."""


class FileError(ManualError):
    pass


@dataclass(frozen=True, slots=True)
class RawRow:
    """One row as written; ``line`` is its line in the CSV file (the header is line 1) or its
    position in a JSON list (from 1)."""

    line: int
    device: str | None
    time: str | None
    value: str | None
    metric: str | None = None
    replacement: str | None = None


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ManualReading:
    line: int
    device: str
    metric: str
    ts: float
    value: float
    replacement: bool


@dataclass(frozen=True, slots=True)
class Point:
    ts: float
    value: float


@dataclass(frozen=True, slots=True)
class MeterReplacement:
    """A row marked as a replaced meter, with the reading just before it (None: the first)."""

    device: str
    metric: str
    ts: float
    value: float
    previous: float | None


@dataclass(frozen=True, slots=True)
class Checked:
    readings: list[ManualReading]
    rejected: list[RowProblem]


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: how many rows were stored, and why each other row was not."""

    stored: int
    rejected: list[RowProblem]


# The stored reading of (device, metric) with the latest time at or before the given one.
Previous = Callable[[str, str, float], Point | None]


def parse_csv(text: str) -> list[RawRow | RowProblem]:
    """Rows of a CSV file with the header ``device,time,value[,metric][,replacement]``."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        _check_header(header)
        out: list[RawRow | RowProblem] = []
        end = reader.line_num
        for fields in reader:
            # A quoted field may span lines: a row is reported by the line it starts on.
            line, end = end + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(out) >= MAX_ROWS:
                raise FileError(f"more than {MAX_ROWS} rows; split the file")
            out.append(_csv_row(line, header, fields))
    except csv.Error as error:
        raise FileError(f"line {reader.line_num}: not CSV: {error}") from None
    return out


def rows_from_json(rows: Sequence[object]) -> list[RawRow | RowProblem]:
    """Rows given as JSON objects with the same fields as the CSV columns."""
    if len(rows) > MAX_ROWS:
        raise FileError(f"more than {MAX_ROWS} rows; split the import")
    return [_json_row(i, row) for i, row in enumerate(rows, start=1)]


def validate(
    rows: Iterable[RawRow | RowProblem],
    kinds: Mapping[str, str],
    *,
    zone: tzinfo,
    now: float,
    previous: Previous,
) -> Checked:
    """Check rows in order against the site's devices (id → kind) and what is already stored.

    Rows accepted earlier in the same import count as stored for the rows after them. A value
    below the previous reading of a cumulative meter is refused unless the row is a replacement.
    """
    accepted: list[ManualReading] = []
    rejected: list[RowProblem] = []
    earlier: dict[tuple[str, str], list[Point]] = {}
    for row in rows:
        if isinstance(row, RowProblem):
            rejected.append(row)
            continue
        try:
            reading = _reading(row, kinds, zone, now)
            key = (reading.device, reading.metric)
            known = [previous(*key, reading.ts), *earlier.get(key, [])]
            _check_order(reading, _latest(known, reading.ts), zone)
        except _RowError as error:
            rejected.append(RowProblem(row.line, str(error)))
            continue
        accepted.append(reading)
        earlier.setdefault(key, []).append(Point(reading.ts, reading.value))
    return Checked(accepted, rejected)


def replacements(readings: Sequence[ManualReading], previous: Previous) -> list[MeterReplacement]:
    """The accepted rows marked as a replacement of a cumulative meter, each with the reading
    just before it in time, stored or accepted in the same import (wherever it is in the file).

    ``previous`` looks the store up before the rows are stored: no accepted row shares its time
    with a stored reading, so its "at or before" means "before".
    """
    series: dict[tuple[str, str], list[Point]] = {}
    for r in readings:
        series.setdefault((r.device, r.metric), []).append(Point(r.ts, r.value))
    out: list[MeterReplacement] = []
    for r in readings:
        if not (r.replacement and METRICS[r.metric].cumulative):
            continue
        key = (r.device, r.metric)
        earlier = [p for p in series[key] if p.ts < r.ts]
        last = _latest([previous(*key, r.ts), *earlier], r.ts)
        out.append(MeterReplacement(*key, r.ts, r.value, None if last is None else last.value))
    return out


class _RowError(ManualError):
    pass


def _check_header(header: list[str]) -> None:
    if not header:
        raise FileError("the file is empty; the first line must be device,time,value")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise FileError(f"line 1: unknown column {unknown[0]!r}; columns are {','.join(COLUMNS)}")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise FileError(f"line 1: no {missing[0]!r} column; the header needs device,time,value")
    if len(set(header)) != len(header):
        raise FileError("line 1: a column is named twice")


def _csv_row(line: int, header: list[str], fields: list[str]) -> RawRow | RowProblem:
    if len(fields) > len(header):
        return RowProblem(line, f"{len(fields)} fields where the header has {len(header)}")
    # Trailing optional fields may be left off: spreadsheets drop empty ones at the end of a row.
    named = dict(zip(header, [*fields, *[""] * (len(header) - len(fields))], strict=True))
    return RawRow(
        line,
        named["device"],
        named["time"],
        named["value"],
        named.get("metric"),
        named.get("replacement"),
    )


def _json_row(line: int, row: object) -> RawRow | RowProblem:
    if not isinstance(row, dict):
        return RowProblem(line, "a row must be an object with device, time and value")
    unknown = [name for name in row if name not in COLUMNS]
    if unknown:
        return RowProblem(line, f"unknown field {str(unknown[0])[:40]!r}")
    fields = {name: _text(row.get(name)) for name in COLUMNS}
    return RawRow(line, **fields)


def _text(raw: object) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return repr(float(raw)) if isinstance(raw, float) else str(raw)
    return repr(raw)[:40]


def _reading(row: RawRow, kinds: Mapping[str, str], zone: tzinfo, now: float) -> ManualReading:
    device = (row.device or "").strip()
    if not device:
        raise _RowError("no device")
    kind = kinds.get(device)
    if kind is None:
        raise _RowError(f"unknown device {device[:64]!r}")
    metric = _metric(kind, (row.metric or "").strip())
    ts = _time((row.time or "").strip(), zone, now)
    value = _value((row.value or "").strip(), metric)
    return ManualReading(row.line, device, metric, ts, value, _flag(row.replacement))


def _metric(kind: str, metric: str) -> str:
    if not metric:
        default = CUMULATIVE_METRIC.get(kind)
        if default is None:
            raise _RowError(f"a {kind} device has no meter to read; name the metric")
        return default
    if metric not in METRICS or metric not in KIND_METRICS[kind]:
        raise _RowError(f"unknown metric {metric[:40]!r} for a {kind} device")
    return metric


def _time(text: str, zone: tzinfo, now: float) -> float:
    if not text:
        raise _RowError("no time")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _RowError(f"time {text[:40]!r} is not ISO 8601 (2026-11-01T08:30+08:00)") from None
    try:
        ts = (parsed if parsed.tzinfo else _local(parsed, zone)).timestamp()
    except OverflowError:
        raise _RowError(f"time {text[:40]!r} is not a plausible time") from None
    if ts < EARLIEST_TS:
        raise _RowError(f"time {text[:40]!r} is before 2000")
    if ts > now:
        raise _RowError(f"time {text[:40]!r} is in the future")
    return ts


def _local(naive: datetime, zone: tzinfo) -> datetime:
    """A wall-clock time in the site's zone; refused when the clocks skip it or show it twice."""
    early, late = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early
    if early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise _RowError(f"time {naive.isoformat()} does not exist in {zone} (clocks went forward)")
    raise _RowError(f"time {naive.isoformat()} happens twice in {zone}; give the UTC offset")


def _value(text: str, metric: str) -> float:
    try:
        value = float(text)
    except ValueError:
        shown = f"{text[:40]!r}" if text else "empty"
        raise _RowError(f"value {shown} is not a number (use a point, no separators)") from None
    if not math.isfinite(value):
        raise _RowError(f"value {text[:40]!r} is not finite")
    spec = METRICS[metric]
    if not spec.low <= value <= spec.high:
        raise _RowError(f"{metric} {value:g} {spec.unit} is outside {spec.low:g}..{spec.high:g}")
    return value


def _flag(text: str | None) -> bool:
    word = (text or "").strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _RowError(f"replacement {word[:20]!r} is not true/yes/1 or false/no/0")


def _latest(points: list[Point | None], ts: float) -> Point | None:
    before = [p for p in points if p is not None and p.ts <= ts]
    return max(before, key=lambda p: p.ts, default=None)


def _check_order(reading: ManualReading, last: Point | None, zone: tzinfo) -> None:
    if last is None:
        return
    if last.ts == reading.ts:
        raise _RowError(f"{reading.device} {reading.metric} already has a reading at that time")
    dropped = reading.value < last.value and METRICS[reading.metric].cumulative
    if dropped and not reading.replacement:
        when = datetime.fromtimestamp(last.ts, zone).isoformat()
        raise _RowError(
            f"value {reading.value:g} is lower than the previous reading {last.value:g} "
            f"at {when}; mark the row as a replacement if the meter was replaced"
        )
