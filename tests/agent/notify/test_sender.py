"""Apprise URLs as the agent shows them: each plugin's secrets masked, never quoted in errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.notify.sender import MASK, ScrubSecrets, Sender, target, url_problem
from agent.runtime import scrub_logs
from tests.agent.notify.conftest import notify_config

TG_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
DING = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"

URLS = [
    pytest.param(f"tgram://{TG_TOKEN}/987654321", "tgram://1...w/987654321/", [TG_TOKEN[10:]]),
    pytest.param(
        f"dingtalk://{DING}/?secret=SECd0e1f2a3b4",
        "dingtalk://****@a...9//",
        [DING, "SECd0e1f2a3b4"],
    ),
    pytest.param(
        "wecombot://693a91f6-7aoc-4bc4-97a0-0ec2sifa5aaa",
        "wecombot://6...a/",
        ["693a91f6-7aoc-4bc4-97a0-0ec2sifa5aaa"],
    ),
    pytest.param(
        "mailto://ops:p%40ss-w0rd@example.org?smtp=mail.example.org&to=li@example.org",
        "mailto://ops:****@example.org/li%40example.org",
        ["p@ss-w0rd", "p%40ss-w0rd"],
    ),
    pytest.param(
        "json://hook:pw-1234@10.0.0.5:8080/fw?+X-Token=hdr-s3cret",
        "json://hook:****@10.0.0.5:8080/fw",
        ["pw-1234", "hdr-s3cret"],
    ),
    pytest.param(
        "json://hooks.example.org/services/T0000SECRETPATHKEY123",
        f"json://hooks.example.org/services/{MASK}",
        ["T0000SECRETPATHKEY123"],
    ),
]


@pytest.mark.parametrize(("url", "shown", "secrets"), URLS)
def test_a_url_is_shown_without_its_secrets(url: str, shown: str, secrets: list[str]) -> None:
    assert url_problem(url) is None
    found = target(url)
    assert found.shown == shown
    for secret in secrets:
        assert secret not in found.shown
        assert secret not in repr(found)
        assert secret not in found.scrub(f"failed to reach {url} with {secret}")


NOT_A_URL = "not an apprise URL (write scheme://..., e.g. mailto://, json://, tgram://)"
UNKNOWN = "apprise cannot use this tgrm:// URL (unknown scheme or missing parts)"


@pytest.mark.parametrize(
    ("url", "problem"),
    [("li@example.org", NOT_A_URL), ("tgrm://4711:S3cr3tT0ken/1", UNKNOWN)],
)
def test_a_url_apprise_cannot_use_is_refused_without_quoting_it(url: str, problem: str) -> None:
    assert url_problem(url) == problem


def test_a_refused_send_is_an_outcome_with_a_scrubbed_error() -> None:
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    outcome = Sender(timeout=5).send("json://hook:pw-1234@127.0.0.1:9/x", "t", "b", "info")
    assert not outcome.ok
    assert not outcome.permanent
    assert outcome.error is not None
    assert "pw-1234" not in outcome.error


def test_log_records_are_scrubbed_whoever_wrote_them(caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(ScrubSecrets(target(f"tgram://{TG_TOKEN}/1").secrets))
    urllib3 = logging.getLogger("urllib3.connectionpool")
    with caplog.at_level(logging.DEBUG):
        urllib3.debug('%s "POST /bot%s/sendMessage HTTP/1.1" 200', "api.telegram.org", TG_TOKEN)
        try:
            raise ValueError(f"bad token {TG_TOKEN}")
        except ValueError:
            logging.getLogger("agent").exception("send failed")
    assert TG_TOKEN[10:] not in caplog.text
    assert f"/bot{MASK}:{MASK}/sendMessage" in caplog.text
    assert f"ValueError: bad token {MASK}:{MASK}" in caplog.text


def test_the_agent_scrubs_its_log_of_every_configured_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"tgram://{TG_TOKEN}/987654321"
    handlers = logging.getLogger().handlers
    before = [list(handler.filters) for handler in handlers]
    scrub_logs(notify_config(tmp_path / "agent.db", "mqtt://127.0.0.1:1", member=[url]))
    try:
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("urllib3.connectionpool").debug("POST /bot%s/sendMessage", TG_TOKEN)
    finally:
        for handler, filters in zip(handlers, before, strict=True):
            handler.filters[:] = filters
    assert TG_TOKEN[10:] not in caplog.text
