"""Catalog-wide rules over all items: CYCLE (precedence, §4 step 2) and ORPHAN_ITEM."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ..findings import Finding, finding
from ..model import Item
from ..precedence import cycles, precedence_graph
from ..wording import named


def cycle_findings(items: Mapping[str, Item], lines: Mapping[str, int]) -> list[Finding]:
    """One finding per member of each cycle, naming the others: any one of them may be the one to fix."""
    out: list[Finding] = []
    for group in cycles(precedence_graph(items.values())):
        for code in group:
            others = "、".join(named("item", c, items[c].name) for c in group if c != code)
            out.append(
                finding(
                    "CYCLE",
                    "item",
                    code,
                    lines.get(code),
                    f"{named('item', code, items[code].name)}与{others}互为前置，形成循环"
                    "（经由前置事项（requires）或办理结果被对方用作申请材料）。",
                )
            )
    return out


def orphan_findings(
    items: Mapping[str, Item], lines: Mapping[str, int], implemented: Collection[str]
) -> list[Finding]:
    """Items nothing implements. A main item counts as implemented through any of its sub-items,
    the way catalogs implement a main item (主项) by its sub-items (子项)."""
    covered = set(implemented)
    covered.update(item.main for code, item in items.items() if item.main is not None and code in implemented)
    return [
        finding(
            "ORPHAN_ITEM",
            "item",
            code,
            lines.get(code),
            f"{named('item', code, item.name)}在本目录中没有任何实施清单。",
        )
        for code, item in items.items()
        if code not in covered
    ]
