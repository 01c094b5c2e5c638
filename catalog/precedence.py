"""Precedence between items (§4 step 2), shared by the catalog-wide CYCLE rule and the bundler.

Item `a` precedes `b` (a ≠ b) when `a` is in `b.requires`, or an output of `a`
is among the alternatives of a requirement of `b`. Which requirements count is
the caller's: the item's own (catalog-wide) or its resolved implementation's
(bundling).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import networkx as nx

from .model import Item, Requirement


def precedence_graph(
    items: Iterable[Item],
    requirements: Callable[[Item], Sequence[Requirement]] = lambda item: item.materials,
) -> nx.DiGraph:
    """Nodes are the given items' codes; an edge a→b carries `explicit` (b requires a)
    and `materials` (a's outputs that b's requirements accept), sorted.

    Links to items outside the given set are not followed: a bundle is a subgraph.
    """
    items = list(items)
    graph = nx.DiGraph()
    graph.add_nodes_from(item.code for item in items)
    producers: dict[str, list[str]] = {}
    for item in items:
        for material in item.outputs:
            producers.setdefault(material, []).append(item.code)
    for b in items:
        for a in b.requires:
            if a != b.code and a in graph:
                _link(graph, a, b.code).update(explicit=True)
        for requirement in requirements(b):
            for material in requirement.any_of:
                for a in producers.get(material, ()):
                    if a != b.code:
                        data = _link(graph, a, b.code)
                        if material not in data["materials"]:
                            data["materials"].append(material)
                            data["materials"].sort()
    return graph


def _link(graph: nx.DiGraph, a: str, b: str) -> dict:
    if not graph.has_edge(a, b):
        graph.add_edge(a, b, explicit=False, materials=[])
    return graph.edges[a, b]


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    """The groups of items that lie on a cycle (strongly connected, more than one), each sorted."""
    groups = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    return sorted(groups)
