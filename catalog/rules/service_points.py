"""The service point's UNKNOWN_REF (revision 3): the region it stands in, and the bundles and
items its windows take or it assists with, all defined."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ..findings import Finding, finding
from ..model import Catalog, ServicePoint
from ..wording import named

NO_BROKEN: Mapping[str, Collection[str]] = {}


def service_point_findings(
    point: ServicePoint, line: int | None, catalog: Catalog, broken: Mapping[str, Collection[str]] = NO_BROKEN
) -> list[Finding]:
    """`broken`: kind -> keys of records that failed to decode (referring to them is not UNKNOWN_REF)."""
    who = named("service_point", point.id, point.name)
    out: list[Finding] = []

    def unknown(what: str) -> None:
        out.append(finding("UNKNOWN_REF", "service_point", point.id, line, f"{who}：{what}未在目录中定义。"))

    if point.region not in catalog.regions and point.region not in broken.get("region", ()):
        unknown(f"所在区划“{point.region}”")
    bundles = dict.fromkeys(b for w in point.windows for b in w.bundles)
    for bundle in bundles:
        if bundle not in catalog.bundles and bundle not in broken.get("bundle", ()):
            unknown(f"窗口受理的一件事“{bundle}”")
    items = dict.fromkeys(i for w in point.windows for i in w.items)
    for item in items:
        if item not in catalog.items and item not in broken.get("item", ()):
            unknown(f"窗口受理的事项“{item}”")
    for item in dict.fromkeys(point.assists):
        if item not in catalog.items and item not in broken.get("item", ()):
            unknown(f"代办的事项“{item}”")
    return out
