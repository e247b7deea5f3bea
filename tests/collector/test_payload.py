"""load_json: orjson where it can, the standard parser's reading and reasons where it cannot."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.payload import load_json


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(b'{"ts": 1763900000.5, "value": 4.5}', {"ts": 1763900000.5, "value": 4.5}),
        pytest.param(b"21.5", 21.5, id="bare number"),
        pytest.param(b"\xef\xbb\xbf[1, 2]", [1, 2], id="byte-order mark"),
        pytest.param(b"18446744073709551616", 18446744073709551616, id="int beyond 64 bits"),
        pytest.param('{"name": "冷库"}'.encode(), {"name": "冷库"}, id="CJK"),
    ],
)
def test_documents_read_as_the_standard_parser_reads_them(payload: bytes, expected: Any) -> None:
    assert load_json(payload) == expected


@pytest.mark.parametrize("payload", [b"NaN", b"1e999", b"-Infinity"])
def test_non_finite_numbers_come_through_for_the_checks_to_name(payload: bytes) -> None:
    assert not math.isfinite(load_json(payload))


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        pytest.param(b"\xff\xfe", UnicodeDecodeError, id="not UTF-8"),
        pytest.param(b"", ValueError, id="empty"),
        pytest.param(b'{"value": 1', ValueError, id="truncated"),
    ],
)
def test_bad_payloads_raise_the_standard_errors(payload: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        load_json(payload)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@pytest.mark.parametrize(
    "document",
    [-9_223_372_036_854_775_809, 18_446_744_073_709_551_616, {"card": 12345678901234567890123}],
)
def test_an_integer_beyond_64_bits_stays_exact(document: Any) -> None:
    # Found by the test below: orjson reads such an integer as a float.
    assert load_json(json.dumps(document).encode()) == document


@settings(max_examples=300)
@given(document=JSON)
def test_any_document_reads_back_equal(document: Any) -> None:
    assert load_json(json.dumps(document).encode()) == document
