"""The statistics report: the implementations' figures (`catalog.stats`) with, for each bundle,
where it is offered, where it can be composed, and how often each §4.1 check passes there.

The bundles' rows are the bundle checks report's (`bundle_checks`, each distinct case composed
once); `bundle_rows` makes them from a bundle's slice when no report is at hand (the command
line). The slice is the caller's to read (`api.view.slice_of`): nothing here reads a store.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import get_args

import msgspec
from msgspec import Struct

from catalog.model import Bundle, Catalog, Implementation
from catalog.stats import (
    ImplementationStats,
    ItemDivergence,
    LevelStats,
    RegionStats,
    implementation_stats,
)
from catalog.tree import subtree

from .document import CheckName
from .report import RegionChecks, bundle_checks

CHECKS: tuple[str, ...] = get_args(CheckName)


class BundleCoverage(Struct, kw_only=True):
    bundle: str
    name: str
    offered: int
    """Regions (under the asked one) where the bundle is offered."""
    composed: int
    """Of those, where a workflow can be composed (every item implemented along the chain)."""
    passing: int
    """Of those, where every check passes."""
    passed: dict[str, int]
    """Check -> regions (of `composed`) where it passes."""


class CheckRate(Struct, kw_only=True):
    check: str
    passed: int
    of: int
    """Bundle × region cases that compose."""


class Stats(Struct, kw_only=True):
    revision: int
    catalog_version: str
    region: str | None
    regions: list[RegionStats]
    items: list[ItemDivergence]
    bundles: list[BundleCoverage]
    checks: list[CheckRate]
    levels: list[LevelStats] = []
    """Per level (五级): regions, their implementations' counts, their service points (revision 3)."""


def offered_regions(catalog: Catalog, bundle: Bundle) -> list[str]:
    """Every region where the bundle is offered (§1 `regions`: a region and all under it)."""
    if bundle.regions is None:
        return sorted(catalog.regions)
    out: set[str] = set()
    for root in bundle.regions:
        if root in catalog.regions:
            out |= subtree(catalog.regions, root)
    return sorted(out)


def bundle_rows(part: Catalog, bundle: Bundle) -> list[RegionChecks]:
    """The bundle in every region where it is offered; `part`: its slice (the small records and
    the bundle's items' implementations)."""
    part = msgspec.structs.replace(part, bundles={**part.bundles, bundle.id: bundle})
    return bundle_checks(part, bundle.id, offered_regions(part, bundle))


def coverage(bundle: Bundle, rows: Sequence[RegionChecks], within: Collection[str] | None) -> BundleCoverage:
    kept = [r for r in rows if within is None or r.region in within]
    composed = [r for r in kept if r.error is None]
    passed = {c: sum(1 for r in composed if all(f.check != c for f in r.failed)) for c in CHECKS}
    return BundleCoverage(
        bundle=bundle.id,
        name=bundle.name,
        offered=len(kept),
        composed=len(composed),
        passing=sum(1 for r in composed if not r.failed),
        passed=passed,
    )


def stats(
    catalog: Catalog,
    implementations: Iterable[Implementation],
    rows: Mapping[str, Sequence[RegionChecks]],
    *,
    revision: int,
    region: str | None = None,
) -> Stats:
    """`catalog`: the small records and the bundles; `implementations`: the version's, streamed;
    `rows`: each bundle's checks report rows. `region`: that region and all under it."""
    figures = implementation_stats(
        catalog.regions, catalog.items, implementations, region, catalog.service_points
    )
    return with_bundles(catalog, figures, rows, revision=revision, region=region)


def with_bundles(
    catalog: Catalog,
    figures: ImplementationStats,
    rows: Mapping[str, Sequence[RegionChecks]],
    *,
    revision: int,
    region: str | None = None,
) -> Stats:
    """The report from the implementations' `figures` (counted, or as the store keeps them) and
    each bundle's checks report `rows` (those of the regions the figures count: `region`'s
    subtree, whether or not `catalog` holds its townships and villages)."""
    within = None if region is None else {r.region for r in figures.regions}
    bundles = [coverage(catalog.bundles[b], rows.get(b, ()), within) for b in sorted(catalog.bundles)]
    checks = [
        CheckRate(check=c, passed=sum(b.passed[c] for b in bundles), of=sum(b.composed for b in bundles))
        for c in CHECKS
    ]
    return Stats(
        revision=revision,
        catalog_version=catalog.header.version,
        region=region,
        regions=figures.regions,
        items=figures.items,
        bundles=bundles,
        checks=checks,
        levels=figures.levels,
    )
