from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collector.manual import (
    Checked,
    FileError,
    ManualReading,
    MeterReplacement,
    Point,
    RawRow,
    RowProblem,
    parse_csv,
    replacements,
    rows_from_json,
    validate,
)

NOW = 1_795_000_000.0  # 2026-11-18T11:06:40Z
SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
KINDS = {"main-meter": "power_meter", "water-1": "water_meter", "freezer-1": "temperature"}
OCT_1 = datetime.fromisoformat("2026-10-01T08:00+08:00").timestamp()
NOV_1 = datetime.fromisoformat("2026-11-01T08:00+08:00").timestamp()
STORED = {("water-1", "water"): Point(OCT_1, 120.0)}


def previous(device: str, metric: str, ts: float) -> Point | None:
    point = STORED.get((device, metric))
    return point if point is not None and point.ts <= ts else None


def check(text: str, zone: ZoneInfo = SHANGHAI) -> Checked:
    return validate(parse_csv(text), KINDS, zone=zone, now=NOW, previous=previous)


GOOD: list[tuple[str, ManualReading]] = [
    ("water-1,2026-11-01T08:00,130.5", ManualReading(2, "water-1", "water", NOV_1, 130.5, False)),
    ("water-1,2026-11-01 08:00:00,130", ManualReading(2, "water-1", "water", NOV_1, 130.0, False)),
    ("water-1,2026-11-01T00:00Z,130", ManualReading(2, "water-1", "water", NOV_1, 130.0, False)),
    (
        " water-1 , 2026-11-01T08:00+08:00 , 1.3e2 ",
        ManualReading(2, "water-1", "water", NOV_1, 130.0, False),
    ),
    ("main-meter,2026-11-01T08:00,5", ManualReading(2, "main-meter", "energy", NOV_1, 5.0, False)),
    ("water-1,2026-11-01T08:00,7,,yes", ManualReading(2, "water-1", "water", NOV_1, 7.0, True)),
    (
        "water-1,2026-11-01T08:00,7,water,TRUE",
        ManualReading(2, "water-1", "water", NOV_1, 7.0, True),
    ),
    (
        "freezer-1,2026-11-01T08:00,-18,temperature,",
        ManualReading(2, "freezer-1", "temperature", NOV_1, -18.0, False),
    ),
    (
        "water-1,2026-10-01T07:00,100",
        ManualReading(2, "water-1", "water", OCT_1 - 3600, 100.0, False),
    ),
]


@pytest.mark.parametrize(("row", "reading"), GOOD, ids=[g[0] for g in GOOD])
def test_a_good_row_becomes_a_reading(row: str, reading: ManualReading) -> None:
    assert check(f"device,time,value,metric,replacement\n{row}\n") == Checked([reading], [])


BAD: list[tuple[str, str]] = [
    ("pump-9,2026-11-01T08:00,1,,", "unknown device 'pump-9'"),
    (",2026-11-01T08:00,1,,", "no device"),
    ("water-1,01/11/2026,1,,", "time '01/11/2026' is not ISO 8601"),
    ("water-1,,1,,", "no time"),
    ("water-1,2026-12-01T08:00,200,,", "is in the future"),
    ("water-1,1999-12-31T08:00,1,,", "is before 2000"),
    ("water-1,2026-11-01T08:00,abc,,", "value 'abc' is not a number"),
    ('water-1,2026-11-01T08:00,"1,234",,', "value '1,234' is not a number"),
    ("water-1,2026-11-01T08:00,,,", "value empty is not a number"),
    ("water-1,2026-11-01T08:00,nan,,", "value 'nan' is not finite"),
    ("water-1,2026-11-01T08:00,1e400,,", "value '1e400' is not finite"),
    ("water-1,2026-11-01T08:00,-1,,true", "water -1 m³ is outside 0..1e+12"),
    ("freezer-1,2026-11-01T08:00,300,temperature,", "temperature 300 °C is outside -100..200"),
    ("water-1,2026-11-01T08:00,130,energy,", "unknown metric 'energy' for a water_meter device"),
    ("freezer-1,2026-11-01T08:00,-18,,", "a temperature device has no meter to read"),
    ("water-1,2026-11-01T08:00,130,,maybe", "replacement 'maybe' is not true/yes/1"),
    (
        "water-1,2026-11-01T08:00,110,,",
        "value 110 is lower than the previous reading 120 at 2026-10-01T08:00:00+08:00",
    ),
    ("water-1,2026-11-01T08:00,119.99,,no", "lower than the previous reading 120"),
    ("water-1,2026-10-01T08:00,125,,", "water-1 water already has a reading at that time"),
    ("water-1,2026-11-01T08:00,130,,,x", "6 fields where the header has 5"),
]


@pytest.mark.parametrize(("row", "reason"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_row_is_rejected_with_its_line_and_reason(row: str, reason: str) -> None:
    checked = check(f"device,time,value,metric,replacement\n\n{row}\n")
    assert checked.readings == []
    assert [p.line for p in checked.rejected] == [3]
    assert reason in checked.rejected[0].reason


LOCAL: list[tuple[str, str]] = [
    ("2026-03-29T01:30", "does not exist in Europe/London (clocks went forward)"),
    ("2026-10-25T01:30", "happens twice in Europe/London; give the UTC offset"),
]


@pytest.mark.parametrize(("time", "reason"), LOCAL)
def test_a_local_time_the_clocks_skip_or_repeat_is_rejected(time: str, reason: str) -> None:
    checked = check(f"device,time,value\nwater-1,{time},130\n", zone=LONDON)
    assert checked.rejected == [RowProblem(2, f"time {time}:00 {reason}")]


def test_the_same_local_time_with_an_offset_is_taken() -> None:
    checked = check("device,time,value\nwater-1,2026-10-25T01:30+01:00,130\n", zone=LONDON)
    assert [r.ts for r in checked.readings] == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp()
    ]


def test_earlier_rows_of_the_file_count_as_stored() -> None:
    checked = check(
        "device,time,value,replacement\n"
        "water-1,2026-11-01T08:00,130,\n"
        "water-1,2026-11-02T08:00,129,\n"
        "water-1,2026-11-03T08:00,2,yes\n"
        "water-1,2026-11-04T08:00,3,\n"
        "water-1,2026-11-04T08:00,4,\n"
        "water-1,2026-10-15T08:00,125,\n"
    )
    assert [(r.line, r.value) for r in checked.readings] == [(2, 130), (4, 2), (5, 3), (7, 125)]
    assert [p.line for p in checked.rejected] == [3, 6]
    assert "lower than the previous reading 130" in checked.rejected[0].reason
    assert "already has a reading" in checked.rejected[1].reason


def test_a_row_is_reported_by_the_line_it_starts_on() -> None:
    checked = check('device,time,value\n"water\n-1",2026-11-01T08:00,1\npump,2026-11-01T08:00,1\n')
    assert [p.line for p in checked.rejected] == [2, 4]


FILES: list[tuple[str, str]] = [
    ("", "the file is empty"),
    ("device,time\nwater-1,2026-11-01T08:00\n", "no 'value' column"),
    ("device,time,value,note\n", "unknown column 'note'"),
    ("device,time,value,value\n", "a column is named twice"),
]


@pytest.mark.parametrize(("text", "reason"), FILES)
def test_a_file_without_a_usable_header_is_refused_whole(text: str, reason: str) -> None:
    with pytest.raises(FileError, match=reason):
        parse_csv(text)


def test_a_byte_order_mark_and_header_case_are_ignored() -> None:
    assert parse_csv("\ufeffDevice, Time ,VALUE\nwater-1,2026-11-01T08:00,1\n") == [
        RawRow(2, "water-1", "2026-11-01T08:00", "1")
    ]


def test_json_rows_are_numbered_from_one() -> None:
    rows = rows_from_json(
        [
            {"device": "water-1", "time": "2026-11-01T08:00", "value": 130.5},
            {"device": "water-1", "time": "2026-11-02T08:00", "value": 2, "replacement": True},
            "water-1,2026-11-01T08:00,1",
            {"device": "water-1", "time": "2026-11-03T08:00", "value": True},
            {"device": "water-1", "when": "2026-11-03T08:00", "value": 3},
        ]
    )
    checked = validate(rows, KINDS, zone=SHANGHAI, now=NOW, previous=previous)
    assert [(r.line, r.value, r.replacement) for r in checked.readings] == [
        (1, 130.5, False),
        (2, 2.0, True),
    ]
    assert checked.rejected == [
        RowProblem(3, "a row must be an object with device, time and value"),
        RowProblem(4, "value 'true' is not a number (use a point, no separators)"),
        RowProblem(5, "unknown field 'when'"),
    ]


NOV_3 = NOV_1 + 2 * 86400
REPLACED: list[tuple[str, list[MeterReplacement]]] = [
    ("water-1,2026-11-01T08:00,3,,yes", [MeterReplacement("water-1", "water", NOV_1, 3, 120)]),
    (
        "water-1,2026-11-01T08:00,130,,\nwater-1,2026-11-03T08:00,2,,yes",
        [MeterReplacement("water-1", "water", NOV_3, 2, 130)],
    ),
    # The reading just before it in time, though it comes after it in the file.
    (
        "water-1,2026-11-03T08:00,2,,yes\nwater-1,2026-11-02T08:00,130,,",
        [MeterReplacement("water-1", "water", NOV_3, 2, 130)],
    ),
    (
        "main-meter,2026-11-01T08:00,4,,yes",
        [MeterReplacement("main-meter", "energy", NOV_1, 4, None)],
    ),
    ("freezer-1,2026-11-01T08:00,-18,temperature,yes", []),
    ("water-1,2026-11-01T08:00,130,,no", []),
]


@pytest.mark.parametrize(("rows", "replaced"), REPLACED, ids=[r[0] for r in REPLACED])
def test_a_replacement_is_recorded_with_the_reading_just_before_it(
    rows: str, replaced: list[MeterReplacement]
) -> None:
    checked = check(f"device,time,value,metric,replacement\n{rows}\n")
    assert checked.rejected == []
    assert replacements(checked.readings, previous) == replaced
