"""Every package's ``__all__`` names only what it really exports (httpx's test_exported_members)."""

from __future__ import annotations

import importlib

import pytest

REQUIRED = ["collector", "rules", "sync"]
# agent has no public API yet; it joins the check as soon as it declares __all__.
DECLARED = [p for p in ["agent", *REQUIRED] if hasattr(importlib.import_module(p), "__all__")]
EXPORTS = [(p, name) for p in DECLARED for name in importlib.import_module(p).__all__]


@pytest.mark.parametrize("package", REQUIRED)
def test_a_package_declares_its_exports(package: str) -> None:
    exported = importlib.import_module(package).__all__
    assert exported
    assert len(set(exported)) == len(exported)


@pytest.mark.parametrize(("package", "name"), EXPORTS, ids=[".".join(e) for e in EXPORTS])
def test_an_exported_name_is_importable(package: str, name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {package} import {name}", namespace)
    assert namespace[name] is getattr(importlib.import_module(package), name)
    assert not name.startswith("_")
