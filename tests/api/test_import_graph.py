"""No import circle among the modules of `api/`: each room imports only rooms below it.

The graph is read from the source with `ast` — every import counts, including those inside a
function or under `TYPE_CHECKING` (a circle there is still a circle for the reader) — and every
module of the package is imported, so a module that no longer imports is found too.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` (under `root`), by dotted name."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(root: Path, package: str) -> nx.DiGraph:
    """module -> the modules of `package` it imports."""
    found = modules(root, package)
    graph = nx.DiGraph()
    graph.add_nodes_from(found)
    for name, path in found.items():
        is_package = path.name == "__init__.py"
        here = name.split(".") if is_package else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                stem = ".".join([*base, *(node.module.split(".") if node.module else [])])
                # `from . import schemas` names a module; `from .view import View` a name in one
                targets = [f"{stem}.{alias.name}" for alias in node.names] + [stem]
            for target in targets:
                while target and target not in found:
                    target = target.rpartition(".")[0]
                if target and target != name and not (target == package and node_is_package_root(target)):
                    graph.add_edge(name, target)
    return graph


def node_is_package_root(target: str) -> bool:
    """An edge to the package itself (`api/__init__.py`, empty) is no dependency on a room."""
    return "." not in target


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_every_module_of_api_imports() -> None:
    for name in modules(ROOT, "api"):
        importlib.import_module(name)


def test_no_import_circle_among_the_modules_of_api() -> None:
    graph = import_graph(ROOT, "api")
    assert graph.number_of_nodes() > 40
    assert graph.has_edge("api.app", "api.view")  # the graph sees imports at all
    assert graph.has_edge("api.services.workflows", "api.view")
    assert cycles(graph) == []


@pytest.mark.parametrize("where", ["top", "function", "type_checking"])
def test_a_circle_is_found_wherever_its_import_hides(tmp_path: Path, where: str) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "services").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "services" / "__init__.py").write_text("")
    (pkg / "state.py").write_text("from .services.checks import ChecksService\n")
    back = {
        "top": "from ..state import View\n",
        "function": "def f():\n    from .. import state\n",
        "type_checking": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..state import View\n",
    }[where]
    (pkg / "services" / "checks.py").write_text(back)
    assert cycles(import_graph(tmp_path, "pkg")) == [["pkg.services.checks", "pkg.state"]]
