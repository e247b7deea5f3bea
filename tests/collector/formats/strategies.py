"""What the property tests throw at every format: arbitrary bytes, JSON and near-miss documents."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from typing import Any

from hypothesis import strategies as st

from collector.formats import Availability, Parsed
from collector.models import AccessEvent, Reading, Rejection

ALLOWED = (Reading, AccessEvent, Rejection, Availability)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300)
    | st.floats()
    | st.text(st.characters(codec=None, exclude_categories=()), max_size=8)
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)


def documents(keys: list[str]) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, arbitrary JSON, and objects built from the format's own field names."""
    near = st.recursive(
        SCALARS,
        lambda children: (
            st.dictionaries(st.sampled_from(keys), children, max_size=5)
            | st.lists(children, max_size=3)
        ),
        max_leaves=16,
    )
    return st.binary(max_size=64) | (JSON | near).map(lambda value: json.dumps(value).encode())


def plain(value: Any) -> Any:
    """For json.dumps: a dataclass as its fields, anything else JSON cannot hold as its repr."""
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else repr(value)


def storable(results: list[Parsed]) -> bool:
    # SQLite takes text as UTF-8; a lone surrogate (a JSON "\ud800") would fail the whole batch.
    text = json.dumps(results, default=plain, ensure_ascii=False)
    return bool(text.encode("utf-8")) and all(isinstance(r, ALLOWED) for r in results)
