"""The bundle checks report for reviewers: one bundle, many regions, the failed checks of each.

Regions that resolve every item to the same implementations (and are alike
in whether the bundle is offered there, and in the service points on their chain with a window
for it) make the same checks, so each
distinct case is composed once: a bundle's 200 counties usually come down
to a handful of cases. A pure function over `Catalog`, which may be a slice
(the bundle's items, their implementations along the asked regions' chains,
all regions, materials, fields and questions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from msgspec import Struct

from catalog.model import Catalog

from .document import BundleError, BundleProblem, Check
from .graph import checked_lineage, implementation_index
from .optimize import TIME_LIMIT
from .places import window_points
from .workflow import compose_bundle


class RegionChecks(Struct, frozen=True, omit_defaults=True):
    """One region's row of the report: the failed checks, or why no workflow could be made."""

    region: str
    failed: list[Check]
    error: BundleProblem | None = None


def bundle_checks(
    catalog: Catalog,
    bundle_id: str,
    regions: Sequence[str],
    *,
    answers: Mapping[str, str] | None = None,
    time_limit: float = TIME_LIMIT,
) -> list[RegionChecks]:
    """For each of `regions` (in their order), the bundle's failed checks there in the situation
    `answers` (none: conditional items and requirements stay out, as in an unanswered workflow).

    Raises BundleError UNKNOWN_BUNDLE or UNKNOWN_ANSWER (they hold for every region alike).
    """
    if bundle_id not in catalog.bundles:
        raise BundleError("UNKNOWN_BUNDLE", f"目录中没有一件事“{bundle_id}”。", [])
    bundle = catalog.bundles[bundle_id]
    index = implementation_index(catalog)
    points = window_points(catalog, bundle_id, bundle.items)
    done: dict[tuple, RegionChecks] = {}
    out = []
    for region in regions:
        try:
            chain = checked_lineage(catalog, region)
        except BundleError as exc:
            out.append(RegionChecks(region, [], exc.problem))
            continue
        resolved = tuple(
            next((index[code, r].code for r in chain if (code, r) in index), None) for code in bundle.items
        )
        offered = bundle.regions is None or not set(bundle.regions).isdisjoint(chain)
        key = (resolved, offered, tuple(p for r in chain for p in points.get(r, ())))
        if key not in done:
            try:
                workflow = compose_bundle(catalog, bundle_id, region, answers=answers, time_limit=time_limit)
                done[key] = RegionChecks(region, [c for c in workflow.checks if not c.passed])
            except BundleError as exc:
                if exc.problem.error == "UNKNOWN_ANSWER":
                    raise
                done[key] = RegionChecks(region, [], exc.problem)
        found = done[key]
        out.append(RegionChecks(region, found.failed, found.error))
    return out
