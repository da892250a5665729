"""Which build of the matching engine Python imports: compiled or source.

By default Python prefers the mypyc-compiled modules when they are built
(``make engine-build``). ``ENGINE_PURE=1`` forces the plain ``.py`` source even
then, for the engine tests (trading/tests/engine/conftest.py) and the engine
benchmark (bench/__init__.py), so both builds can be proven and measured. It
lives outside ``trading/engine`` because the engine itself does no I/O and
imports nothing but pure standard modules (test_purity).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType


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


def pure_requested() -> bool:
    return os.environ.get("ENGINE_PURE") == "1"


def honour_engine_pure() -> None:
    """With ENGINE_PURE=1, make every later import of the engine the source one.
    Refuses when the engine is already imported: that import may be compiled."""
    if not pure_requested():
        return
    if any(isinstance(finder, SourceOnlyFinder) for finder in sys.meta_path):
        return
    if any(
        name == "trading.engine" or name.startswith("trading.engine.")
        for name in sys.modules
    ):
        raise RuntimeError("trading.engine was imported before ENGINE_PURE applied")
    sys.meta_path.insert(0, SourceOnlyFinder())
