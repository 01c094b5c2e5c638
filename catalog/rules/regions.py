"""REGION_CODE, REGION_PARENT and the region's UNKNOWN_REF (GB/T 2260, §1)."""

from __future__ import annotations

from collections.abc import Collection

from ..codes import region_code_problem, region_parent
from ..findings import Finding, about, finding
from ..model import Catalog, Region
from ..wording import named
from ..words import level_name


def region_findings(
    region: Region, line: int | None, catalog: Catalog, broken: Collection[str] = ()
) -> list[Finding]:
    """A code that fits its level, and the parent that code implies, defined in the catalog.

    A parent that is wrong is REGION_PARENT only: saying it is also undefined
    would send the reviewer after the wrong fix. `broken` holds region codes
    whose records failed to decode (their SCHEMA finding already speaks).
    """
    out: list[Finding] = []
    code = region.code
    say = about("region", code, line)
    problem = region_code_problem(code, region.level)
    if problem is not None:
        out.append(
            finding("REGION_CODE", "region", code, line, f"{named('region', code, region.name)}：{problem}。")
        )
        return out  # the implied parent is meaningless for a malformed code
    implied = region_parent(code, region.level)
    if region.parent != implied:
        if implied is None:
            expected = "null（全国没有上级区划）"
        else:
            expected = f"{implied}（{level_name(region.level)}区划的编码所示）"
        out.append(
            say(
                "REGION_PARENT",
                f"{named('region', code, region.name)}的上级区划为{'“' + region.parent + '”' if region.parent is not None else '空'}，应为 {expected}。",
            )
        )
    elif implied is not None and implied not in catalog.regions and implied not in broken:
        out.append(
            say(
                "UNKNOWN_REF",
                f"{named('region', code, region.name)}：上级区划 {implied} 未在目录中定义。",
            )
        )
    return out
