"""The agent end of the wire: POST a batch to the hub, get its acknowledgement back.

Errors (one hierarchy, translated from httpx once, here):

    SyncError
    ├── HubUnreachable   network down, hub down, timeout, 5xx — retry with back-off
    └── HubRejected      the hub answered 4xx (bad token, wrong site) — retrying will not help
        └── TokenRefused the token is revoked or wrong: the agent keeps buffering for a new one
"""

from __future__ import annotations

import random

import httpx
from pydantic import ValidationError

from sync import envelope
from sync.columns import Readings
from sync.protocol import SyncAck, SyncBatch

SYNC_PATH = "/api/v1/sync"


class SyncError(Exception):
    """A batch was not acknowledged."""


class HubUnreachable(SyncError):
    """The hub could not be reached or failed; the batch stays queued."""


class HubRejected(SyncError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"hub refused the batch ({status}): {detail}")
        self.status = status
        self.detail = detail


class TokenRefused(HubRejected):
    """The hub does not accept this agent's token (revoked, rotated away, or mistyped)."""

    def __str__(self) -> str:
        return (
            f"{super().__str__()} — this agent's hub.token is not accepted; ask the hub's admin"
            " for a new one (facilitywatch hub rotate-agent SITE) and put it in hub.token"
        )


class SyncClient:
    """Speaks JSON until the hub's acknowledgement says it reads readings in columns; a hub that
    then refuses a columns body (rolled back to an older version) puts it back to JSON."""

    def __init__(self, http: httpx.Client, token: str) -> None:
        self.http = http
        self.token = token
        self.columns = False
        self.sent_bytes = 0

    def push(self, batch: SyncBatch, readings: Readings | None = None) -> SyncAck:
        """Send ``batch``, with ``readings`` in columns when given (see ``sync.envelope``)."""
        try:
            ack = self._post(*envelope.encode(batch, readings))
        except HubRejected as error:
            if readings is not None and error.status not in (401, 403):
                self.columns = False
            raise
        self.columns = envelope.COLUMNS in ack.accepts
        return ack

    def _post(self, body: bytes, headers: dict[str, str]) -> SyncAck:
        headers = headers | {"Authorization": f"Bearer {self.token}"}
        self.sent_bytes += len(body)
        try:
            response = self.http.post(SYNC_PATH, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise HubUnreachable(f"{type(error).__name__}: {error}") from None
        if response.status_code >= 500:
            raise HubUnreachable(f"hub error {response.status_code}")
        if response.status_code == 401:
            raise TokenRefused(401, _detail(response))
        if response.status_code >= 400:
            raise HubRejected(response.status_code, _detail(response))
        try:
            return SyncAck.model_validate_json(response.content)
        except ValidationError as error:
            raise HubUnreachable(f"unreadable acknowledgement: {error}") from None


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    return str(detail)[:500]


class Backoff:
    """Exponential back-off with full jitter, so many agents do not return in step."""

    def __init__(self, base: float = 1.0, cap: float = 300.0, rng: random.Random | None = None):
        self.base = base
        self.cap = cap
        self.failures = 0
        self.rng = rng or random.Random()

    def next_delay(self) -> float:
        self.failures += 1
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** min(self.failures, 20)))

    def reset(self) -> None:
        self.failures = 0
