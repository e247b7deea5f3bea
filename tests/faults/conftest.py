"""A hub under uvicorn in its own process (SQLite), and a view of its database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hub import Hub, running_hub
from tests.support.ledger import HubView


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with running_hub(tmp_path / "hub") as running:
        yield running


@pytest.fixture
def hub_view(hub: Hub) -> Iterator[HubView]:
    view = HubView(hub.db_url)
    yield view
    view.close()
