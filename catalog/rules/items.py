"""ITEM_CODE, SUBITEM, the item's UNKNOWN_REF and the requirement shape (§1, §2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..codes import NATIONAL, item_code_problem, region_level_of_code
from ..findings import Finding, finding
from ..model import Catalog, Item, Requirement
from .situations import when_ref_findings

NO_BROKEN: Mapping[str, frozenset[str]] = {}


def requirement_shape(
    kind: str, key: str, line: int | None, requirements: Sequence[Requirement]
) -> list[Finding]:
    """SCHEMA: each `req` once per record (it names the requirement), and at least one alternative."""
    out: list[Finding] = []
    seen: set[str] = set()
    for r in requirements:
        if r.req in seen:
            out.append(
                finding("SCHEMA", kind, key, line, f"{kind} {key}: requirement {r.req!r} is listed twice")
            )
        seen.add(r.req)
        if not r.any_of:
            out.append(
                finding(
                    "SCHEMA",
                    kind,
                    key,
                    line,
                    f"{kind} {key}: requirement {r.req!r} has an empty `any_of` (no material can meet it)",
                )
            )
    return out


def item_findings(
    item: Item,
    line: int | None,
    catalog: Catalog,
    broken: Mapping[str, frozenset[str] | set[str]] = NO_BROKEN,
) -> list[Finding]:
    """Everything about one item that needs the rest of the catalog but not its implementations."""
    code = item.code
    out = requirement_shape("item", code, line, item.materials)
    main = catalog.items.get(item.main) if item.main is not None else None

    problem = item_code_problem(code, item.type, item.owner, item.main)
    if (
        problem is not None
        and main is not None
        and main.type != item.type
        and item_code_problem(code, main.type, item.owner, item.main) is None
    ):
        problem = None  # the code follows its main item and only the type strays: that is SUBITEM's to say
    if problem is None and item.owner != NATIONAL and region_level_of_code(item.owner) != "province":
        problem = f"owner {item.owner!r} is neither the nation (000000) nor a province (PP0000)"
    if problem is not None:
        out.append(finding("ITEM_CODE", "item", code, line, f"item {code} ({item.name}): {problem}"))

    if main is not None:
        if main.main is not None:
            out.append(
                finding(
                    "SUBITEM",
                    "item",
                    code,
                    line,
                    f"item {code} ({item.name}) names {main.code} as its main item, but that is itself a sub-item of {main.main}",
                )
            )
        if main.type != item.type:
            out.append(
                finding(
                    "SUBITEM",
                    "item",
                    code,
                    line,
                    f"item {code} ({item.name}) has type {item.type!r}, its main item {main.code} has type {main.type!r}; a sub-item keeps its main item's type",
                )
            )

    def unknown(what: str, ref: str, kind: str, table: Mapping[str, object]) -> None:
        if ref not in table and ref not in broken.get(kind, ()):
            out.append(
                finding(
                    "UNKNOWN_REF",
                    "item",
                    code,
                    line,
                    f"item {code} ({item.name}): {what} {ref!r} is not defined",
                )
            )

    unknown("owner region", item.owner, "region", catalog.regions)
    if item.main is not None:
        unknown("main item", item.main, "item", catalog.items)
    for ref in dict.fromkeys(item.requires):
        unknown("required item", ref, "item", catalog.items)
    for ref in dict.fromkeys(m for r in item.materials for m in r.any_of):
        unknown("material", ref, "material", catalog.materials)
    for ref in dict.fromkeys(item.outputs):
        unknown("output material", ref, "material", catalog.materials)
    for ref in dict.fromkeys(item.fields):
        unknown("field", ref, "field", catalog.fields)
    for r in item.materials:
        if r.when:
            who = f"item {code} ({item.name}) requirement {r.req!r}"
            out.extend(
                when_ref_findings(
                    "item", code, line, who, r.when, catalog.questions, broken.get("question", ())
                )
            )
    return out
