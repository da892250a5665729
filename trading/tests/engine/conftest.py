"""Run the engine tests against either build of the same source, and the
scenario tests against both books (fixture ``book_class``).

By default Python imports the mypyc-compiled modules when they have been built
(``make engine-build``) and the plain ``.py`` files otherwise. ``ENGINE_PURE=1``
forces the plain source even when the compiled modules are present, so the suite
can prove both builds behave the same.
"""

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import pytest


class SourceOnlyFinder(importlib.abc.MetaPathFinder):
    """Finds ``trading.engine`` and its modules as ``.py`` files only."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "trading.engine" and not fullname.startswith("trading.engine."):
            return None
        for entry in path or sys.path:
            finder = importlib.machinery.FileFinder(
                entry, (importlib.machinery.SourceFileLoader, [".py"])
            )
            spec = finder.find_spec(fullname)
            if spec is not None:
                return spec
        return None


if os.environ.get("ENGINE_PURE") == "1":
    if any(name.startswith("trading.engine") for name in sys.modules):
        raise RuntimeError("trading.engine was imported before ENGINE_PURE applied")
    sys.meta_path.insert(0, SourceOnlyFinder())


@pytest.fixture(params=["fast", "reference"])
def book_class(request: pytest.FixtureRequest) -> Any:
    """Each scenario runs on the fast book and on the reference book: the same
    table states the rules for both."""
    from trading.engine import book_class as chosen

    return chosen(request.param)
