"""Notifications of alarm changes through apprise, sent from the agent so that a site cut off
from the hub still reaches its people: recipients, message text, the outbox in the store, the
delivery thread."""

from agent.notify.message import Message, render
from agent.notify.notifier import Notifier, NotifyStats
from agent.notify.recipients import Recipient, configured_urls, recipients
from agent.notify.sender import Outcome, ScrubSecrets, Sender, Target, target, url_problem

__all__ = [
    "Message",
    "Notifier",
    "NotifyStats",
    "Outcome",
    "Recipient",
    "ScrubSecrets",
    "Sender",
    "Target",
    "configured_urls",
    "recipients",
    "render",
    "target",
    "url_problem",
]
