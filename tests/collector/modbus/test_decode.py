"""Pure decoding: request planning and every type, word order, byte order and scale."""

from __future__ import annotations

import math
from typing import Any

import pytest

from collector.modbus.decode import ReadRequest, decode, plan_reads, values_from
from collector.modbus.registers import SDM120, SDM630, RegisterSpec


def spec(type_: str = "float32", **fields: Any) -> RegisterSpec:
    return RegisterSpec.model_validate({"name": "v", "address": 0, "type": type_, **fields})


@pytest.mark.parametrize(
    ("register", "words", "value"),
    [
        (spec(), [0x4366, 0x8000], 230.5),
        (spec(), [0x4366, 0x199A], 230.1),
        (spec(), [0x4640, 0xE666], 12345.6),
        (spec(), [0x4248, 0x0000], 50.0),
        (spec(), [0x0000, 0x0000], 0.0),
        (spec(), [0xC2C8, 0x0000], -100.0),
        (spec(word_order="little"), [0x8000, 0x4366], 230.5),
        (spec(byte_order="little"), [0x6643, 0x0080], 230.5),
        (spec(word_order="little", byte_order="little"), [0x0080, 0x6643], 230.5),
        (spec(scale=1000), [0x4366, 0x8000], 230500.0),
        (spec("uint16"), [0xFFFF], 65535.0),
        (spec("int16"), [0xFFFF], -1.0),
        (spec("int16"), [0x7FFF], 32767.0),
        (spec("int16", byte_order="little"), [0xFEFF], -2.0),
        (spec("uint16", scale=0.1), [2301], 230.1),
        (spec("int16", scale=0.01), [0xFF9C], -1.0),
        (spec("uint32"), [0x0001, 0x0000], 65536.0),
        (spec("uint32", word_order="little"), [0x0000, 0x0001], 65536.0),
        (spec("uint32"), [0xFFFF, 0xFFFF], 4294967295.0),
        (spec("int32"), [0xFFFF, 0xFFFE], -2.0),
        (spec("int32", word_order="little"), [0xFFFE, 0xFFFF], -2.0),
        (spec("int32", byte_order="little"), [0xFFFF, 0xFEFF], -2.0),
        (spec("uint32", scale=0.001), [0x0001, 0xE240], 123.456),
    ],
)
def test_decode_gives_the_value_the_meter_meant(
    register: RegisterSpec, words: list[int], value: float
) -> None:
    assert decode(register, words) == value


@pytest.mark.parametrize(
    ("words", "check"),
    [([0x7FC0, 0x0000], math.isnan), ([0x7F80, 0x0000], math.isinf), ([0xFF80, 0], math.isinf)],
)
def test_decode_passes_non_finite_floats_through(words: list[int], check: Any) -> None:
    assert check(decode(spec(), words))


@pytest.mark.parametrize(("register", "words"), [(spec(), [1]), (spec("uint16"), [1, 2])])
def test_decode_refuses_the_wrong_number_of_words(register: RegisterSpec, words: list[int]) -> None:
    with pytest.raises(ValueError, match="words"):
        decode(register, words)


def floats(*addresses: int, register: str = "input") -> list[RegisterSpec]:
    return [
        RegisterSpec.model_validate({"name": f"r{a}", "address": a, "register": register})
        for a in addresses
    ]


@pytest.mark.parametrize(
    ("registers", "plan"),
    [
        ([], []),
        (floats(0), [ReadRequest("input", 0, 2)]),
        (floats(0, 2, 4), [ReadRequest("input", 0, 6)]),
        (floats(4, 0, 2), [ReadRequest("input", 0, 6)]),
        (floats(0, 18), [ReadRequest("input", 0, 20)]),
        (floats(0, 19), [ReadRequest("input", 0, 2), ReadRequest("input", 19, 2)]),
        (floats(*range(0, 100, 2)), [ReadRequest("input", 0, 80), ReadRequest("input", 80, 20)]),
        (floats(0, 78), [ReadRequest("input", 0, 2), ReadRequest("input", 78, 2)]),
        (
            floats(0) + floats(0, register="holding"),
            [ReadRequest("input", 0, 2), ReadRequest("holding", 0, 2)],
        ),
        ([spec("uint16", address=7)], [ReadRequest("input", 7, 2)]),
        ([spec("uint16", address=0xFFFF)], [ReadRequest("input", 0xFFFE, 2)]),
        ([spec(address=10), spec("uint16", name="w", address=11)], [ReadRequest("input", 10, 2)]),
        (
            list(SDM630.metered),
            [ReadRequest("input", 0x34, 2), ReadRequest("input", 0x48, 2)],
        ),
        (
            list(SDM630.registers),
            [ReadRequest("input", 0x00, 18), ReadRequest("input", 0x34, 24)],
        ),
        (
            list(SDM120.registers),
            [ReadRequest("input", 0x00, 14), ReadRequest("input", 0x46, 6)],
        ),
    ],
)
def test_plan_reads_groups_nearby_registers_into_even_requests_of_at_most_80(
    registers: list[RegisterSpec], plan: list[ReadRequest]
) -> None:
    assert plan_reads(registers) == plan


@pytest.mark.parametrize(
    ("registers", "answers", "values"),
    [
        (
            floats(0, 2),
            [(ReadRequest("input", 0, 4), [0x4366, 0x8000, 0x4248, 0])],
            {"r0": 230.5, "r2": 50.0},
        ),
        (floats(4), [(ReadRequest("input", 0, 6), [0, 0, 0, 0, 0x4248, 0])], {"r4": 50.0}),
        (floats(4), [(ReadRequest("holding", 0, 6), [0, 0, 0, 0, 0x4248, 0])], {}),
        (floats(4), [(ReadRequest("input", 0, 4), [0, 0, 0, 0])], {}),
        (floats(3), [(ReadRequest("input", 0, 4), [0, 0, 0, 0x4248])], {}),
    ],
)
def test_values_from_decodes_each_register_from_the_answer_covering_it(
    registers: list[RegisterSpec],
    answers: list[tuple[ReadRequest, list[int]]],
    values: dict[str, float],
) -> None:
    assert values_from(registers, answers) == values
