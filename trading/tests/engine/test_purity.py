"""The engine stays pure: no Django, no clock, no randomness, no I/O."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import trading.engine
from trading.engine import COMPILED

ENGINE_DIR = Path(trading.engine.__file__).parent
REPO_ROOT = ENGINE_DIR.parent.parent
ALLOWED_IMPORTS = {
    "bisect",
    "collections.abc",
    "enum",
    "hashlib",
    "heapq",
    "json",
    "mypy_extensions",  # mypyc_attr: a no-op decorator when interpreted
    "os",  # __init__.book_class reads ENGINE_BOOK from os.environ, nothing else
    "typing",
}
#: Engine sources that mypyc does not compile (see the Makefile's ENGINE_SOURCES).
INTERPRETED = {"__init__.py", "reference.py"}


def test_importing_the_engine_loads_no_django() -> None:
    # Given a fresh interpreter with nothing imported
    code = (
        "import sys, trading.engine; "
        "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    # When it imports the engine
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        check=False,
    )
    # Then no Django module came along
    assert result.returncode == 0, result.stdout + result.stderr


def test_engine_sources_import_only_pure_modules() -> None:
    # Given every engine source file
    seen: set[str] = set()
    for source in sorted(ENGINE_DIR.glob("*.py")):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                seen.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                seen.add(node.module or "")
    # Then nothing outside the engine but the pure standard modules is imported
    outside = {m for m in seen if not m.startswith("trading.engine")}
    assert outside <= ALLOWED_IMPORTS, outside - ALLOWED_IMPORTS


def test_build_under_test_is_the_one_requested() -> None:
    # ENGINE_PURE=1 must give the interpreted build; ENGINE_EXPECT_COMPILED=1 (set
    # by the make target after building) must give the compiled one.
    if os.environ.get("ENGINE_PURE") == "1":
        assert not COMPILED
    if os.environ.get("ENGINE_EXPECT_COMPILED") == "1":
        assert COMPILED


def test_compiled_build_is_not_older_than_its_source() -> None:
    # A stale compiled build would silently run old code: rebuild it
    # (make engine-build) whenever an engine source changes. The code lives in
    # the shared library mypyc writes at the repository root.
    if not COMPILED:
        return
    libraries = list(REPO_ROOT.glob("*__mypyc.*.so"))
    assert libraries, "compiled engine modules without their shared library"
    built = max(library.stat().st_mtime for library in libraries)
    for source in ENGINE_DIR.glob("*.py"):
        if source.name in INTERPRETED:
            continue
        assert built >= source.stat().st_mtime, (
            f"the compiled engine is older than {source.name}: run make engine-build"
        )
