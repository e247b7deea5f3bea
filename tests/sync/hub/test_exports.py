import importlib

import pytest


@pytest.mark.parametrize("package", ["sync.hub", "web"])
def test_exported_members_exist(package: str) -> None:
    module = importlib.import_module(package)
    assert [name for name in module.__all__ if not hasattr(module, name)] == []
    assert module.__all__ == sorted(module.__all__)
