"""The tree keeps its architecture: which package may import which, a pure core that
does no I/O, a lean part the koji plugins can take alone, and no import circles.

Imports are read with ``ast`` from every module of ``discomy`` (those inside
functions too), so a lazy import counts like any other.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "orchestrator" / "discomy"
PLUGINS = Path(__file__).resolve().parents[1] / "koji-plugins"

# what each package may import of Discomy (itself always)
MAY_IMPORT = {
    "common": set(),
    "placement": {"common"},
    "builder": {"common", "placement"},
    "planning": {"common", "placement"},
    "orchestration": {"common", "placement", "planning"},
    "web": {"common", "placement", "planning", "orchestration"},
    "cli": {"common", "placement", "builder", "planning", "orchestration", "web"},
}
LEAN = ("common", "placement", "builder")          # python3-discomy-core
# decisions over plain data: no I/O library, no koji session
PURE = ["common.units", "common.nvr", "common.settings", "placement", "builder.buildopts",
        "builder.config", "builder.advisor", "planning.graph", "planning.planner",
        "planning.durations", "planning.fleet", "planning.simulator", "planning.timeline",
        "planning.kojimodel", "planning.priorities",
        "planning.modules", "planning.modular_repos", "orchestration.campaign",
        "orchestration.events", "orchestration.progress",
        "orchestration.modules.core", "orchestration.webhooks.decide", "web.charts",
        "web.views"]
IO_LIBRARIES = {"sqlalchemy", "alembic", "psycopg", "psycopg2", "solv", "pika", "proton",
                "fedora_messaging.api", "twisted", "requests", "urllib", "http", "socket",
                "subprocess", "smtplib", "sqlite3", "shutil", "tempfile"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set:
    """Every module ``path`` imports, as absolute dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (this tree imports absolutely)"
            found.add(node.module)
            # `from discomy.x import y` may name a module y
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if node.module.startswith("discomy"))
    return found


MODULES = {_module(p): _imports(p) for p in PKG.rglob("*.py")
           if "migrations" not in p.parts or p.name == "__init__.py"}


def _discomy_package(name: str):
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "discomy" and \
        parts[1] in MAY_IMPORT else None


def _known(name: str) -> str:
    """``name`` as the module the tree has (``discomy.x.y.Z`` -> ``discomy.x.y``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def test_every_package_imports_only_the_packages_below_it():
    wrong = []
    for module, imports in MODULES.items():
        own = _discomy_package(module)
        if own is None:
            continue
        for name in imports:
            other = _discomy_package(name)
            if other and other != own and other not in MAY_IMPORT[own]:
                wrong.append(f"{module} imports {name}")
    assert wrong == []


@pytest.mark.parametrize("pure", PURE)
def test_the_pure_core_imports_no_io_library(pure):
    modules = [m for m in MODULES if m == f"discomy.{pure}" or m.startswith(f"discomy.{pure}.")]
    assert modules
    for module in modules:
        # fedora_messaging.message is data (the published schemas), its api the client
        io = {name for name in MODULES[module]
              if name.split(".")[0] in IO_LIBRARIES or ".".join(name.split(".")[:2]) in IO_LIBRARIES}
        assert not io, f"{module} imports {sorted(io)}"
        source = (PKG.parent / (module.replace(".", "/"))).with_suffix(".py")
        if not source.exists():
            source = PKG.parent / module.replace(".", "/") / "__init__.py"
        assert "ClientSession" not in source.read_text(), f"{module} opens a koji session"


def test_the_lean_part_needs_only_the_standard_library_and_koji():
    outside = set()
    for module, imports in MODULES.items():
        if _discomy_package(module) not in LEAN:
            continue
        for name in imports:
            top = name.split(".")[0]
            if top in ("discomy", "koji", "__future__") or top in sys.stdlib_module_names:
                continue
            outside.add(f"{module} imports {name}")
    assert outside == set()


def test_the_koji_plugins_import_only_the_lean_part():
    for plugin in PLUGINS.glob("*/*.py"):
        ours = {n for n in _imports(plugin) if n.startswith("discomy")}
        assert ours, plugin
        assert all(n == "discomy" or _discomy_package(n) in LEAN for n in ours), \
            (plugin.name, sorted(ours))


def test_there_are_no_import_circles():
    graph = {m: {_known(n) for n in imports if n.startswith("discomy")} - {m, ""}
             for m, imports in MODULES.items()}
    # a package's face (__init__) re-exports its modules: that is not a circle back
    for module in graph:
        graph[module] = {n for n in graph[module] if not module.startswith(n + ".")}
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):                     # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert circles == []


def test_every_package_says_what_it_owns_and_may_import():
    for package in MAY_IMPORT:
        doc = ast.get_docstring(ast.parse((PKG / package / "__init__.py").read_text()))
        assert doc and "import" in doc, package
