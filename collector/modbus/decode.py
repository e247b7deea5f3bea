"""Pure decoding: which requests read a map, and what a register's words mean.

Eastron meters answer reads of even register counts, at most 80 per request (``devices.md``);
other meters are stricter still, so requests stay within those bounds for every map.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from collector.modbus.registers import RegisterSpec, RegisterType

__all__ = ["MAX_COUNT", "MAX_GAP", "ReadRequest", "decode", "plan_reads", "values_from"]

MAX_COUNT = 80
# Reading a few unused registers costs less than another round trip on a slow RS485 gateway.
MAX_GAP = 16

_FORMAT = {"float32": "f", "int16": "h", "uint16": "H", "int32": "i", "uint32": "I"}


@dataclass(frozen=True, slots=True)
class ReadRequest:
    register_type: RegisterType
    start: int
    count: int


def plan_reads(
    registers: Sequence[RegisterSpec], max_count: int = MAX_COUNT, max_gap: int = MAX_GAP
) -> list[ReadRequest]:
    """Group registers into as few requests as the bounds allow, by register type then address."""
    plan: list[ReadRequest] = []
    for kind in ("input", "holding"):
        spans = sorted(
            (r.address, r.address + r.width) for r in registers if r.register_type == kind
        )
        start = end = -1
        for first, stop in spans:
            if start < 0 or first - end > max_gap or _even(max(end, stop) - start) > max_count:
                if start >= 0:
                    plan.append(_request(kind, start, end))
                start, end = first, stop
            else:
                end = max(end, stop)
        if start >= 0:
            plan.append(_request(kind, start, end))
    return plan


def _even(count: int) -> int:
    return count + count % 2


def _request(kind: RegisterType, start: int, end: int) -> ReadRequest:
    count = _even(end - start)
    # Pad downwards when padding upwards would run past the last address.
    return ReadRequest(kind, min(start, 0x10000 - count), count)


def decode(spec: RegisterSpec, words: Sequence[int]) -> float:
    """The value of ``spec`` from its own words (``spec.width`` of them), scaled."""
    if len(words) != spec.width:
        raise ValueError(f"{spec.name}: {spec.type} takes {spec.width} words, got {len(words)}")
    ordered = list(words) if spec.word_order == "big" else list(reversed(words))
    raw = b"".join(w.to_bytes(2, spec.byte_order) for w in ordered)
    (value,) = struct.unpack(">" + _FORMAT[spec.type], raw)
    if spec.type == "float32":
        if not math.isfinite(value):
            return float(value)
        text = _shortest_float32(value, raw)
    else:
        text = str(value)
    # Decimal keeps 2301 × 0.1 at 230.1 rather than 230.10000000000002.
    return float(Decimal(text) * Decimal(repr(spec.scale)))


def _shortest_float32(value: float, raw: bytes) -> str:
    # A float32 of 230.1 is 230.10000610351562 as a double: report the decimal the meter meant,
    # the shortest one that encodes to the same four bytes.
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if struct.pack(">f", float(text)) == raw:
            return text
    return repr(value)


def values_from(
    registers: Iterable[RegisterSpec], answers: Iterable[tuple[ReadRequest, Sequence[int]]]
) -> dict[str, float]:
    """Decode each register from whichever answered request covers it; uncovered ones are absent."""
    answered = list(answers)
    values: dict[str, float] = {}
    for spec in registers:
        for request, words in answered:
            offset = spec.address - request.start
            if (
                request.register_type == spec.register_type
                and 0 <= offset <= len(words) - spec.width
            ):
                values[spec.name] = decode(spec, words[offset : offset + spec.width])
                break
    return values
