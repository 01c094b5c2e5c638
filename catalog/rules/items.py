"""ITEM_CODE, SUBITEM, the item's UNKNOWN_REF and the requirement shape (§1, §2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..codes import NATIONAL, item_code_problem, region_level_of_code
from ..findings import Finding, about, finding
from ..model import Catalog, Item, Requirement
from ..wording import named
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
            out.append(finding("SCHEMA", kind, key, line, f"{named(kind, key)}：材料要求“{r.req}”重复列出。"))
        seen.add(r.req)
        if not r.any_of:
            out.append(
                finding(
                    "SCHEMA",
                    kind,
                    key,
                    line,
                    f"{named(kind, key)}：材料要求“{r.req}”的可选材料（any_of）为空，没有材料能满足它。",
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
    say = about("item", code, line)
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
        problem = f"所属区划“{item.owner}”既不是全国（000000），也不是省级区划（PP0000）"
    if problem is not None:
        out.append(finding("ITEM_CODE", "item", code, line, f"{named('item', code, item.name)}：{problem}。"))

    if main is not None:
        if main.main is not None:
            out.append(
                say(
                    "SUBITEM",
                    f"{named('item', code, item.name)}以 {main.code} 为主项，但它本身是 {main.main} 的子项。",
                )
            )
        if main.type != item.type:
            out.append(
                say(
                    "SUBITEM",
                    f"{named('item', code, item.name)}的类型为“{item.type}”，其主项 {main.code} 的类型为“{main.type}”；子项应与主项类型相同。",
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
                    f"{named('item', code, item.name)}：{what}“{ref}”未在目录中定义。",
                )
            )

    unknown("所属区划", item.owner, "region", catalog.regions)
    if item.main is not None:
        unknown("主项", item.main, "item", catalog.items)
    for ref in dict.fromkeys(item.requires):
        unknown("前置事项", ref, "item", catalog.items)
    for ref in dict.fromkeys(m for r in item.materials for m in r.any_of):
        unknown("申请材料", ref, "material", catalog.materials)
    for ref in dict.fromkeys(item.outputs):
        unknown("办理结果材料", ref, "material", catalog.materials)
    for ref in dict.fromkeys(item.fields):
        unknown("表单字段", ref, "field", catalog.fields)
    for r in item.materials:
        if r.when:
            who = f"{named('item', code, item.name)}的材料要求“{r.req}”"
            out.extend(
                when_ref_findings(
                    "item", code, line, who, r.when, catalog.questions, broken.get("question", ())
                )
            )
    return out
