"""The region tree (GB/T 2260): who is under whom. The one place these walks are written."""

from __future__ import annotations

from collections.abc import Mapping

from .model import Region


def lineage(regions: Mapping[str, Region], region: str) -> list[str]:
    """The region and its ancestors up to the nation, nearest first (empty for an unknown one)."""
    out: list[str] = []
    code: str | None = region
    while code is not None and code in regions and code not in out:
        out.append(code)
        code = regions[code].parent
    return out


def children(regions: Mapping[str, Region]) -> dict[str, list[str]]:
    """parent -> its children, each list in code order."""
    out: dict[str, list[str]] = {}
    for code in sorted(regions):
        parent = regions[code].parent
        if parent is not None:
            out.setdefault(parent, []).append(code)
    return out


def subtree(
    regions: Mapping[str, Region], region: str, kids: Mapping[str, list[str]] | None = None
) -> frozenset[str]:
    """The region and every region under it (`kids`: `children(regions)`, when the caller has it)."""
    kids = children(regions) if kids is None else kids
    out, stack = {region}, [region]
    while stack:
        for child in kids.get(stack.pop(), ()):
            if child not in out:
                out.add(child)
                stack.append(child)
    return frozenset(out)
