"""Fixtures the API tests share; ``hub``, ``http`` and ``creds`` come from ``tests/web``."""

from __future__ import annotations

import httpx
import pytest

from tests.hubfixtures import Credentials, push, seed_batch


@pytest.fixture
def seeded(http: httpx.Client, creds: Credentials) -> Credentials:
    assert push(http, creds.agent, seed_batch()).status_code == 200
    return creds
