"""The query parameters the listing routes share (``web/api/params.py``), on the real hub."""

from __future__ import annotations

import httpx
import pytest

from tests.hubfixtures import Credentials
from tests.web.api.calls import READ_PATHS, get


@pytest.mark.parametrize("path", READ_PATHS[1:])
@pytest.mark.parametrize("limit", [0, 100_001, "many"])
def test_a_bad_limit_is_422(
    http: httpx.Client, seeded: Credentials, path: str, limit: int | str
) -> None:
    assert get(http, seeded, path, limit=limit).status_code == 422
