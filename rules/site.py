"""What a site has and watches: its devices, its posts (members, rosters, escalation) and its rules.

These three sections of the site YAML are the part the hub manages (``SiteSpec``): the hub
validates a new version with this model and the agent validates it again, inside its whole
configuration, before running it. They live here, below ``agent`` and ``sync``, so both ends use
one model (``collector`` → ``rules`` → ``agent``; ``sync`` imports ``rules``).

Notify URLs are checked for their form here (``scheme://...``). Whether apprise can use one is
checked only where apprise is loaded: the agent passes ``url_problem`` in the validation context
(``URL_CHECK``), so the hub stores a version with a URL apprise refuses and the agent rejects it
with the reason, which the hub then shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, Field, ValidationError, ValidationInfo, model_validator

from collector.config import ID_PATTERN, DeviceConfig, Strict
from collector.formats import topic_conflicts
from collector.modbus import ModbusSource
from rules.escalation import EscalationPolicy
from rules.grouping import Grouping
from rules.kinds import KINDS
from rules.roster import Roster, roster_problems
from rules.spec import Rule

__all__ = [
    "MANAGED_SECTIONS",
    "MAX_VALUES",
    "URL_CHECK",
    "ConfigError",
    "Format",
    "Member",
    "Post",
    "SiteSpec",
    "describe",
    "managed",
    "parse_spec",
    "raw_references",
    "read_text",
    "site_problems",
]

# The sections of the site YAML a hub-delivered version replaces; the rest stays the agent's own.
MANAGED_SECTIONS = ("devices", "posts", "rules")
# The validation context key of a ``Callable[[str], str | None]``: why a notify URL is unusable.
URL_CHECK = "notify_url_problem"
# Bounds a document's size as parsed: a few lines of YAML aliases can stand for billions of values.
MAX_VALUES = 100_000
Format = Literal["yaml", "json"]
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S")


class ConfigError(ValueError):
    """A site configuration that cannot be used; ``errors`` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def _notify_url(url: str, info: ValidationInfo) -> str:
    # The message never quotes the URL: it may hold a token or a password.
    check: Callable[[str], str | None] | None = (info.context or {}).get(URL_CHECK)
    if check is not None:
        problem = check(url)
    elif not _SCHEME.match(url):
        problem = "not an apprise URL (write scheme://..., e.g. mailto://, json://, tgram://)"
    else:
        problem = None
    if problem:
        raise ValueError(problem)
    return url


NotifyUrls = list[Annotated[str, AfterValidator(_notify_url)]]


class Member(Strict):
    name: str
    email: str | None = None
    phone: str | None = None
    # Apprise URLs (mailto://, dingtalk://, wecombot://, tgram://, json://, ...).
    notify: NotifyUrls = []


class Post(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str | None = None
    members: list[Member] = []
    notify: NotifyUrls = []
    # Who is on duty when (rules.roster); none: every member, around the clock.
    roster: Roster | None = None
    # Told when the roster has nobody on duty (and, with escalation, when nobody answers).
    supervisor: Member | None = None
    # Whom to tell when, per severity, while nobody acknowledges (rules.escalation).
    escalation: EscalationPolicy = EscalationPolicy()
    # When its people get messages (rules.grouping); none: the site's notify.grouping.
    grouping: Grouping | None = None

    @model_validator(mode="after")
    def _roster_names(self) -> Post:
        names = [m.name for m in self.members]
        problems = [
            f"members[{i}].name: duplicate name {n!r}"
            for i, n in enumerate(names)
            if n in names[:i]
        ]
        problems += roster_problems(self.roster, names) if self.roster else []
        if problems:
            raise ValueError("; ".join(problems))
        return self


class SiteSpec(Strict):
    """The hub-managed sections of a site configuration, checked against each other."""

    devices: list[DeviceConfig] = []
    posts: list[Post] = []
    rules: list[Rule] = []

    @model_validator(mode="after")
    def _references(self) -> SiteSpec:
        problems = site_problems(self.devices, self.posts, self.rules)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def site_problems(
    devices: Sequence[DeviceConfig], posts: Sequence[Post], rules: Sequence[Rule]
) -> list[str]:
    """Duplicate ids, clashing topics, and what rules name that the site does not have."""
    problems: list[str] = []
    by_id = {d.id: d for d in devices}
    problems += _duplicates("devices", [d.id for d in devices])
    problems += _duplicates("posts", [p.id for p in posts])
    problems += _duplicates("rules", [r.id for r in rules])
    problems += [f"devices: {line}" for line in topic_conflicts(devices)]
    problems += _modbus_metrics(devices)
    post_ids = {p.id for p in posts}
    for i, rule in enumerate(rules):
        problems += [f"rules[{i}].{line}" for line in _references(rule, by_id)]
        if rule.post is not None and rule.post not in post_ids:
            problems.append(f"rules[{i}].post: unknown post {rule.post!r}")
    return problems


def _references(rule: Rule, devices: Mapping[str, DeviceConfig]) -> list[str]:
    """What a rule names that the site does not have: devices, their metrics, access readers."""
    problems = []
    for device_id, metric in rule.reads():
        device = devices.get(device_id)
        if device is None:
            problems.append(f"device: unknown device {device_id!r}")
        elif metric is not None and not device.accepts(metric):
            problems.append(f"metric: a {device.kind} has no {metric!r}")
    for reader_id in rule.readers():
        reader = devices.get(reader_id)
        if reader is None or reader.kind != "access_reader":
            problems.append(f"reader: {reader_id!r} is not an access reader of the site")
    return problems


def _modbus_metrics(devices: Sequence[DeviceConfig]) -> list[str]:
    return [
        f"devices[{i}].source: a {d.kind} has no {spec.metric!r} ({spec.name})"
        for i, d in enumerate(devices)
        if isinstance(d.source, ModbusSource)
        for spec in d.source.register_map.metered
        if spec.metric is not None and not d.accepts(spec.metric)
    ]


def _duplicates(section: str, ids: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for i, item in enumerate(ids):
        if item in seen:
            out.append(f"{section}[{i}].id: duplicate id {item!r}")
        seen.add(item)
    return out


def raw_references(document: Mapping[str, Any]) -> list[str]:
    """Unknown devices and posts named by rules, read from the unvalidated document: the model
    checks references only once every field is valid, and a person wants them all at once."""

    def ids(section: str) -> set[str]:
        items = document.get(section)
        return {
            str(item["id"])
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and "id" in item
        }

    devices, posts = ids("devices"), ids("posts")
    rules = document.get("rules")
    problems = []
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, dict):
            continue
        if "device" in rule and str(rule["device"]) not in devices:
            problems.append(f"rules[{i}].device: unknown device {rule['device']!r}")
        if rule.get("post") is not None and str(rule["post"]) not in posts:
            problems.append(f"rules[{i}].post: unknown post {rule['post']!r}")
    return problems


def describe(error: ValidationError) -> list[str]:
    """One line per problem, as a person wrote the YAML: ``rules[0].above: ...``."""
    lines = []
    for item in error.errors():
        loc = list(item["loc"])
        # Tagged unions put the tag in the path (rules.0.threshold.above); people wrote
        # rules[0].above.
        if len(loc) > 2 and loc[0] == "rules" and loc[2] in KINDS:
            del loc[2]
        message = str(item["msg"]).removeprefix("Value error, ")
        if message.count("; ") and not loc:
            lines.extend(message.split("; "))
            continue
        lines.append(f"{_path(loc)}: {message}" if loc else message)
    return lines


def _path(loc: list[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def managed(document: object) -> dict[str, Any]:
    """The document as a mapping of managed sections only: what the hub may send."""
    if not isinstance(document, dict):
        raise ConfigError([f"the configuration must be a mapping of {', '.join(MANAGED_SECTIONS)}"])
    others = [str(key) for key in document if key not in MANAGED_SECTIONS]
    if others:
        sections = ", ".join(MANAGED_SECTIONS)
        raise ConfigError(
            [
                f"{key}: not managed by the hub (only {sections}); set it in the agent's file"
                for key in others
            ]
        )
    return document


def parse_spec(document: object, context: Mapping[str, Any] | None = None) -> SiteSpec:
    """Validate the managed sections of a site configuration (a parsed YAML or JSON mapping)."""
    sections = managed(document)
    try:
        return SiteSpec.model_validate(sections, context=context)
    except ValidationError as error:
        lines = describe(error)
        raise ConfigError(lines + [x for x in raw_references(sections) if x not in lines]) from None


def read_text(text: str, fmt: Format) -> object:
    """Parse a version's text as the hub received it (``yaml`` or ``json``), bounded."""
    try:
        document = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ConfigError([f"{fmt.upper()}: {error}"]) from None
    except RecursionError:
        raise ConfigError([f"{fmt.upper()}: nested too deeply"]) from None
    if _too_many_values(document):
        raise ConfigError([f"more than {MAX_VALUES} values (an alias counts each time it is used)"])
    return document


def _too_many_values(document: object) -> bool:
    stack, seen = [document], 0
    while stack:
        seen += 1
        if seen > MAX_VALUES:
            return True
        value = stack.pop()
        if isinstance(value, dict):
            stack += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            stack += value
    return False
