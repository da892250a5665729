"""The apps depend on each other in one direction only (docs/architecture.md).

Every non-test module of the project's apps is parsed with `ast` (no import, so
a function-level import counts as much as a module-level one) and the app import
graph is built from it. A cycle fails with the path that closes it.

`config` may be imported by every app. Its wiring modules are the exception:
they import the apps, so no app may import them. `config/subscribers.py` wires
the domain events; the others are the entry points Django and the servers load
by name (the URLconf, the ASGI application and its WebSocket routes).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "accounts",
    "kyc",
    "wallet",
    "trading",
    "marketdata",
    "backoffice",
    "reports",
    "privacy",
    "notifications",
    "devices",
    "apikeys",
    "calendars",
    "config",
)
WIRING = {
    "config.apps",
    "config.subscribers",
    "config.urls",
    "config.asgi",
    "config.routing",
}

# Known cycles between apps, to be broken and then removed from here: each entry
# is an edge (importer, imported) that closes one. Keep it empty when possible.
ALLOWED_EDGES: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "tests" in parts or path.name.startswith(("test_", "conftest")):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _imported(module: str, path: Path) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _names(path.read_text(), package)


def _names(source: str, package: str) -> set[str]:
    """Dotted names of everything the source imports, anywhere in it (a name
    imported from a module counts as `module.name`: it may be a submodule)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the module's package
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _app_of(name: str) -> str | None:
    app = name.split(".")[0]
    return app if app in APPS else None


def _graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], list[str]]]:
    """{app: apps it imports}, and for each edge the modules that make it
    (importer -> imported), to name them in a failure."""
    graph: dict[str, set[str]] = {app: set() for app in APPS}
    why: dict[tuple[str, str], list[str]] = {}
    for module, path in _modules().items():
        if module in WIRING:
            continue
        source = module.split(".")[0]  # every module is in one of the APPS
        for name in _imported(module, path):
            target = _app_of(name)
            if target is None or target == source:
                continue
            graph[source].add(target)
            why.setdefault((source, target), []).append(f"{module} -> {name}")
    return graph, why


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each edge that closes one (depth-first search)."""
    found, state = [], {}
    stack: list[str] = []

    def visit(app: str) -> None:
        state[app] = "open"
        stack.append(app)
        for target in sorted(graph[app]):
            if (app, target) in ALLOWED_EDGES:
                continue
            if state.get(target) == "open":
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[app] = "done"

    for app in sorted(graph):
        if app not in state:
            visit(app)
    return found


def test_no_import_cycle_between_apps():
    graph, why = _graph()
    cycles = _cycles(graph)
    report = []
    for cycle in cycles:
        report.append(" -> ".join(cycle))
        for edge in zip(cycle, cycle[1:], strict=False):
            report.extend(f"    {line}" for line in sorted(why[edge])[:5])
    assert not cycles, "import cycles between apps:\n" + "\n".join(report)


def test_the_cycle_finder_names_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]


def test_the_allow_list_names_only_edges_that_exist():
    graph, _ = _graph()
    assert {(a, b) for a, b in ALLOWED_EDGES if b not in graph[a]} == set()


def test_no_app_imports_the_wiring():
    wiring_users = sorted(
        f"{module} -> {name}"
        for module, path in _modules().items()
        if module not in WIRING
        for name in _imported(module, path)
        if name in WIRING
    )
    assert wiring_users == []


def test_config_imports_the_apps_only_from_its_wiring():
    outside = sorted(
        f"{module} -> {name}"
        for module, path in _modules().items()
        if module.startswith("config.") and module not in WIRING
        for name in _imported(module, path)
        if _app_of(name) not in (None, "config")
    )
    assert outside == []


def test_trading_and_wallet_do_not_import_marketdata():
    """They record domain events; marketdata subscribes (config/subscribers.py)."""
    _, why = _graph()
    assert why.get(("trading", "marketdata"), []) == []
    assert why.get(("wallet", "marketdata"), []) == []


def test_function_level_and_relative_imports_count():
    source = "def f():\n    from marketdata.services import x\nfrom ..models import Y\n"
    assert _names(source, "trading.services") == {
        "marketdata.services",
        "marketdata.services.x",
        "trading.models",
        "trading.models.Y",
    }
