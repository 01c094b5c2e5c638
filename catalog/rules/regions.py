"""REGION_CODE, REGION_PARENT and the region's UNKNOWN_REF (GB/T 2260, §1)."""

from __future__ import annotations

from collections.abc import Collection

from ..codes import region_code_problem, region_parent
from ..findings import Finding, finding
from ..model import Catalog, Region


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
    problem = region_code_problem(code, region.level)
    if problem is not None:
        out.append(finding("REGION_CODE", "region", code, line, f"region {code} ({region.name}): {problem}"))
        return out  # the implied parent is meaningless for a malformed code
    implied = region_parent(code, region.level)
    if region.parent != implied:
        if implied is None:
            expected = "null (the national region has no parent)"
        else:
            expected = f"{implied}, which the code of a {region.level} implies"
        out.append(
            finding(
                "REGION_PARENT",
                "region",
                code,
                line,
                f"region {code} ({region.name}) has parent {region.parent!r}, expected {expected}",
            )
        )
    elif implied is not None and implied not in catalog.regions and implied not in broken:
        out.append(
            finding(
                "UNKNOWN_REF",
                "region",
                code,
                line,
                f"region {code} ({region.name}): parent region {implied} is not defined",
            )
        )
    return out
