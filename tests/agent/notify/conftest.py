"""Real receivers on loopback: a webhook that takes apprise's json:// posts and an SMTP server
(aiosmtpd) that takes its mailto:// mail and checks the password. Nothing of apprise is mocked."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from agent.config import SiteConfig, parse_site
from tests.support.ports import free_port
from tests.support.site import site_yaml

PASSWORD = "pw-Zq81x"  # in every URL below: it must never reach a log, the status or the store
SMTP_USER = "agent"


@dataclass
class Webhook:
    """Answers each path with the next of its scripted statuses (the last one repeats)."""

    port: int
    script: dict[str, list[int]] = field(default_factory=dict)
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    hold: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, *statuses: int) -> str:
        self.script[path] = list(statuses) or [200]
        return f"json://hook:{PASSWORD}@127.0.0.1:{self.port}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.received if p == path]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            hook.received.append((self.path, body))
            hook.arrived.set()
            if hook.hold is not None:
                hook.hold.wait(30)
            statuses = hook.script.get(self.path, [404])
            status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    if hook.hold is not None:
        hook.hold.set()
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def url(self, to: str) -> str:
        return (
            f"mailto://{SMTP_USER}:{PASSWORD}@example.org:{self.port}"
            f"?smtp=127.0.0.1&mode=insecure&from=fw-agent@example.org&to={to}"
        )


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            content = envelope.original_content or b""
            box.messages.append(message_from_bytes(content, policy=policy.default))  # type: ignore[arg-type]
            return "250 OK"

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login = (data.login.decode(), data.password.decode())
        box.logins.append(login)
        return AuthResult(success=login == (SMTP_USER, PASSWORD))

    # Plain SMTP with AUTH on loopback: apprise's mode=insecure, as on a site's own relay.
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=box.port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield box
    controller.stop()


def notify_site(
    db: Path,
    mqtt_url: str,
    *,
    member: Sequence[str] = (),
    post: Sequence[str] = (),
    site: str = "clinic",
    **settings: Any,
) -> str:
    """The test site's YAML with notify URLs on Li (of post cold-store) and on the post.

    On the session's shared broker, give each test its own ``site``: the alarms it leaves open
    stay retained on ``fw/<site>/alarms/...``, where other tests' agents would receive them."""
    document = yaml.safe_load(site_yaml(db, mqtt_url, site=site))
    cold_store = document["posts"][0]
    cold_store["members"][0]["notify"] = list(member)
    cold_store["notify"] = list(post)
    # These tests run on the real clock: no group wait (grouping's timing has a fake clock).
    document["notify"] = {
        "retry_after": "100ms",
        "retry_cap": "200ms",
        "grouping": {"group_wait": "0s"},
        **settings,
    }
    return yaml.safe_dump(document, allow_unicode=True)


def notify_config(db: Path, mqtt_url: str, **kwargs: Any) -> SiteConfig:
    config, _ = parse_site(notify_site(db, mqtt_url, **kwargs), env={})
    return config
