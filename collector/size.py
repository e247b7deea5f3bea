"""Byte sizes as people write them in site YAML: ``500MB``, ``2 GB``, ``1.5GiB``, ``64KB``.

Decimal units (kB/KB, MB, GB, TB: powers of 1000) as disks are sold, binary ones (KiB, MiB, GiB,
TiB: powers of 1024) as ``df -h`` shows them; a bare number is bytes.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKMGT]i?B|B)?$")
_BYTES = {
    "B": 1,
    "kB": 1000,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}


class SizeError(ValueError):
    """A size string that does not parse."""


def parse_size(text: str | int | float) -> int:
    """Parse ``"500MB"`` (or a number of bytes) into whole bytes; reject anything else."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise SizeError(f"not a size: {text!r}")
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0:
            raise SizeError(f"not a size: {text!r}")
        return int(text)
    match = _SIZE.match(text.strip())
    unit = match.group(2) if match else None
    if match is None or (unit is not None and unit not in _BYTES):
        raise SizeError(f"not a size: {text!r} (write e.g. 500MB, 2GB, 1.5GiB)")
    return int(float(match.group(1)) * _BYTES[unit or "B"])


def format_size(value: int) -> str:
    """In the largest decimal unit it reaches, to two decimals: ``500MB``, ``1.5GB``, ``812B``."""
    for unit in ("TB", "GB", "MB", "kB"):
        size = _BYTES[unit]
        if value >= size:
            return f"{value / size:.2f}".rstrip("0").rstrip(".") + unit
    return f"{value}B"


Size = Annotated[int, BeforeValidator(parse_size), PlainSerializer(format_size, return_type=str)]
