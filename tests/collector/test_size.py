"""Byte sizes as people write them in the site YAML, and back."""

from __future__ import annotations

import pytest

from collector.size import SizeError, format_size, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500MB", 500_000_000),
        ("2 GB", 2_000_000_000),
        ("64kB", 64_000),
        ("64KB", 64_000),
        ("1.5GiB", 1_610_612_736),
        ("16MiB", 16_777_216),
        ("1TB", 10**12),
        ("812B", 812),
        ("812", 812),
        (" 20MB ", 20_000_000),
        (4096, 4096),
        (2.5e6, 2_500_000),
    ],
)
def test_a_size_parses(text: str | int | float, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "MB", "500 M", "500mb", "-1MB", "1e6", "five MB", "500MB2", -1, float("inf"), True, None],
)
def test_anything_else_is_refused(text: object) -> None:
    with pytest.raises(SizeError, match="not a size"):
        parse_size(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "text"),
    [(500_000_000, "500MB"), (1_500_000_000, "1.5GB"), (812, "812B"), (12_345, "12.35kB")],
)
def test_a_size_is_written_back_in_its_largest_unit(size: int, text: str) -> None:
    assert format_size(size) == text
