"""Whom an alarm change is sent to.

The members of the alarm's post on duty now (by the post's roster; every member without one)
who have ``notify`` URLs, and the post's own URLs. When the roster has nobody on duty, the
post's supervisor, or failing that every member: an alarm is never sent to nobody.

Escalation (``rules.escalation``) names people itself: ``addressed`` turns one of its intents
into that person's URLs, with the post's own for the first message of an activation and of its
clearing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from agent.config import Member, Post, SiteConfig
from rules.alarm import Alarm
from rules.escalation import SUPERVISOR, Intent
from rules.roster import on_duty

__all__ = [
    "POST_ITSELF",
    "Recipient",
    "addressed",
    "addressed_to",
    "configured_urls",
    "recipients",
]


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str  # who, as the status command shows it: "Li (cold-store)", "post cold-store"
    url: str = field(repr=False)  # an apprise URL, with its secrets: never logged or stored


# The name escalation gives a post without members or supervisor: its own URLs are on duty.
POST_ITSELF = "(the post)"


def recipients(alarm: Alarm, config: SiteConfig, now: float) -> list[Recipient]:
    """Each URL once, a person's before the post's, in the order the configuration lists them."""
    post = next((p for p in config.posts if p.id == alarm.post), None)
    if post is None:
        return []
    found = [
        Recipient(f"{member.name} ({post.id}{role})", url)
        for member, role in _on_duty(post, ZoneInfo(config.site.timezone), now)
        for url in member.notify
    ]
    found += [Recipient(f"post {post.id}", url) for url in post.notify]
    return _once(found)


def addressed(intent: Intent, post: Post, with_post: bool) -> list[Recipient]:
    """Whom ``intent`` names (a member, or the supervisor), then the post's URLs if
    ``with_post``; each URL once."""
    return addressed_to(intent.who, post, with_post)


def addressed_to(who: str, post: Post, with_post: bool) -> list[Recipient]:
    """``who`` as escalation names people: a member's name, ``SUPERVISOR`` or ``POST_ITSELF``."""
    if who == POST_ITSELF:
        return _once([Recipient(f"post {post.id}", url) for url in post.notify])
    if who == SUPERVISOR:
        person, role = post.supervisor, ", supervisor"
    else:
        person, role = next((m for m in post.members if m.name == who), None), ""
    found = (
        []
        if person is None
        else [Recipient(f"{person.name} ({post.id}{role})", url) for url in person.notify]
    )
    found += [Recipient(f"post {post.id}", url) for url in post.notify] if with_post else []
    return _once(found)


def _once(found: list[Recipient]) -> list[Recipient]:
    first: dict[str, Recipient] = {}
    for recipient in found:
        first.setdefault(recipient.url, recipient)
    return list(first.values())


def _on_duty(post: Post, zone: ZoneInfo, now: float) -> list[tuple[Member, str]]:
    """The members on duty, each with how they come to be told ("" or ", supervisor")."""
    names = set(on_duty(post.roster, [m.name for m in post.members], zone, now))
    duty = [(m, "") for m in post.members if m.name in names]
    if duty:
        return duty
    if post.supervisor is not None:
        return [(post.supervisor, ", supervisor")]
    return [(m, "") for m in post.members]


def configured_urls(config: SiteConfig) -> list[str]:
    """Every notify URL of the configuration: members' and posts'."""
    urls = [url for post in config.posts for member in post.members for url in member.notify]
    urls += [url for post in config.posts if post.supervisor for url in post.supervisor.notify]
    return urls + [url for post in config.posts for url in post.notify]
