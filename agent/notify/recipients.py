"""Whom an alarm change is sent to.

For now: every member of the alarm's post who has ``notify`` URLs, and the post's own URLs. This
function is the seam where routing by roster and escalation (who is on duty, when to go to the
supervisor) will take over; the rest of the notifier only sees the list it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.config import SiteConfig
from rules.alarm import Alarm

__all__ = ["Recipient", "configured_urls", "recipients"]


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str  # who, as the status command shows it: "Li (cold-store)", "post cold-store"
    url: str = field(repr=False)  # an apprise URL, with its secrets: never logged or stored


def recipients(alarm: Alarm, config: SiteConfig, now: float) -> list[Recipient]:
    """Each URL once, a person's before the post's, in the order the configuration lists them."""
    post = next((p for p in config.posts if p.id == alarm.post), None)
    if post is None:
        return []
    found = [Recipient(f"{m.name} ({post.id})", url) for m in post.members for url in m.notify]
    found += [Recipient(f"post {post.id}", url) for url in post.notify]
    first: dict[str, Recipient] = {}
    for recipient in found:
        first.setdefault(recipient.url, recipient)
    return list(first.values())


def configured_urls(config: SiteConfig) -> list[str]:
    """Every notify URL of the configuration: members' and posts'."""
    urls = [url for post in config.posts for member in post.members for url in member.notify]
    return urls + [url for post in config.posts for url in post.notify]
