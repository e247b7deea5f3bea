"""The readings chunk in columns (``sync.columns``): exact, compact, and hard to fool."""

import contextlib
import gzip
import json
import math
import struct
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import columns
from sync.columns import Malformed, Readings, Row
from tests.hubfixtures import T0


def bits(rows: list[Row]) -> list[tuple[object, ...]]:
    """Rows with their floats as bit patterns: ``==`` takes -0.0 for 0.0 and NaN for nothing."""
    return [(s, d, m, *(struct.pack("<d", f) for f in (t, v, r))) for s, d, m, t, v, r in rows]


def round_trip(readings: Readings) -> Readings:
    return columns.decode(columns.encode(readings))


names = st.text(min_size=1, max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False)
# Timestamps as they come: whole seconds, milliseconds, microseconds, or any float at all.
times = st.one_of(
    st.integers(0, 4_000_000_000).map(float),
    st.integers(0, 4_000_000_000_000).map(lambda ms: ms / 1000),
    st.floats(0, 4e9),
    finite,
)
row_fields = st.tuples(st.sampled_from(range(4)), names, names, times, finite, times)


@st.composite
def chunks(draw: st.DrawFn) -> Readings:
    after = draw(st.integers(0, 2**40))
    drawn = draw(st.lists(row_fields, max_size=60))
    series = draw(st.lists(st.tuples(names, names), min_size=1, max_size=4))
    gaps = draw(st.lists(st.integers(0, 1000), min_size=len(drawn), max_size=len(drawn)))
    rows: list[Row] = []
    seq = after
    for (pick, _, _, ts, value, received), gap in zip(drawn, gaps, strict=True):
        seq += gap + 1
        device, metric = series[pick % len(series)]
        rows.append((seq, device, metric, ts, value, received))
    return Readings(after, seq, rows)


@settings(max_examples=300, deadline=None)
@given(chunks())
def test_any_chunk_comes_back_bit_for_bit(sent: Readings) -> None:
    back = round_trip(sent)
    assert (back.after, back.through) == (sent.after, sent.through)
    assert bits(list(back.rows)) == bits(list(sent.rows))


@pytest.mark.parametrize(
    "value",
    [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -1.7976931348623157e308, 0.1 + 0.2, 4.3],
)
def test_awkward_floats_come_back_bit_for_bit(value: float) -> None:
    rows: list[Row] = [(1, "p", "t", T0, 4.5, T0), (2, "p", "t", value, value, value)]
    assert bits(list(round_trip(Readings(0, 2, rows)).rows)) == bits(rows)


def test_a_nan_payload_survives() -> None:
    odd_nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_DEAD_BEEF))[0]
    rows: list[Row] = [(1, "p", "t", T0, odd_nan, T0)]
    assert bits(list(round_trip(Readings(0, 1, rows)).rows)) == bits(rows)


def test_an_empty_chunk_keeps_its_bounds() -> None:
    assert round_trip(Readings(7, 7, [])) == Readings(7, 7, [])


def test_unicode_names_survive() -> None:
    rows: list[Row] = [(1, "Kühlraum «Süd» 冷库", "température", T0, -18.5, T0)]
    assert list(round_trip(Readings(0, 1, rows)).rows) == rows


@pytest.mark.parametrize(
    ("name", "make", "most"),
    [
        # A probe with no clock of its own, once a minute, to a tenth of a degree.
        ("probe", lambda i: (T0 + 60 * i + (i * 7919 % 1000) / 1e5, 4 + (i % 5) / 10), 4.0),
        # A meter stamping milliseconds, counting up in hundredths of a kWh.
        ("meter", lambda i: (T0 + 60 * i + (i % 3) / 1000, 1523.25 + i * 0.25), 1.0),
    ],
)
def test_a_series_costs_a_few_bytes_a_reading(
    name: str, make: Callable[[int], tuple[float, float]], most: float
) -> None:
    rows: list[Row] = [(i + 1, name, "m", *make(i), make(i)[0]) for i in range(2000)]
    packed = gzip.compress(columns.encode(Readings(0, 2000, rows)), compresslevel=1)
    assert len(packed) / 2000 <= most


def test_the_size_bound_holds() -> None:
    series = [("ü" * 50, "\x01" * 10), ("d", "m")]
    rows: list[Row] = [(i, *series[i % 2], T0, 1.0, T0) for i in range(1, 101)]
    assert len(columns.encode(Readings(0, 100, rows))) <= columns.encoded_size(100, series)


def header(**fields: object) -> bytes:
    base: dict[str, object] = {"after": 0, "through": 1, "rows": 1, "series": [["d", "m", 0, 0]]}
    text = json.dumps(base | fields).encode()
    return b"FWR1" + struct.pack("<I", len(text)) + text


def body(*ints: int) -> bytes:
    return b"".join(struct.pack("<Q", n) for n in ints)


ONE_ROW = body(0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a columnar readings chunk"),
        (b"FWR2" + bytes(8), "not a columnar readings chunk"),
        (b"FWR1" + struct.pack("<I", 99) + b"{}", "header runs past the end"),
        (b"FWR1" + struct.pack("<I", 2) + b"[]", "header is not an object"),
        (b"FWR1" + struct.pack("<I", 2) + b"\xff{", "header is not JSON"),
        (header(rows=2) + ONE_ROW, "40 bytes of columns for 2 rows"),
        (header(rows=10**12) + ONE_ROW, "40 bytes of columns for 1000000000000 rows"),
        (header(rows=-1), "after, through and rows must be whole numbers >= 0"),
        (header(after=True) + ONE_ROW, "after, through and rows must be whole numbers >= 0"),
        (header(series=[["d", "m", 10, 0]]) + ONE_ROW, "series must be"),
        (header(series=[["d", 5, 0, 0]]) + ONE_ROW, "series must be"),
        (header(series=[]) + ONE_ROW, "a row names a series the header does not list"),
        # Series -1 (zigzag 1) would quietly be the last one in Python.
        (header() + body(1, 0, 0, 0, 0), "a row names a series the header does not list"),
    ],
)
def test_a_malformed_chunk_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(Malformed, match=reason):
        columns.decode(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_refused(data: bytes) -> None:
    with contextlib.suppress(Malformed):
        columns.decode(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=5, max_size=5))
def test_any_column_values_decode_or_are_refused(ints: list[int]) -> None:
    data = header(series=[["d", "m", 3, 2]]) + body(0, *ints[1:])
    with contextlib.suppress(Malformed):
        columns.decode(data)
