"""Fixtures shared by every test package: the real broker and a site config."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from tests.support.mosquitto import Broker, private_broker
from tests.support.site import close_publishers


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    # One broker per test module: agents keep persistent sessions (with queues) after their test,
    # and a broker shared by the whole run would carry every module's sessions into the next.
    with private_broker(tmp_path_factory.mktemp("mosquitto")) as running:
        yield running


@pytest.fixture(autouse=True)
def _publishers_closed() -> Iterator[None]:
    yield
    close_publishers()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # A failure that involved the broker carries the broker's side of the story.
    running = getattr(item, "funcargs", {}).get("broker")
    if report.failed and isinstance(running, Broker):
        report.sections.append(("mosquitto log", running.log_tail()))
    return report
