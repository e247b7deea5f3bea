"""Alarm load and response KPIs of one group of alarms over one period, as pure functions.

The measures and limits are ISA-18.2 / EEMUA 191's (``shared/reference/alarms.md``, "Load KPIs"):
an *alarm* there is an activation — the raise, every reraise and every re-alarm of one hub alarm
— counted in fixed 10-minute windows from the period's start. Times are unix seconds; a period is
half-open, ``start <= t < end``, so consecutive months never count an activation twice.

Only what was announced loads a person: an activation while its rule was shelved, suppressed or
out of service (``rules.actions``; alarms.md: "annunciated: no") is counted apart, as
``unannounced``, and an alarm first raised so is left out of the response times — nobody was asked
to respond.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple, get_args

from rules.actions import Action, standing
from rules.alarm import Alarm
from rules.base import Severity

WINDOW = 600.0
FLOOD_BEGINS_ABOVE = 10
FLOOD_ENDS_BELOW = 5
TOP = 10
CHATTER_ACTIVATIONS = 3
CHATTER_SECONDS = 60.0
STALE_SECONDS = 24 * 3600.0
SEVERITIES: tuple[str, ...] = get_args(Severity)
ACTIVATED = frozenset({"raised", "reraised"})
# A disposition closing a latched alarm acknowledges it too (rules.alarm.close).
ANSWERED = frozenset({"acked", "closed"})
INFINITY = float("inf")


@dataclass(frozen=True, slots=True)
class Period:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def __contains__(self, at: float) -> bool:
        return self.start <= at < self.end

    def window(self, at: float) -> int:
        return int((at - self.start) // WINDOW)

    def window_seconds(self, index: int) -> float:
        """The last window is cut short by the period's end."""
        begins = self.start + index * WINDOW
        return min(begins + WINDOW, self.end) - begins


class Change(NamedTuple):
    """One ``alarm_events`` row: ``raised``, ``reraised``, ``acked`` or ``cleared``."""

    at: float
    kind: str
    by: str | None = None


@dataclass(frozen=True, slots=True)
class Activation:
    at: float
    acked_at: float | None = None
    acked_by: str | None = None
    # False: its rule was shelved, suppressed or out of service at that moment.
    announced: bool = True


Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class AlarmHistory:
    """One hub alarm: its activations, each with the acknowledgement that answered it, and the
    stretches its condition was active (the last ends at infinity while it still is)."""

    site: str
    id: str
    rule: str
    severity: str
    post: str | None
    activations: tuple[Activation, ...]
    spans: tuple[Span, ...]

    @property
    def raised_at(self) -> float:
        return self.activations[0].at

    @property
    def first_activation(self) -> Activation:
        """Answered by the alarm's first acknowledgement, if there was one."""
        return self.activations[0]

    @property
    def cleared_at(self) -> float | None:
        """The last clear, once the condition is no longer active."""
        end = self.spans[-1][1] if self.spans else INFINITY
        return None if end == INFINITY else end


def replay(changes: Iterable[Change]) -> tuple[tuple[Activation, ...], tuple[Span, ...]]:
    """An alarm's activations and active spans from its changes, in the order they were made
    (not that of their times: an acknowledgement at the hub is on the hub's clock).

    An acknowledgement answers every activation since the one before: a reraise of an alarm that
    cleared unacknowledged is answered by the acknowledgement that follows. A re-alarm
    (``rules.alarm.realarm``) is a ``reraised`` while the condition is active: a new activation,
    but not a new span.
    """
    activations: list[Activation] = []
    unanswered: list[int] = []
    spans: list[Span] = []
    since: float | None = None
    for at, kind, by in changes:
        if kind in ACTIVATED:
            unanswered.append(len(activations))
            activations.append(Activation(at))
            since = at if since is None else since
        elif kind in ANSWERED:
            for i in unanswered:
                activations[i] = replace(activations[i], acked_at=at, acked_by=by)
            unanswered = []
        elif kind == "cleared" and since is not None:
            spans.append((since, at))
            since = None
    if since is not None:
        spans.append((since, INFINITY))
    return tuple(activations), tuple(spans)


def announced(history: AlarmHistory, log: Sequence[Action]) -> AlarmHistory:
    """The history with each activation marked by whether its rule was in service then, from
    the rule's point actions (``log``, in any order)."""
    if not log:
        return history
    marked = tuple(
        replace(a, announced=_in_service(history, log, a.at)) for a in history.activations
    )
    return replace(history, activations=marked)


def _in_service(history: AlarmHistory, log: Sequence[Action], at: float) -> bool:
    # A one-shot shelve lasts while the alarm it was taken on stays active: it holds at ``at``
    # only if taken in the same active span (rules.actions reads that from the alarm now).
    span = next(((b, e) for b, e in history.spans if b <= at < e), None)
    held = [
        action
        for action in log
        if action.kind != "shelve"
        or action.until is not None
        or (span is not None and span[0] <= action.at <= at)
    ]
    alarm = Alarm(history.id, history.rule, "", None, history.severity, history.post, "", at, at)
    return standing(held, at, alarm).mode == "in_service"


@dataclass(frozen=True, slots=True)
class RuleCount:
    site: str
    rule: str
    activations: int


@dataclass(frozen=True, slots=True)
class Load:
    activations: int
    # Activations in the period while the rule was shelved, suppressed or out of service.
    unannounced: int
    per_hour: float
    per_10min: float
    peak_10min: int
    peak_10min_at: float | None
    flood_share: float
    floods: int
    top10_share: float | None
    top_rules: tuple[RuleCount, ...]
    chattering: int
    stale: int
    priority: dict[str, float]


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    """Time to acknowledge and to clear, in seconds, of the alarms raised in the period; an
    acknowledgement or clear after the period's end still counts, so the slowest responses are
    not the ones left out."""

    raised: int
    acked: int
    cleared: int
    ack_p50: float | None
    ack_p95: float | None
    clear_p50: float | None
    clear_p95: float | None


def load(
    activations: Sequence[tuple[AlarmHistory, Activation]],
    alarms: Sequence[AlarmHistory],
    period: Period,
) -> Load:
    """The load that the group's announced activations in the period put on whoever answers
    them; stale alarms are counted among the group's ``alarms``."""
    inside = [(h, a) for h, a in activations if a.at in period]
    counted = [(h, a.at) for h, a in inside if a.announced]
    counts = Counter(period.window(at) for _, at in counted)
    peak_window, peak = max(counts.items(), key=lambda c: (c[1], -c[0]), default=(None, 0))
    flood_share, floods = flood(counts, period)
    rules = Counter((h.site, h.rule) for h, _ in counted)
    top = tuple(RuleCount(site, rule, n) for (site, rule), n in _most_common(rules, TOP))
    return Load(
        activations=len(counted),
        unannounced=len(inside) - len(counted),
        per_hour=len(counted) / period.seconds * 3600,
        per_10min=len(counted) / period.seconds * WINDOW,
        peak_10min=peak,
        peak_10min_at=None if peak_window is None else period.start + peak_window * WINDOW,
        flood_share=flood_share,
        floods=floods,
        top10_share=_share(sum(r.activations for r in top), len(counted)),
        top_rules=top,
        chattering=chattering([(h.site, h.rule, at) for h, at in counted]),
        stale=sum(1 for h in alarms if is_stale(h, period)),
        priority=priority([h.severity for h, _ in counted]),
    )


def response_times(histories: Sequence[AlarmHistory], period: Period) -> ResponseTimes:
    """How fast the group's alarms raised (and announced) in the period were acknowledged and
    cleared."""
    raised = [h for h in histories if h.raised_at in period and h.first_activation.announced]
    # max(0, ...): an acknowledgement at the hub is stamped by the hub's clock, the raise by the
    # agent's, and the two may disagree by a little.
    to_ack = [
        max(0.0, at - h.raised_at)
        for h in raised
        if (at := h.first_activation.acked_at) is not None
    ]
    to_clear = [c - h.raised_at for h in raised if (c := h.cleared_at) is not None]
    return ResponseTimes(
        raised=len(raised),
        acked=len(to_ack),
        cleared=len(to_clear),
        ack_p50=percentile(to_ack, 50),
        ack_p95=percentile(to_ack, 95),
        clear_p50=percentile(to_clear, 50),
        clear_p95=percentile(to_clear, 95),
    )


def flood(counts: dict[int, int], period: Period) -> tuple[float, int]:
    """The share of the period in flood, and how many floods began.

    A flood begins with a window of more than 10 activations (that window is in flood) and ends
    with one of fewer than 5 (that window is not); an empty window ends it too.
    """
    flooded = 0.0
    floods = 0
    in_flood = False
    previous = None
    for index in sorted(counts):
        if previous is not None and index > previous + 1:
            in_flood = False
        if not in_flood and counts[index] > FLOOD_BEGINS_ABOVE:
            in_flood, floods = True, floods + 1
        elif in_flood and counts[index] < FLOOD_ENDS_BELOW:
            in_flood = False
        if in_flood:
            flooded += period.window_seconds(index)
        previous = index
    return flooded / period.seconds, floods


def chattering(activations: Iterable[tuple[str, str, float]]) -> int:
    """How many rules (site, rule) were activated at least 3 times within one minute."""
    times: dict[tuple[str, str], list[float]] = {}
    for site, rule, at in activations:
        times.setdefault((site, rule), []).append(at)
    return sum(1 for ats in times.values() if _chatters(sorted(ats)))


def is_stale(history: AlarmHistory, period: Period) -> bool:
    """Whether, at some moment of the period, the alarm had been active for over 24 hours."""
    return any(
        min(end, period.end) > max(period.start, start + STALE_SECONDS)
        for start, end in history.spans
    )


def priority(severities: Sequence[str]) -> dict[str, float]:
    """The share of each severity: the four of ``rules.base.Severity`` always, others when seen."""
    if not severities:
        return {}
    counts = Counter(severities)
    names = [*SEVERITIES, *sorted(set(counts) - set(SEVERITIES))]
    return {name: counts[name] / len(severities) for name in names}


def percentile(values: Sequence[float], p: int) -> float | None:
    """The nearest-rank percentile: always a value that occurred."""
    if not values:
        return None
    rank = -(-p * len(values) // 100)
    return sorted(values)[max(rank, 1) - 1]


def _chatters(ats: list[float]) -> bool:
    n = CHATTER_ACTIVATIONS - 1
    return any(ats[i + n] - ats[i] <= CHATTER_SECONDS for i in range(len(ats) - n))


def _most_common(counts: Counter[tuple[str, str]], n: int) -> list[tuple[tuple[str, str], int]]:
    # Ties broken by name, so the same history always gives the same list.
    return sorted(counts.items(), key=lambda c: (-c[1], c[0]))[:n]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
