"""Sending one message to one apprise URL, and showing that URL without its secrets.

This is the only module that imports apprise: its outcomes become an ``Outcome`` here, and
nothing else sees a plugin, an ``AppriseResult`` or a log entry of its own.

An apprise URL carries its credentials (an SMTP password, a bot token, a webhook key). They must
never reach a log, the status command or the database, so every URL has a ``Target`` with a shown
form — apprise's own privacy form, which each plugin masks where it knows its secrets are, without
its query string, and with long token-like path segments masked too (a generic webhook's key, which
json:// cannot know is one) — and a fingerprint that finds the URL again in the configuration.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

import apprise

__all__ = [
    "NotifyType",
    "Outcome",
    "ScrubSecrets",
    "Sender",
    "Target",
    "fingerprint",
    "target",
    "url_problem",
]

NotifyType = Literal["info", "success", "warning", "failure"]
MASK = "****"
MAX_ERROR = 500
# A path segment that looks like a key: long, and letters mixed with digits.
_TOKEN = re.compile(r"(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_\-.]{16,}")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True, slots=True)
class Target:
    """An apprise URL as the agent may show and store it."""

    shown: str
    fingerprint: str
    secrets: tuple[str, ...] = field(repr=False)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    error: str | None = None
    permanent: bool = False  # trying again cannot help


@cache
def _asset() -> apprise.AppriseAsset:
    # In memory: apprise must not keep state (tokens it fetched, caches) in the agent's home.
    return apprise.AppriseAsset(storage_mode="memory")


def _instantiate(url: str) -> apprise.plugins.NotifyBase | None:
    return apprise.Apprise.instantiate(url, asset=_asset(), suppress_exceptions=True)


def url_problem(url: str) -> str | None:
    """Why apprise cannot use ``url``, in words that never quote it; None when it can."""
    scheme = _SCHEME.match(url)
    if scheme is None:
        return "not an apprise URL (write scheme://..., e.g. mailto://, json://, tgram://)"
    if _instantiate(url) is None:
        name = scheme.group(1).lower()
        return f"apprise cannot use this {name}:// URL (unknown scheme or missing parts)"
    return None


def fingerprint(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@lru_cache(maxsize=1024)
def target(url: str) -> Target:
    """The shown form, fingerprint and secrets of a URL."""
    plugin = _instantiate(url)
    private = _private_url(plugin) if plugin is not None else ""
    scheme = _bare_scheme(url)
    shown = _mask_tokens(private.split("?", 1)[0]) if private else f"{scheme}://{MASK}"
    return Target(shown, fingerprint(url), _secrets(url, private))


def _private_url(plugin: apprise.plugins.NotifyBase) -> str:
    shown: str = plugin.url(privacy=True)  # type: ignore[no-untyped-call]
    return shown


def _bare_scheme(url: str) -> str:
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else "?"


def _mask_tokens(shown: str) -> str:
    scheme, sep, rest = shown.partition("://")
    head, slash, path = rest.partition("/")
    return scheme + sep + head + slash + _TOKEN.sub(MASK, path)


def _secrets(url: str, private: str) -> tuple[str, ...]:
    """What the shown form hides: the parts of ``url`` that apprise's privacy form leaves out
    (it knows which are secret for its plugin), header and argument values of the generic
    webhooks (``+name``, ``-name``), and token-like path segments. Raw and decoded, longest
    first, so that a scrub replaces a whole secret before any part of it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return (url,)
    netloc = parts.netloc.replace("@", ":").split(":")
    # Not parse_qsl: it reads "+" as a space, and "+name" is how json:// names a header.
    query = [pair.partition("=")[::2] for pair in parts.query.split("&") if pair]
    path = parts.path.split("/")
    judged = [*netloc, *path, *(value for _, value in query)]
    hidden = [part for part in judged if not _visible(part, private)]
    hidden += [value for key, value in query if key[:1] in "+-"]
    hidden += [segment for segment in path if _TOKEN.fullmatch(segment)]
    forms = {form for part in hidden for form in (part, unquote(part)) if len(form) >= 4}
    return tuple(sorted(forms, key=len, reverse=True))


def _visible(part: str, private: str) -> bool:
    return any(form in private for form in (part, unquote(part), quote(unquote(part), safe="")))


class Sender:
    """Sends through apprise with a deadline; never raises for a failed delivery."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def send(self, url: str, title: str, body: str, kind: NotifyType) -> Outcome:
        shown = target(url)
        plugin = _instantiate(url)
        if plugin is None:
            return Outcome(False, "apprise cannot use this URL", permanent=True)
        # A send abandoned at the deadline goes on in apprise's worker thread until its sockets
        # time out: keep those no longer than the deadline.
        plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, self.timeout)
        plugin.socket_read_timeout = min(plugin.socket_read_timeout, self.timeout)
        try:
            result = apprise.Apprise(plugin, asset=_asset()).notify(
                body=body,
                title=title,
                notify_type=apprise.NotifyType(kind),
                body_format=apprise.NotifyFormat.TEXT,
                timeout=self.timeout,
            )
        except Exception as error:  # a plugin bug must not become the delivery thread's death
            return Outcome(False, shown.scrub(f"{type(error).__name__}: {error}")[:MAX_ERROR])
        if result:
            return Outcome(True)
        return Outcome(False, shown.scrub(_describe(result))[:MAX_ERROR])


def _describe(result: apprise.AppriseResult) -> str:
    lines = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR")]
    status = apprise.AppriseResultStatus(result.status).name.lower()
    return "; ".join(dict.fromkeys(lines)) or f"apprise reported {status}"


class ScrubSecrets(logging.Filter):
    """Masks the given secrets in every record a handler emits, whoever logged it: urllib3
    logs request paths at DEBUG, and a Telegram bot token is part of the path."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        scrubbed = self._scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        return True

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text
