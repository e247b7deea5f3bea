"""Fixtures shared by every test package: the real broker and a site config."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mosquitto import Broker, private_broker


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with private_broker(tmp_path_factory.mktemp("mosquitto")) as running:
        yield running
