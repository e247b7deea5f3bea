"""The site configuration (YAML): parsing, ``${ENV}`` expansion and validation with paths.

``load_site`` either returns a valid ``SiteConfig`` or raises ``ConfigError`` listing every problem
as ``devices[2].kind: ...`` so a person can fix them all in one go.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from collector.config import ID_PATTERN, DeviceConfig, Strict
from collector.duration import Duration
from collector.formats import topic_conflicts
from collector.modbus import ModbusSource
from rules.escalation import EscalationPolicy
from rules.kinds import KINDS
from rules.roster import Roster, roster_problems
from rules.spec import Rule

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """A site configuration that cannot be used; ``errors`` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class Site(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str | None = None
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class Mqtt(Strict):
    url: str = "mqtt://127.0.0.1:1883"
    client_id: str | None = None
    username: str | None = None
    password: str | None = None
    keepalive: int = Field(default=30, ge=5, le=3600)
    # auto: MQTT v5 (per-session receive window), falling back to 3.1.1 for brokers without v5.
    protocol: Literal["auto", "5", "3.1.1"] = "auto"
    # Alarm states on fw/<site>/alarms/<id> (retained) for sirens, lights and displays on site.
    publish_alarms: bool = True

    @field_validator("url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        if not re.match(r"^mqtts?://[^/:]+(:\d+)?/?$", value):
            raise ValueError("write the broker as mqtt://host:port")
        return value


class Hub(Strict):
    url: str
    token: str = ""
    sync_interval: Duration = timedelta(seconds=5)
    batch_size: int = Field(default=20_000, ge=1, le=100_000)
    # Before compression; the hub refuses bodies over 64 MiB (sync.envelope.MAX_BODY_BYTES).
    batch_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024, le=32 * 1024 * 1024)
    timeout: Duration = timedelta(seconds=30)


class Storage(Strict):
    path: Path = Path("./data/agent.db")
    commit_interval: Duration = timedelta(milliseconds=50)


class Metrics(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535)


def _apprise_url(url: str) -> str:
    # Imported here: apprise loads its plugins on first use, which only a site with notify URLs
    # should pay for. The message never quotes the URL: it may hold a token or a password.
    from agent.notify.sender import url_problem

    problem = url_problem(url)
    if problem:
        raise ValueError(problem)
    return url


NotifyUrls = list[Annotated[str, AfterValidator(_apprise_url)]]
ChangeKind = Literal["raised", "reraised", "cleared", "acked"]


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


class Notify(Strict):
    """How the agent delivers notifications (``agent.notify``), not whom it sends them to."""

    changes: list[ChangeKind] = ["raised", "reraised"]
    timeout: Duration = timedelta(seconds=30)
    retry_after: Duration = timedelta(seconds=30)
    retry_cap: Duration = timedelta(hours=1)
    give_up_after: Duration = timedelta(hours=24)

    @field_validator("timeout", "retry_after", "retry_cap", "give_up_after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return value


class SiteConfig(Strict):
    site: Site
    mqtt: Mqtt = Mqtt()
    hub: Hub | None = None
    storage: Storage = Storage()
    # Prometheus /metrics; null turns it off.
    metrics: Metrics | None = Metrics()
    devices: list[DeviceConfig] = []
    posts: list[Post] = []
    rules: list[Rule] = []
    notify: Notify = Notify()

    @model_validator(mode="after")
    def _references(self) -> SiteConfig:
        problems: list[str] = []
        devices = {d.id: d for d in self.devices}
        problems += _duplicates("devices", [d.id for d in self.devices])
        problems += _duplicates("posts", [p.id for p in self.posts])
        problems += _duplicates("rules", [r.id for r in self.rules])
        problems += [f"devices: {line}" for line in topic_conflicts(self.devices)]
        problems += _modbus_metrics(self.devices)
        posts = {p.id for p in self.posts}
        for i, rule in enumerate(self.rules):
            problems += [f"rules[{i}].{line}" for line in _references(rule, devices)]
            if rule.post is not None and rule.post not in posts:
                problems.append(f"rules[{i}].post: unknown post {rule.post!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def device_map(self) -> dict[str, DeviceConfig]:
        return {d.id: d for d in self.devices}


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


def _modbus_metrics(devices: list[DeviceConfig]) -> list[str]:
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


def expand_env(value: Any, env: Mapping[str, str], missing: list[str]) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a parsed YAML document."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            # As in the shell, ${VAR:-default} takes the default when VAR is unset or empty.
            if env.get(name) or (name in env and default is None):
                return env[name]
            if default is None:
                missing.append(name)
                return ""
            return default

        return _VAR.sub(substitute, value)
    if isinstance(value, list):
        return [expand_env(v, env, missing) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, env, missing) for k, v in value.items()}
    return value


def parse_site(text: str, env: Mapping[str, str] | None = None) -> tuple[SiteConfig, list[str]]:
    """Validate a site YAML document; return it with warnings (unset environment variables)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError([f"YAML: {error}"]) from None
    if not isinstance(document, dict):
        raise ConfigError(["the file must be a YAML mapping with site:, devices:, rules: ..."])
    missing: list[str] = []
    expanded = expand_env(document, os.environ if env is None else env, missing)
    try:
        config = SiteConfig.model_validate(expanded)
    except ValidationError as error:
        lines = _describe(error)
        # The model checks references only once every field is valid; say those now as well,
        # so one run of check-config lists everything to fix.
        lines += [line for line in _raw_references(expanded) if line not in lines]
        raise ConfigError(lines) from None
    warnings = [f"environment variable {name} is not set" for name in dict.fromkeys(missing)]
    return config, warnings


def _raw_references(document: dict[str, Any]) -> list[str]:
    """Unknown devices and posts named by rules, read from the unvalidated document."""

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


def load_site(path: Path, env: Mapping[str, str] | None = None) -> tuple[SiteConfig, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: {error}"]) from None
    return parse_site(text, env)


def _describe(error: ValidationError) -> list[str]:
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
