"""The delivery thread: plans what escalation says is due (``agent.notify.escalation``) and
queued acknowledgements into notifications, and sends what is due.

Escalation falls due with time, not only with changes: every pass (at least every ``poll``
seconds) asks it again. It never holds up the writer: the writer's callback only wakes it, and
it reads and writes the store through its own connection, in short transactions of its own (as
``agent import-readings`` does), never while a send is under way. Sends run in a small pool,
each with apprise's deadline, so one unreachable mail server does not hold up a Telegram
message; to one URL they go one at a time, in the order of the changes (``outbox.due``). A
failed send is tried again with exponential back-off (``agent.notify.retry``) until the give-up
time, then marked failed.

Grouping (``rules.grouping``) sits between escalation and delivery: a step planned for a person
waits in its group (``agent.notify.groups``) until the group's message is due, and each pass
sends the groups whose turn it is (``agent.notify.routing``). Muted alarms — silenced
(``active_silences``, the store's ``silences`` by default), inhibited (``notify.inhibit``), or
of a rule shelved, suppressed or out of service (``agent.actions``) — are left out of escalation
while muted (``rules.muting``).

Delivery is at least once: a send that succeeded but whose success was not recorded (the agent
was killed in between) is sent again after the restart.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from agent import actions, store
from agent.config import Post, SiteConfig
from agent.notify import escalation, groups, outbox, silences
from agent.notify.escalation import Due
from agent.notify.groups import Group
from agent.notify.labels import Labeller, Muting, muting
from agent.notify.message import Message, render, render_group
from agent.notify.outbox import Hold, Pending, Plan, Planned, QueuedChange
from agent.notify.recipients import (
    POST_ITSELF,
    Recipient,
    addressed,
    addressed_to,
    configured_urls,
    recipients,
)
from agent.notify.retry import RetryPolicy, next_attempt
from agent.notify.routing import Flush, decide
from agent.notify.sender import Outcome, Sender, target
from rules.alarm import Alarm, AlarmChange
from rules.escalation import ACTIVATING, SUPERVISOR
from rules.grouping import Grouping
from rules.muting import Silence
from rules.roster import on_duty

__all__ = ["Notifier", "NotifyStats"]

log = logging.getLogger(__name__)

POLL_S = 5.0
KEEP_S = 30 * 86400  # delivered and failed notifications are kept this long
PRUNE_EVERY_S = 3600.0
WORKERS = 4

Recipients = Callable[[Alarm, SiteConfig, float], list[Recipient]]
Silences = Callable[[float], list[Silence]]
# A post whose grouping was turned off while steps waited: they go at once.
AT_ONCE = Grouping(group_wait=timedelta(0), group_interval=timedelta(0), repeat_interval=None)


@dataclass
class NotifyStats:
    """Counters for /metrics, by URL scheme (mailto, json, tgram, ...)."""

    sent: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)


class Notifier:
    def __init__(
        self,
        conn: sqlite3.Connection,
        config: SiteConfig,
        *,
        clock: Callable[[], float] = time.time,
        sender: Sender | None = None,
        find_recipients: Recipients = recipients,
        rng: random.Random | None = None,
        poll: float = POLL_S,
        active_silences: Silences | None = None,
    ) -> None:
        settings = config.notify
        self.conn = conn
        self.active_silences = active_silences or silences.active_silences(conn)
        self.labels = Labeller(config)
        self.config = config
        self.clock = clock
        self.sender = sender or Sender(settings.timeout.total_seconds())
        self.find_recipients = find_recipients
        self.rng = rng or random.Random()
        self.poll = poll
        self.zone = ZoneInfo(config.site.timezone)
        self.changes = frozenset(settings.changes)
        self.policy = RetryPolicy(
            settings.retry_after.total_seconds(),
            settings.retry_cap.total_seconds(),
            settings.give_up_after.total_seconds(),
        )
        self.stats = NotifyStats()
        # fingerprint -> URL: how a stored notification finds its URL again (it stores none).
        # Built now, so apprise loads its plugins here and not while planning holds the lock.
        self.urls = {target(url).fingerprint: url for url in configured_urls(config)}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="fw-notify-send")
        self._thread = threading.Thread(target=self._run, name="fw-notify", daemon=True)
        self._pruned_at = 0.0

    def start(self) -> None:
        self._thread.start()

    def reconfigure(self, config: SiteConfig) -> None:
        """New posts, members and rosters from now on. URLs no longer configured stay known, so
        what is already queued for them is still delivered."""
        urls = {target(url).fingerprint: url for url in configured_urls(config)}
        self.urls = self.urls | urls
        self.config = config
        self._wake.set()

    def wake(self, change: AlarmChange | None = None) -> None:
        """The writer's after-commit callback: the change is already queued in the store."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def run_once(self) -> float:
        """Plan what is queued and what escalation says is due, send what is due; the seconds
        until the next pass."""
        while outbox.plan(self.conn, self._plan, self.clock()):
            pass  # each call asks escalation too: a backlog costs a few extra, cheap, passes
        try:
            self._route()
        except Exception:  # what waits keeps waiting; what is due is still sent
            log.exception("notifications: grouping failed")
        self._deliver()
        now = self.clock()
        if now - self._pruned_at >= PRUNE_EVERY_S:
            outbox.prune(self.conn, now - KEEP_S)
            self._pruned_at = now
        upcoming = outbox.next_due(self.conn)
        return self.poll if upcoming is None else max(0.0, min(self.poll, upcoming - now))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                delay = self.run_once()
            except Exception:  # the store is busy or broken: the next pass tries again
                log.exception("notifications: pass failed")
                delay = self.poll
            self._wake.wait(delay)

    def _plan(self, changes: Sequence[QueuedChange]) -> list[Plan]:
        """Escalation's intents for every post, then the acknowledgements asked for."""
        now = self.clock()
        muted = self._muting(now)
        plans = []
        for post in self.config.posts:
            queued = [c for c in changes if c.alarm.post == post.id]
            try:
                found = escalation.pending(self.conn, post, self.zone, queued, now, muted)
            except Exception as error:  # kept as failed, visible, like a change that cannot be
                log.exception("notifications: escalation of post %s failed", post.id)
                plans += [_failed(c, error) for c in queued if c.kind in ACTIVATING]
                continue
            plans += [self._plan_intent(post, due) for due in found]
        return plans + [self._plan_change(c) for c in changes if c.kind == "acked"]

    def _plan_intent(self, post: Post, due: Due) -> Plan:
        intent, alarm = due.intent, due.alarm
        if intent.reason in ("raised", "reraised", "cleared") and intent.reason not in self.changes:
            return Plan(intent.alarm, intent.reason, intent=intent)  # planned as nothing to send
        grouping = self.config.grouping(post)
        if grouping is not None and intent.reason != "flood":  # a flood is its own summary
            try:
                key = grouping.key(self.labels(alarm))
            except Exception as error:
                return Plan(intent.alarm, intent.reason, intent=intent, error=_error(error))
            return Plan(intent.alarm, intent.reason, intent=intent, hold=Hold(key, due.first))
        at = intent.at if intent.reason == "cleared" else alarm.changed_at
        try:
            message = render(alarm, intent.reason, at, None, self.config, intent.alarms)
            found = addressed(intent, post, due.first)
        except Exception as error:
            return Plan(intent.alarm, intent.reason, intent=intent, error=_error(error))
        return Plan(intent.alarm, intent.reason, self._planned(found, message), intent)

    def _plan_change(self, change: QueuedChange) -> Plan:
        if change.kind not in self.changes:
            return Plan(change.alarm.id, change.kind)
        try:
            message = render(change.alarm, change.kind, change.at, change.by, self.config)
            found = self.find_recipients(change.alarm, self.config, self.clock())
        except Exception as error:
            return _failed(change, error)
        return Plan(change.alarm.id, change.kind, self._planned(found, message))

    def _muting(self, now: float) -> Muting:
        rules = self.config.notify.inhibit
        active = store.alarms_where(self.conn, "active = 1") if rules else []
        try:
            found = self.active_silences(now)
        except Exception:  # better a message too many than none at all
            log.exception("notifications: silences could not be read; none applied")
            found = []
        muted = muting(self.labels, rules, active, found, now)
        standing = actions.standings(
            self.conn, {a.rule: a for a in store.open_alarms(self.conn)}, now
        )
        quiet = {rule for rule, held in standing.items() if held.mode != "in_service"}
        if not quiet:
            return muted
        # Shelved, suppressed or out of service (rules.actions): recorded, not announced.
        return lambda alarm: alarm.rule in quiet or muted(alarm)

    def _route(self) -> None:
        """Send the groups whose message is due, and drop the steps gone stale in them."""
        found = groups.read(self.conn)
        if not found:
            return
        now = self.clock()
        ids = sorted(
            {s.intent.alarm for g in found for s in g.held} | {a for g in found for a in g.told}
        )
        marks = ", ".join("?" * len(ids))
        alarms = {a.id: a for a in store.alarms_where(self.conn, f"id IN ({marks})", ids)}
        muted = self._muting(now)
        posts = {p.id: p for p in self.config.posts}
        for group in found:
            post = posts.get(group.post)
            if post is None:  # the post left the configuration: nobody to tell
                groups.release(self.conn, group, group.held, None, None, now)
                continue
            grouping = self.config.grouping(post) or AT_ONCE
            present = self._present(post, group.who, now)

            def repeats(alarm: Alarm, post: Post = post) -> bool:
                return post.escalation.level(alarm.severity).reminder is not None

            try:
                flush = decide(group, grouping, alarms, muted, self._event, repeats, present, now)
                if flush is None:
                    continue
                message = self._compose(post, group, flush, alarms, now) if flush.send else None
            except Exception:  # kept waiting, visible in the log; the next pass tries again
                log.exception("notifications: the message of a group of %s failed", post.id)
                continue
            groups.release(self.conn, group, flush.steps, message, flush.told, now)

    def _event(self, alarm: Alarm) -> bool:
        """Whether the alarm's last activation was an event: cleared the instant it began."""
        start = self.conn.execute(
            "SELECT MAX(at) FROM alarm_events WHERE alarm_id = ?"
            " AND kind IN ('raised', 'reraised')",
            (alarm.id,),
        ).fetchone()[0]
        return not alarm.active and alarm.cleared_at is not None and alarm.cleared_at == start

    def _present(self, post: Post, who: str, now: float) -> bool:
        if who in (SUPERVISOR, POST_ITSELF):
            return True
        return who in on_duty(post.roster, [m.name for m in post.members], self.zone, now)

    def _compose(
        self, post: Post, group: Group, flush: Flush, alarms: dict[str, Alarm], now: float
    ) -> tuple[str, str, list[Planned]]:
        new = [(alarms[s.intent.alarm], s.intent) for s in flush.new]
        everything = [a for a, _ in new] + list(flush.still) + list(flush.resolved)
        if len(everything) == 1 and new:
            [(alarm, intent)] = new
            change: str = intent.reason
            message = render(alarm, change, alarm.changed_at, None, self.config, intent.alarms)
        elif len(everything) == 1:
            [alarm] = everything
            change = "cleared" if flush.resolved else "reminder"
            at = alarm.cleared_at if flush.resolved and alarm.cleared_at else alarm.changed_at
            message = render(alarm, change, at, None, self.config)
        else:
            alarm, change = everything[0], "group"
            reasons = [(a, i.reason) for a, i in new]
            where = [v for v in group.key if v]
            message = render_group(
                reasons, flush.still, flush.resolved, post.name or post.id, where, now, self.config
            )
        found = addressed_to(group.who, post, flush.first)
        return alarm.id, change, self._planned(found, message)

    def _planned(self, found: list[Recipient], message: Message) -> list[Planned]:
        planned = []
        for recipient in found:
            shown = target(recipient.url)
            self.urls[shown.fingerprint] = recipient.url
            planned.append(Planned(recipient.name, shown, message))
        return planned

    def _deliver(self) -> None:
        batch = outbox.due(self.conn, self.clock())
        if not batch:
            return
        futures = {p.id: self._pool.submit(self._send, p, self.urls.get(p.target)) for p in batch}
        pending = set(futures.values())
        while pending and not self._stop.is_set():
            _, pending = wait(pending, timeout=0.2)
        # Stopping: what finished is recorded, the rest is sent again after the restart.
        done = [(p, futures[p.id]) for p in batch if futures[p.id].done()]
        self._record([(p, _outcome(future)) for p, future in done])

    def _send(self, pending: Pending, url: str | None) -> Outcome:
        if url is None:
            return Outcome(False, "its URL is no longer in the configuration", permanent=True)
        return self.sender.send(url, pending.title, pending.body, pending.kind)

    def _record(self, outcomes: list[tuple[Pending, Outcome]]) -> None:
        now = self.clock()
        results = []
        for pending, outcome in outcomes:
            retry_at = None
            if not outcome.ok and not outcome.permanent:
                retry_at = next_attempt(
                    self.policy, pending.attempts + 1, pending.created_at, now, self.rng
                )
            results.append((pending, outcome, retry_at))
        outbox.record(self.conn, results, now)
        for pending, outcome, retry_at in results:
            self._count(pending, outcome, retry_at, now)

    def _count(
        self, pending: Pending, outcome: Outcome, retry_at: float | None, now: float
    ) -> None:
        scheme = pending.shown.partition("://")[0] or "?"
        attempt = pending.attempts + 1
        if outcome.ok:
            self.stats.sent[scheme] += 1
            log.info("notification %d to %s delivered", pending.id, pending.shown)
        elif retry_at is not None:
            self.stats.retries[scheme] += 1
            log.warning(
                "notification %d to %s failed (attempt %d), next in %.1f s: %s",
                pending.id,
                pending.shown,
                attempt,
                retry_at - now,
                outcome.error,
            )
        else:
            self.stats.failed[scheme] += 1
            log.error(
                "notification %d to %s given up after %d attempts: %s",
                pending.id,
                pending.shown,
                attempt,
                outcome.error,
            )


def _error(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _failed(change: QueuedChange, error: Exception) -> Plan:
    return Plan(change.alarm.id, change.kind, error=_error(error))


def _outcome(future: Future[Outcome]) -> Outcome:
    try:
        return future.result()
    except Exception as error:  # Sender catches apprise's; this would be our own bug
        log.exception("notification send failed")
        return Outcome(False, type(error).__name__)
