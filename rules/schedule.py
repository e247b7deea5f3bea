"""Opening hours: local time ranges per weekday, holidays, and the time zone they are read in.

A range belongs to the day it starts on: ``fri: 22:00-06:00`` is open from Friday 22:00 until
Saturday 06:00, also when Saturday is a holiday, and not at all when Friday is one. Ranges are
wall-clock times compared with the local time of an instant, so they follow the clock across a DST
change: a range starting in the hour skipped in spring opens when the clock jumps past its start,
and the hour repeated in autumn is inside a range both times it passes.

YAML (``mon-fri`` spans days; a day not named is closed; a holiday is closed unless given hours)::

    schedule:
      timezone: Europe/London
      weekly:
        mon-fri: 07:00-19:00
        sat: [08:00-12:00, 22:00-02:00]
      holidays:
        - 2025-12-25
        - {date: 2025-12-24, hours: 07:00-12:00}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo
from typing import Annotated, Literal, NamedTuple, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, PlainSerializer, PlainValidator, field_validator

from collector.config import Strict

__all__ = [
    "WEEKDAYS",
    "OpeningHours",
    "Schedule",
    "Span",
    "Weekday",
    "expand_days",
    "is_open",
    "parse_span",
]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = dict(zip(WEEKDAYS, WEEKDAYS, strict=True)) | dict(
    zip(_FULL_NAMES, WEEKDAYS, strict=True)
)
_SPAN = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
_DAY = 1440  # minutes


class Span(NamedTuple):
    """A local time range in minutes after midnight; an end at or before the start is the next
    day's (a range across midnight). ``end`` 1440 is midnight at the end of the day."""

    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


def parse_span(value: object) -> Span:
    """``"07:00-19:00"``, ``"22:00-06:00"`` (across midnight), ``"00:00-24:00"`` (all day)."""
    if isinstance(value, Span):
        value = format_span(value)
    # A range always holds a "-", so YAML 1.1 never reads it as a sexagesimal number; anything
    # but a string here is a value written in the wrong place.
    match = _SPAN.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a time range (write e.g. 07:00-19:00)")
    start = _minutes(match[1], match[2], value, end=False)
    end = _minutes(match[3], match[4], value, end=True)
    if start == end:
        raise ValueError(f"{value!r} ends when it starts (write 00:00-24:00 for the whole day)")
    return Span(start, end)


def _minutes(hour: str, minute: str, text: object, *, end: bool) -> int:
    h, m = int(hour), int(minute)
    if m > 59 or h > 24 or (h == 24 and (m or not end)):
        hint = "00:00 to 23:59, or 24:00 as an end"
        raise ValueError(f"{hour}:{minute} in {text!r} is not a time of day ({hint})")
    return h * 60 + m


def format_span(span: Span) -> str:
    return f"{_clock(span.start)}-{_clock(span.end)}"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _listed(value: object) -> object:
    return [value] if isinstance(value, str) else value


TimeRange = Annotated[
    Span, PlainValidator(parse_span), PlainSerializer(format_span, return_type=str)
]
# One range or a list of them; an empty list is closed.
DayHours = Annotated[tuple[TimeRange, ...], BeforeValidator(_listed)]


class OpeningHours(Strict):
    """Open hours per weekday (a day not named is closed), and holidays: closed all day unless
    given hours of their own."""

    weekly: dict[Weekday, DayHours] = {}
    holidays: dict[date, DayHours] = {}

    @field_validator("weekly", mode="before")
    @classmethod
    def _days(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            return value
        days: dict[str, object] = {}
        named: dict[str, object] = {}
        for key, hours in value.items():
            for day in expand_days(key):
                if day in days:
                    raise ValueError(f"{day} is given twice (in {named[day]!r} and {key!r})")
                days[day], named[day] = hours, key
        return days

    @field_validator("holidays", mode="before")
    @classmethod
    def _dates(cls, value: object) -> object:
        if not isinstance(value, list | tuple):
            return value
        holidays: dict[object, object] = {}
        for item in value:
            day, hours = _holiday(item)
            if day in holidays:
                raise ValueError(f"holiday {day} is listed twice")
            holidays[day] = hours
        return holidays

    def hours_on(self, day: date) -> tuple[Span, ...]:
        hours = self.holidays.get(day)
        return hours if hours is not None else self.weekly.get(WEEKDAYS[day.weekday()], ())


class Schedule(OpeningHours):
    """Opening hours in an IANA time zone (the site's, normally: ``Europe/London``)."""

    timezone: str = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (write e.g. Europe/London)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches its instances by key

    def is_open(self, at: float) -> bool:
        return is_open(self, self.zone, at)

    def open_until(self, at: float, horizon: float = 8 * 86400.0) -> float | None:
        """When the hours open at ``at`` next close (to the minute); None when they are closed
        at ``at``, or still open ``horizon`` seconds later (then that instant is the end)."""
        if not self.is_open(at):
            return None
        # Ranges are whole minutes, so the first closed minute boundary is the end.
        step = math.floor(at / 60.0) * 60.0 + 60.0
        while step < at + horizon:
            if not self.is_open(step):
                return step
            step += 60.0
        return at + horizon


def expand_days(key: object) -> list[str]:
    """``mon`` or ``monday`` → [mon]; ``mon-fri`` → mon..fri; ``fri-mon`` wraps the weekend."""
    text = key.strip().lower() if isinstance(key, str) else ""
    first, _, last = text.partition("-")
    if first not in _DAY_NAMES or (last and last not in _DAY_NAMES):
        raise ValueError(
            f"unknown weekday {key!r} (write mon, tue, wed, thu, fri, sat or sun, or a span "
            "such as mon-fri)"
        )
    start = WEEKDAYS.index(_DAY_NAMES[first])
    count = (WEEKDAYS.index(_DAY_NAMES[last]) - start) % 7 + 1 if last else 1
    return [WEEKDAYS[(start + i) % 7] for i in range(count)]


def _holiday(item: object) -> tuple[object, object]:
    """A bare date (closed all day) or ``{date, hours}``."""
    day, hours = item, []
    if isinstance(item, Mapping):
        if "date" not in item or set(item) - {"date", "hours"}:
            raise ValueError(f"a holiday is a date or {{date, hours}}, not {dict(item)!r}")
        day, hours = item["date"], item.get("hours", [])
    try:  # so that "2025-12-25" and an unquoted YAML 2025-12-25 are seen as the same day
        return (date.fromisoformat(day) if isinstance(day, str) else day), hours
    except ValueError:
        return day, hours  # pydantic says what is wrong with it


def is_open(schedule: OpeningHours, tz: tzinfo, at: float) -> bool:
    """Whether the hours are open at the instant ``at`` (unix seconds) read in ``tz``.

    Raises ValueError or OverflowError for an instant a ``datetime`` cannot hold (NaN, year
    10000): callers evaluating device input check for that."""
    local = datetime.fromtimestamp(at, tz)
    second = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    today = local.date()
    if any(_covers(span, second) for span in schedule.hours_on(today)):
        return True
    yesterday = schedule.hours_on(today - timedelta(days=1))
    return any(span.overnight and second < span.end * 60 for span in yesterday)


def _covers(span: Span, second: float) -> bool:
    end = _DAY if span.overnight else span.end
    return span.start * 60 <= second < end * 60
