"""A hub under uvicorn in its own process (SQLite), a view of its database, and a broker of each
test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hub import Hub, running_hub
from tests.support.ledger import HubView
from tests.support.mosquitto import Broker, private_broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    # Not the session's broker: by the time these run it holds every earlier test's persistent
    # sessions and their queues (20,000 messages from the crash test alone), and in one full run
    # its clients here could no longer connect. A fault test measures delivery, so it starts
    # from a clean broker.
    with private_broker(tmp_path / "mosquitto") as running:
        yield running


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with running_hub(tmp_path / "hub") as running:
        yield running


@pytest.fixture
def hub_view(hub: Hub) -> Iterator[HubView]:
    view = HubView(hub.db_url)
    yield view
    view.close()
