"""Everything the hub library refuses, in one hierarchy; the web layer maps each branch to a status.

HubError
├── Unauthenticated      who is asking is not known                         (401)
│   ├── InvalidToken     unknown, revoked or expired agent/user/session token
│   └── LoginFailed      wrong user name or password
├── Forbidden            known, but not allowed to do this                  (403)
│   ├── WrongSite        an agent token used for another site's batch
│   └── NotPermitted     a user's role does not allow the action
├── NotFound             the thing does not exist                           (404)
│   ├── UnknownAlarm
│   ├── UnknownSite
│   └── UnknownConfigVersion
├── Conflict             it already exists                                  (409)
│   └── DuplicateUser
└── InvalidInput         the request is malformed                           (422)
    ├── InvalidDatabaseURL
    ├── InvalidRole
    ├── InvalidTime
    ├── InvalidBatch     a sync batch that breaks the protocol
    ├── RefusedAction    an operator action that cannot be taken as given
    └── InvalidConfig    a site configuration that does not validate (``errors``: one per line)
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub library raises on purpose."""


class Unauthenticated(HubError):
    pass


class InvalidToken(Unauthenticated):
    def __init__(self, kind: str) -> None:
        super().__init__(f"unknown, revoked or expired {kind} token")
        self.kind = kind


class LoginFailed(Unauthenticated):
    def __init__(self, name: str) -> None:
        super().__init__("wrong user name or password")
        self.name = name


class Forbidden(HubError):
    pass


class WrongSite(Forbidden):
    def __init__(self, token_site: str, batch_site: str) -> None:
        super().__init__(
            f"this agent token belongs to site {token_site!r}, not to site {batch_site!r}"
        )
        self.token_site = token_site
        self.batch_site = batch_site


class NotPermitted(Forbidden):
    def __init__(self, role: str, action: str) -> None:
        super().__init__(f"role {role!r} may not {action}")
        self.role = role
        self.action = action


class NotFound(HubError):
    pass


class UnknownAlarm(NotFound):
    def __init__(self, alarm_id: str) -> None:
        super().__init__(f"no alarm {alarm_id!r}")
        self.alarm_id = alarm_id


class UnknownSite(NotFound):
    def __init__(self, site: str) -> None:
        super().__init__(f"no site {site!r}")
        self.site = site


class UnknownConfigVersion(NotFound):
    def __init__(self, site: str, version: int | None) -> None:
        which = "no configuration" if version is None else f"no configuration version {version}"
        super().__init__(f"site {site!r} has {which}")
        self.site = site
        self.version = version


class Conflict(HubError):
    pass


class DuplicateUser(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"user {name!r} already exists")
        self.name = name


class InvalidInput(HubError):
    pass


class InvalidDatabaseURL(InvalidInput):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot use hub database {url!r}: {reason}")
        self.url = url
        self.reason = reason


class InvalidRole(InvalidInput):
    def __init__(self, role: str, roles: tuple[str, ...]) -> None:
        super().__init__(f"unknown role {role!r}; choose one of {', '.join(roles)}")
        self.role = role


class InvalidTime(InvalidInput):
    def __init__(self, name: str, value: str) -> None:
        super().__init__(
            f"{name}={value!r} is not a time: give ISO 8601 (2026-11-23T08:00:00Z) or unix seconds"
        )
        self.name = name
        self.value = value


class InvalidBatch(InvalidInput):
    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid sync batch: {reason}")
        self.reason = reason


class RefusedAction(InvalidInput):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidConfig(InvalidInput):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid site configuration: " + "; ".join(errors))
        self.errors = errors
