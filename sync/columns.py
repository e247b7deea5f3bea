"""The readings chunk in columns: what most of a catch-up is, in a few bytes a reading.

A JSON reading costs about 130 bytes before compression, most of it names and repeated digits.
Here a chunk is cut into series (device, metric) and every field into a column of integers:

- ``series``: the series of each row, in seq order;
- ``seq``: the gap to the previous seq, less one (0 for a dense stream);
- ``ts``: per series, the second difference (a steady interval becomes zeros);
- ``value``: per series, the first difference;
- ``received_at``: per series, the first difference of its distance from ``ts``.

A float column of a series is kept as decimal integers (``n / 10**k``) when every value of it
comes back bit for bit that way, which covers what sensors send (4.3 °C, 1523.25 kWh, whole or
millisecond timestamps); otherwise as the integers of its IEEE 754 bit patterns, which is exact for
anything, NaN and -0.0 included. Integers are zigzagged into 64 bits and written byte plane by byte
plane (the low bytes of every row, then the next, …: Blosc's shuffle), so that the runs of zero
bytes lie together for the compressor that wraps the whole body (``sync.envelope``).

Layout: ``FWR1``, the length of a JSON header (u32, little-endian), the header (``after``,
``through``, ``rows`` and per series ``[device, metric, ts scale, value scale]``, a scale being
``null`` for bit patterns), then five columns of ``rows`` u64 each, in the order above.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from sync.protocol import Chunk, ReadingRecord

__all__ = ["BYTES_PER_ROW", "Malformed", "Readings", "Row", "decode", "encode", "encoded_size"]

MAGIC = b"FWR1"
COLUMNS = 5
BYTES_PER_ROW = 8 * COLUMNS
MAX_SCALE = 9
# Decimal integers stay below 2**53, so they and their second differences fit a signed 64-bit.
_EXACT = 2**53
_MASK = 2**64 - 1
_HALF = 2**63
_QUARTER = 2**62
_HEADER = struct.Struct("<I")

Row = tuple[int, str, str, float, float, float]


class Malformed(ValueError):
    """A readings chunk that does not decode: truncated, inconsistent or hostile."""


@dataclass(frozen=True)
class Readings:
    """A chunk of the readings stream as plain rows ``(seq, device, metric, ts, value,
    received_at)`` in seq order: what the agent reads and the hub inserts, no objects between."""

    after: int
    through: int
    rows: Sequence[Row]

    @classmethod
    def of(cls, chunk: Chunk[ReadingRecord]) -> Readings:
        return cls(chunk.after, chunk.through, cls.of_items(chunk.items))

    @staticmethod
    def of_items(items: Iterable[ReadingRecord]) -> list[Row]:
        return [(r.seq, r.device, r.metric, r.ts, r.value, r.received_at) for r in items]

    def chunk(self) -> Chunk[ReadingRecord]:
        items = [
            ReadingRecord(seq=s, device=d, metric=m, ts=t, value=v, received_at=r)
            for s, d, m, t, v, r in self.rows
        ]
        return Chunk[ReadingRecord](after=self.after, through=self.through, items=items)


def encoded_size(rows: int, series: Iterable[tuple[str, str]]) -> int:
    """An upper bound of ``len(encode(...))``: the outbox bounds batches with it. A character
    takes at most 6 bytes of JSON (``\\u001f``); after, through and rows at most 20 digits each."""
    names = sum(6 * (len(d) + len(m)) + 24 for d, m in series)
    return 8 + 100 + names + BYTES_PER_ROW * rows


def encode(readings: Readings) -> bytes:
    index: dict[tuple[str, str], int] = {}
    series_of = [index.setdefault((d, m), len(index)) for _, d, m, _, _, _ in readings.rows]
    members: list[list[int]] = [[] for _ in index]
    for row, s in enumerate(series_of):
        members[s].append(row)
    rows = readings.rows
    seqs = [r[0] for r in rows]
    ts_col: list[int] = []
    value_col: list[int] = []
    received_col: list[int] = []
    meta: list[list[Any]] = []
    for (device, metric), picked in zip(index, members, strict=True):
        ts = [rows[i][3] for i in picked]
        ts_scale, ts_ints = _integers(ts)
        value_scale, value_ints = _integers([rows[i][4] for i in picked])
        received = _bits([rows[i][5] for i in picked])
        apart = [r - t for r, t in zip(received, _bits(ts), strict=True)]
        ts_col += _delta(_delta(ts_ints))
        value_col += _delta(value_ints)
        received_col += _delta(apart)
        meta.append([device, metric, ts_scale, value_scale])
    header = json.dumps(
        {"after": readings.after, "through": readings.through, "rows": len(rows), "series": meta},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    gaps = [b - a - 1 for a, b in zip([readings.after, *seqs], seqs, strict=False)]
    columns = (series_of, gaps, ts_col, value_col, received_col)
    return b"".join([MAGIC, _HEADER.pack(len(header)), header, *(_planes(c) for c in columns)])


def decode(data: bytes) -> Readings:
    """The chunk ``encode`` made, or ``Malformed`` for anything else; never more rows than the
    data has room for, so a lying header cannot make it allocate."""
    try:
        return _decode(data)
    except (OverflowError, ValueError) as error:  # Malformed is a ValueError too
        raise Malformed(str(error)) from None


def _decode(data: bytes) -> Readings:
    header, body = _split(data)
    rows, series = _check_header(header, len(body))
    series_of, gaps, ts_col, value_col, received_col = (
        _unplanes(body[k * 8 * rows : (k + 1) * 8 * rows]) for k in range(COLUMNS)
    )
    if series_of and (min(series_of) < 0 or max(series_of) >= len(series)):
        raise Malformed("a row names a series the header does not list")
    members: list[list[int]] = [[] for _ in series]
    for row, s in enumerate(series_of):
        members[s].append(row)
    ts_out = [0.0] * rows
    value_out = [0.0] * rows
    received_out = [0.0] * rows
    start = 0
    for (_, _, ts_scale, value_scale), picked in zip(series, members, strict=True):
        end = start + len(picked)
        ts_ints = _undelta(_undelta(ts_col[start:end]))
        ts = _floats(ts_scale, ts_ints)
        values = _floats(value_scale, _undelta(value_col[start:end]))
        apart = _undelta(received_col[start:end])
        received = _from_bits([a + b for a, b in zip(apart, _bits(ts), strict=True)])
        for i, row in enumerate(picked):
            ts_out[row] = ts[i]
            value_out[row] = values[i]
            received_out[row] = received[i]
        start = end
    after, through = header["after"], header["through"]
    seqs = list(accumulate((g + 1 for g in gaps), initial=after))[1:]
    names = [(d, m) for d, m, _, _ in series]
    out = [
        (q, *names[s], t, v, r)
        for q, s, t, v, r in zip(seqs, series_of, ts_out, value_out, received_out, strict=True)
    ]
    return Readings(after, through, out)


def _integers(values: list[float]) -> tuple[int | None, list[int]]:
    """The smallest decimal scale that holds every value exactly, and the integers; else ``None``
    and the bit patterns."""
    if 0.0 in values and any(math.copysign(1.0, v) < 0 for v in values if v == 0.0):
        return None, _bits(values)  # -0.0 == 0.0, but not bit for bit
    # The first value rules out the scales below its own, cheaply: most series have one scale.
    k = _scale(values[0]) if values else 0
    while k is not None and k <= MAX_SCALE:
        p = 10**k
        try:
            ints = [round(v * p) for v in values]
        except (OverflowError, ValueError):  # a later value is huge, inf or nan
            break
        if -_EXACT < min(ints) <= max(ints) < _EXACT and [n / p for n in ints] == values:
            return k, ints
        k += 1
    return None, _bits(values)


def _scale(value: float) -> int | None:
    if not math.isfinite(value) or abs(value) >= _EXACT:
        return None
    for k in range(MAX_SCALE + 1):
        p = 10**k
        if round(value * p) / p == value:
            return k
    return None


def _floats(scale: int | None, ints: list[int]) -> list[float]:
    if scale is None:
        return _from_bits(ints)
    p = 10**scale
    return [n / p for n in ints]


def _bits(values: list[float]) -> list[int]:
    return list(array("q", array("d", values).tobytes()))


def _from_bits(ints: list[int]) -> list[float]:
    signed = [((n + _HALF) & _MASK) - _HALF for n in ints]
    return list(array("d", array("q", signed).tobytes()))


def _delta(ints: list[int]) -> list[int]:
    return [b - a for a, b in zip([0, *ints], ints, strict=False)]


def _undelta(ints: list[int]) -> list[int]:
    return list(accumulate(ints))


def _planes(ints: list[int]) -> bytes:
    if ints and not -_QUARTER <= min(ints) <= max(ints) < _QUARTER:
        # Wrapped to 64 bits: a bit-pattern difference may need 65, and the decoder's additions
        # wrap the same way, so the round trip stays exact.
        ints = [((n + _HALF) & _MASK) - _HALF for n in ints]
    raw = array("Q", [(n << 1) ^ (n >> 63) for n in ints])
    if sys.byteorder != "little":
        raw.byteswap()
    data = raw.tobytes()
    return b"".join(data[i::8] for i in range(8))


def _unplanes(data: bytes) -> list[int]:
    rows = len(data) // 8
    interleaved = bytearray(len(data))
    for i in range(8):
        interleaved[i::8] = data[i * rows : (i + 1) * rows]
    raw = array("Q", bytes(interleaved))
    if sys.byteorder != "little":
        raw.byteswap()
    return [(z >> 1) ^ -(z & 1) for z in raw]


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    if len(data) < 8 or data[:4] != MAGIC:
        raise Malformed("not a columnar readings chunk")
    (size,) = _HEADER.unpack_from(data, 4)
    if 8 + size > len(data):
        raise Malformed("header runs past the end")
    try:
        header = json.loads(data[8 : 8 + size])
    except (UnicodeDecodeError, ValueError) as error:
        raise Malformed(f"header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise Malformed("header is not an object")
    return header, data[8 + size :]


def _check_header(header: dict[str, Any], body: int) -> tuple[int, list[list[Any]]]:
    bounds: list[Any] = [header.get(k) for k in ("after", "through", "rows")]
    series = header.get("series")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in bounds):
        raise Malformed("after, through and rows must be whole numbers >= 0")
    rows: int = bounds[2]
    if body != BYTES_PER_ROW * rows:
        raise Malformed(f"{body} bytes of columns for {rows} rows")
    if not isinstance(series, list) or not all(_is_series(s) for s in series):
        raise Malformed("series must be [device, metric, ts scale, value scale] entries")
    return rows, series


def _is_series(s: Any) -> bool:
    return (
        isinstance(s, list)
        and len(s) == 4
        and all(isinstance(n, str) for n in s[:2])
        and all(k is None or (_is_int(k) and 0 <= k <= MAX_SCALE) for k in s[2:])
    )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
