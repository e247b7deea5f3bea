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
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from agent.retention.alarm import RULE as STORAGE_PRESSURE
from collector.config import ID_PATTERN, DeviceConfig, Strict
from collector.duration import Duration
from collector.size import Size, format_size
from rules.grouping import Grouping
from rules.muting import InhibitRule
from rules.site import (
    URL_CHECK,
    ConfigError,
    Format,
    Member,
    Post,
    describe,
    managed,
    parse_spec,
    raw_references,
    read_text,
    site_problems,
)
from rules.spec import Rule

__all__ = [
    "ConfigError",
    "Member",
    "Post",
    "SiteConfig",
    "load_document",
    "load_site",
    "parse_site",
    "read_document",
    "validate_document",
    "with_spec",
]

MIN_STORE_SIZE = 16 * 1000**2
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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
    # process: the MQTT session runs in a process of its own (agent.relay), so paho's packet
    # handling and the agent's parsing, rules and commits use two cores; thread: all in one.
    receiver: Literal["process", "thread"] = "process"

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
    # The longest wait between tries while the hub is unreachable (back-off with jitter doubles
    # up to it): how soon after the link returns the catch-up begins, at most.
    max_backoff: Duration = timedelta(minutes=5)

    @model_validator(mode="after")
    def _backoff_after_interval(self) -> Hub:
        if self.max_backoff < max(self.sync_interval, timedelta(seconds=1)):
            raise ValueError("max_backoff must be at least the sync interval (and 1s)")
        return self


class Storage(Strict):
    path: Path = Path("./data/agent.db")
    commit_interval: Duration = timedelta(milliseconds=50)
    # Bounded disk and retention (agent.retention): thinning starts at 90% of max_size (null: no
    # bound); raw readings the hub holds are kept keep_raw, their hourly rollups keep_rollups
    # (energy.md: a baseline wants 12 complete months).
    max_size: Size | None = 500 * 1000**2
    keep_raw: Duration = timedelta(days=30)
    keep_rollups: Duration = timedelta(days=400)
    # The post told of storage_pressure (none: the alarm is synced and annunciated, not notified).
    post: str | None = None

    @field_validator("max_size")
    @classmethod
    def _room_for_the_wal(cls, value: int | None) -> int | None:
        if value is not None and value < MIN_STORE_SIZE:
            raise ValueError(
                f"must be at least {format_size(MIN_STORE_SIZE)}: the write-ahead log alone"
                " takes up to 4MB"
            )
        return value

    @field_validator("keep_raw", "keep_rollups")
    @classmethod
    def _keep_something(cls, value: timedelta) -> timedelta:
        if value < timedelta(hours=1):
            raise ValueError("must be at least 1h")
        return value

    @model_validator(mode="after")
    def _rollups_outlive_readings(self) -> Storage:
        if self.keep_rollups < self.keep_raw:
            raise ValueError("keep_rollups must be at least keep_raw: rollups outlive readings")
        return self


class Metrics(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535)


def _apprise_problem(url: str) -> str | None:
    # Imported here: apprise loads its plugins on first use, which only a site with notify URLs
    # should pay for.
    from agent.notify.sender import url_problem

    return url_problem(url)


# Notify URLs are checked with apprise itself here (rules.site checks only their form).
CONTEXT = {URL_CHECK: _apprise_problem}
ChangeKind = Literal["raised", "reraised", "cleared", "acked"]


class Notify(Strict):
    """How the agent delivers notifications (``agent.notify``), not whom it sends them to."""

    changes: list[ChangeKind] = ["raised", "reraised"]
    timeout: Duration = timedelta(seconds=30)
    retry_after: Duration = timedelta(seconds=30)
    retry_cap: Duration = timedelta(hours=1)
    give_up_after: Duration = timedelta(hours=24)
    # Steps for one person folded into one message per group (rules.grouping); null: each alone.
    grouping: Grouping | None = Grouping()
    # Root-cause alarms muting their dependants' notifications (rules.muting).
    inhibit: list[InhibitRule] = []

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
        problems = site_problems(self.devices, self.posts, self.rules)
        problems += _inhibit_references(self)
        problems += [
            f"rules[{i}].id: {rule.id!r} is the agent's own alarm"
            for i, rule in enumerate(self.rules)
            if rule.id == STORAGE_PRESSURE
        ]
        posts = {p.id for p in self.posts}
        if self.storage.post is not None and self.storage.post not in posts:
            problems.append(f"storage.post: unknown post {self.storage.post!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def device_map(self) -> dict[str, DeviceConfig]:
        return {d.id: d for d in self.devices}

    def grouping(self, post: Post) -> Grouping | None:
        return post.grouping or self.notify.grouping


def _inhibit_references(config: SiteConfig) -> list[str]:
    """Matchers naming a device, rule or post the site does not have: they would never match,
    and the mute they were written for would silently not happen."""
    known = {
        "device": {d.id for d in config.devices},
        "rule": {r.id for r in config.rules},
        "post": {p.id for p in config.posts},
    }
    return [
        f"notify.inhibit[{i}].{side}.{label}: unknown {label} {value!r}"
        for i, rule in enumerate(config.notify.inhibit)
        for side, matchers in (("source", rule.source), ("target", rule.target))
        for label, values in matchers.items()
        if label in known
        for value in values
        if value not in known[label]
    ]


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


def read_document(text: str) -> dict[str, Any]:
    """The site YAML as a mapping, not yet validated (``${VAR}`` not yet expanded)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError([f"YAML: {error}"]) from None
    if not isinstance(document, dict):
        raise ConfigError(["the file must be a YAML mapping with site:, devices:, rules: ..."])
    return document


def validate_document(
    document: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> tuple[SiteConfig, list[str]]:
    """Expand ``${VAR}`` and validate; return the configuration with warnings (unset
    environment variables). The agent checks a hub-delivered version this way too."""
    missing: list[str] = []
    expanded = expand_env(dict(document), os.environ if env is None else env, missing)
    try:
        config = SiteConfig.model_validate(expanded, context=CONTEXT)
    except ValidationError as error:
        lines = describe(error)
        # The model checks references only once every field is valid; say those now as well,
        # so one run of check-config lists everything to fix.
        lines += [line for line in raw_references(expanded) if line not in lines]
        raise ConfigError(lines) from None
    warnings = [f"environment variable {name} is not set" for name in dict.fromkeys(missing)]
    return config, warnings


def with_spec(
    config: SiteConfig, text: str, fmt: Format, env: Mapping[str, str] | None = None
) -> tuple[SiteConfig, list[str]]:
    """``config`` with its devices, posts and rules replaced by a hub-delivered version's.

    The same checks as ``validate_document``: the version's ``${VAR}`` are expanded from this
    agent's environment and every notify URL is checked with apprise. The other sections are
    ``config``'s own and already valid, and nothing in them refers to the replaced ones, so the
    whole is valid when the replaced part is.
    """
    missing: list[str] = []
    sections = managed(read_text(text, fmt))
    expanded = expand_env(sections, os.environ if env is None else env, missing)
    spec = parse_spec(expanded, CONTEXT)
    update = {"devices": spec.devices, "posts": spec.posts, "rules": spec.rules}
    warnings = [f"environment variable {name} is not set" for name in dict.fromkeys(missing)]
    return config.model_copy(update=update), warnings


def parse_site(text: str, env: Mapping[str, str] | None = None) -> tuple[SiteConfig, list[str]]:
    """Validate a site YAML document; return it with warnings (unset environment variables)."""
    return validate_document(read_document(text), env)


def load_document(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: {error}"]) from None
    return read_document(text)


def load_site(path: Path, env: Mapping[str, str] | None = None) -> tuple[SiteConfig, list[str]]:
    return validate_document(load_document(path), env)
