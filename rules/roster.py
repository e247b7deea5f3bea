"""A post's roster: who is on duty when (定岗定责), read in the site's time zone.

Shifts are named local time ranges. A shift belongs to the day it starts on and follows the wall
clock across DST exactly as opening hours do (``rules.schedule``): a shift starting in the hour
skipped in spring begins when the clock jumps past its start, and the hour repeated in autumn is
inside a shift both times it passes. A rotation of one or more weeks says who covers which shift
on which weekday; with several weeks it cycles from ``cycle_start``, and each week of the cycle
begins on that date's weekday.

Overrides put someone else on duty for a local date-time range (no UTC offset: the site's zone
applies). ``replaces: Li`` covers only Li's shifts in the range (a swap, leave, sickness);
without ``replaces`` the override stands in for everyone the rotation has on duty; ``member: []``
leaves the time uncovered. Two overrides that replace the same person, or both everyone, may not
overlap: which one held would depend on their order in the file. Overrides replacing different
people may, and are applied together, once, to whom the rotation puts on duty: Zhang covering Li
while Li covers Zhang is a swap, not a loop.

A post without a roster has all its members on duty all the time.

YAML::

    roster:
      shifts: {day: 08:00-20:00, night: 20:00-08:00}
      cycle_start: 2025-01-06
      weeks:
        - {mon-fri: {day: Li, night: Wang}, sat-sun: {day: Zhang, night: Zhang}}
        - {mon-fri: {day: Wang, night: Li}, sat-sun: {day: Zhang, night: Zhang}}
      overrides:
        - {start: "2025-02-03 08:00", end: "2025-02-03 20:00", member: Zhang, replaces: Li}
        - {start: 2025-02-10, end: 2025-02-17, member: [], replaces: Wang}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from itertools import combinations
from typing import Annotated, NamedTuple

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from collector.config import Strict
from rules.schedule import WEEKDAYS, TimeRange, Weekday, expand_days

__all__ = [
    "Handover",
    "Override",
    "Roster",
    "next_on_duty",
    "on_duty",
    "roster_problems",
]

_DAY = 86400


def _listed(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        raise ValueError(f"{value} has a UTC offset: write the site's local time without one")
    return value


def _days(value: object) -> object:
    """``mon-fri`` keys expanded to their days (``rules.schedule``'s spelling), each day once."""
    if not isinstance(value, Mapping):
        return value
    days: dict[str, object] = {}
    named: dict[str, object] = {}
    for key, shifts in value.items():
        for day in expand_days(key):
            if day in days:
                raise ValueError(f"{day} is given twice (in {named[day]!r} and {key!r})")
            days[day], named[day] = shifts, key
    return days


Names = Annotated[tuple[Annotated[str, Field(min_length=1)], ...], BeforeValidator(_listed)]
LocalTime = Annotated[datetime, AfterValidator(_naive)]
# Per weekday, per shift: who covers it. A day or shift not named has nobody from the rotation.
Week = Annotated[dict[Weekday, dict[str, Names]], BeforeValidator(_days)]


class Override(Strict):
    """``member`` on duty from ``start`` until ``end`` (local, end exclusive), in place of
    ``replaces`` or, without it, of everyone the rotation has on duty."""

    start: LocalTime
    end: LocalTime
    member: Names
    replaces: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if self.end <= self.start:
            raise ValueError(f"ends ({self.end}) before it starts ({self.start})")
        return self

    def covers(self, local: datetime) -> bool:
        return self.start <= local < self.end


class Roster(Strict):
    shifts: dict[Annotated[str, Field(min_length=1)], TimeRange] = Field(min_length=1)
    weeks: tuple[Week, ...] = Field(min_length=1)
    cycle_start: date | None = None
    overrides: tuple[Override, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Roster:
        problems = [
            f"weeks[{i}].{day}: unknown shift {shift!r} (shifts: {', '.join(self.shifts)})"
            for i, week in enumerate(self.weeks)
            for day, shifts in week.items()
            for shift in shifts
            if shift not in self.shifts
        ]
        if len(self.weeks) > 1 and self.cycle_start is None:
            problems.append(
                f"cycle_start: a rotation of {len(self.weeks)} weeks needs the date its first "
                "week begins"
            )
        problems += _overlaps(self.overrides)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def assigned(self, day: date, shift: str) -> tuple[str, ...]:
        """Who the rotation puts on ``shift`` starting on ``day``."""
        weeks_in = (day - (self.cycle_start or day)).days // 7  # negative before the start: fine
        week = self.weeks[weeks_in % len(self.weeks)]
        return week.get(WEEKDAYS[day.weekday()], {}).get(shift, ())

    def names(self) -> Iterator[tuple[str, str]]:
        """Every name the roster uses, with where: for checking them against the post."""
        for i, week in enumerate(self.weeks):
            for day, shifts in week.items():
                for shift, names in shifts.items():
                    yield from ((f"weeks[{i}].{day}.{shift}", n) for n in names)
        for i, o in enumerate(self.overrides):
            yield from ((f"overrides[{i}].member", n) for n in o.member)
            if o.replaces is not None:
                yield f"overrides[{i}].replaces", o.replaces


def _overlaps(overrides: Sequence[Override]) -> list[str]:
    return [
        f"overrides[{i}] and overrides[{j}] both replace {a.replaces or 'everyone'} from "
        f"{max(a.start, b.start)} to {min(a.end, b.end)}: end one where the other begins"
        for (i, a), (j, b) in combinations(enumerate(overrides), 2)
        if a.replaces == b.replaces and a.start < b.end and b.start < a.end
    ]


def roster_problems(roster: Roster, members: Sequence[str]) -> list[str]:
    """Names in the roster that are not members of the post: one line per name, at the first
    place it is used."""
    places: dict[str, list[str]] = {}
    for where, name in roster.names():
        if name not in members:
            places.setdefault(name, []).append(where)
    have = ", ".join(members) or "no members"
    return [
        f"roster.{where[0]}: unknown member {name!r} (the post has {have})"
        + (f"; also in {len(where) - 1} more places" if len(where) > 1 else "")
        for name, where in places.items()
    ]


def on_duty(roster: Roster | None, members: Sequence[str], tz: tzinfo, at: float) -> list[str]:
    """Who is on duty at the instant ``at`` (unix seconds) read in ``tz``, in the order of
    ``members``; names the post does not have are left out.

    Raises ValueError or OverflowError for an instant a ``datetime`` cannot hold."""
    members = list(dict.fromkeys(members))
    if roster is None:
        return members
    local = datetime.fromtimestamp(at, tz).replace(tzinfo=None)
    scheduled = set(_rostered(roster, local))
    active = [o for o in roster.overrides if o.covers(local)]
    for o in active:
        if o.replaces is None:  # at most one at a time: overlaps are refused
            scheduled = set(o.member)
    swaps = {o.replaces: o.member for o in active if o.replaces is not None}
    duty = {who for name in scheduled for who in swaps.get(name, (name,))}
    return [m for m in members if m in duty]


def _rostered(roster: Roster, local: datetime) -> Iterator[str]:
    minute = (local - datetime.combine(local.date(), time())) / timedelta(minutes=1)
    today, yesterday = local.date(), local.date() - timedelta(days=1)
    for shift, span in roster.shifts.items():
        if span.start <= minute < (1440 if span.overnight else span.end):
            yield from roster.assigned(today, shift)
        if span.overnight and minute < span.end:
            yield from roster.assigned(yesterday, shift)


class Handover(NamedTuple):
    """From ``at`` on, ``members`` are on duty."""

    at: float
    members: tuple[str, ...]


def next_on_duty(
    roster: Roster | None, members: Sequence[str], tz: tzinfo, at: float
) -> Handover | None:
    """The first change of who is on duty after ``at``, and who is on duty from then; None when
    it never changes (no roster, or the same people around the clock)."""
    if roster is None:
        return None
    now = on_duty(roster, members, tz, at)
    for t in _changes(roster, tz, at):
        then = on_duty(roster, members, tz, t)
        if then != now:
            return Handover(t, tuple(then))
    return None


def _changes(roster: Roster, tz: tzinfo, at: float) -> list[float]:
    """Every instant after ``at`` at which who is on duty may change, in order.

    Between two override edges the substitutions are fixed and the rotation repeats every cycle,
    so if nothing changes within a cycle (and a day) of an edge, nothing does until the next:
    shift boundaries are needed only that far after ``at`` and after each later edge."""
    first = datetime.fromtimestamp(at, tz).date()
    cycle = 7 * len(roster.weeks) + 2
    edges = [e for o in roster.overrides for e in (o.start, o.end) if e.date() >= first]
    days = {
        day + timedelta(days=n)
        for day in (first, *(e.date() for e in edges))
        for n in range(-1, cycle)
    }
    walls = [
        datetime.combine(day, time()) + timedelta(minutes=minute)
        for day in days
        for span in roster.shifts.values()
        for minute in span
    ]
    instants = {t for wall in (*walls, *edges) for t in _instants(wall, tz)}
    instants.update(t for day in days for t in _jumps(day, tz))
    return sorted(t for t in instants if t > at)


def _instants(wall: datetime, tz: tzinfo) -> tuple[float, ...]:
    """The instants at which the clock in ``tz`` reads ``wall`` (naive): one, two in the hour
    repeated in autumn, and for a time skipped in spring the two instants either side of it."""
    return tuple(sorted({wall.replace(tzinfo=tz, fold=fold).timestamp() for fold in (0, 1)}))


def _jumps(day: date, tz: tzinfo) -> Iterable[float]:
    """The instant the clock changes its UTC offset during ``day``, if it does (at most once a
    day in every zone zoneinfo knows)."""
    low = int(datetime.combine(day, time(), tz).timestamp())
    high = low + _DAY + 7200  # a day may be 25 hours long
    if _offset(tz, low) == _offset(tz, high):
        return ()
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _offset(tz, middle) == _offset(tz, low) else (low, middle)
    return (float(high),)


def _offset(tz: tzinfo, at: float) -> timedelta | None:
    return datetime.fromtimestamp(at, tz).utcoffset()
