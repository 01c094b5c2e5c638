"""The digitisation advisor: which certificate should we digitise next?

For every material that is neither an e-license nor a commitment, how many materials
applicants would no longer hand in, across every bundle in every region where it is offered
and composes, if that material were in the e-license library — computed exactly: each case is
composed again with the material flagged, the exact minimum (§4 step 4) and all. Regions that
resolve a bundle to the same implementations make the same case, composed once (as the bundle
checks report does) and counted once per region.

`visits` counts the bundle × region cases where the applicant had something to hand in and,
with the material flagged, has nothing left: the trip to hand materials in disappears.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import msgspec
from msgspec import Struct

from catalog.model import Bundle, Catalog, requirements_of

from .document import BundleError
from .graph import checked_lineage, implementation_index
from .optimize import TIME_LIMIT
from .stats import offered_regions
from .workflow import compose_bundle


class Suggestion(Struct, kw_only=True):
    material: str
    name: str
    category: str
    materials: int
    """Materials no longer handed in, summed over bundle × region cases."""
    visits: int
    """Bundle × region cases left with nothing to hand in."""
    cases: int
    """Bundle × region cases where it saves at least one material."""
    bundles: list[str]
    """The bundles where it helps, by id."""


class Advice(Struct, kw_only=True):
    cases: int
    """Bundle × region cases that compose."""
    distinct: int
    """Distinct cases composed (each for every candidate material)."""
    suggestions: list[Suggestion]


class _Case(NamedTuple):
    bundle: str
    region: str
    weight: int
    """How many regions make this case."""


def advise(
    catalog: Catalog,
    slice_of: Callable[[Bundle], Catalog],
    *,
    progress: Callable[[int, int], None] | None = None,
    time_limit: float = TIME_LIMIT,
) -> Advice:
    """`catalog`: the small records and the bundles; `slice_of(bundle)`: the bundle's slice (the
    small records and its items' implementations, read by the caller one bundle at a time —
    `api.view.slice_of`). Suggestions ranked by materials saved, then
    visits, then cases; a material that saves nothing is left out."""
    saved: dict[str, list[int]] = {}
    helped: dict[str, set[str]] = {}
    total = distinct = 0
    ids = sorted(catalog.bundles)
    for n, bundle_id in enumerate(ids, 1):
        bundle = catalog.bundles[bundle_id]
        items = [c for c in dict.fromkeys(bundle.items) if c in catalog.items]
        part = slice_of(bundle)
        for case in _cases(part, bundle_id, offered_regions(part, bundle)):
            try:
                base = compose_bundle(part, bundle_id, case.region, time_limit=time_limit).metrics
            except BundleError:
                continue
            total += case.weight
            distinct += 1
            for material in sorted(_candidates(part, items, case.region)):
                flagged = msgspec.structs.replace(
                    part,
                    materials={
                        **part.materials,
                        material: msgspec.structs.replace(part.materials[material], e_license=True),
                    },
                )
                after = compose_bundle(flagged, bundle_id, case.region, time_limit=time_limit).metrics
                fewer = base.materials_after - after.materials_after
                if fewer <= 0:
                    continue
                figures = saved.setdefault(material, [0, 0, 0])
                figures[0] += fewer * case.weight
                figures[1] += (after.materials_after == 0) * case.weight
                figures[2] += case.weight
                helped.setdefault(material, set()).add(bundle_id)
        if progress is not None:
            progress(n, len(ids))
    suggestions = [
        Suggestion(
            material=m,
            name=catalog.materials[m].name,
            category=catalog.materials[m].category,
            materials=f[0],
            visits=f[1],
            cases=f[2],
            bundles=sorted(helped[m]),
        )
        for m, f in saved.items()
    ]
    suggestions.sort(key=lambda s: (-s.materials, -s.visits, -s.cases, s.material))
    return Advice(cases=total, distinct=distinct, suggestions=suggestions)


def _cases(catalog: Catalog, bundle_id: str, regions: list[str]) -> list[_Case]:
    """One case per distinct resolution (regions that resolve every item alike), in region order."""
    bundle = catalog.bundles[bundle_id]
    index = implementation_index(catalog)
    found: dict[tuple, list[str]] = {}
    for region in regions:
        chain = checked_lineage(catalog, region)
        key = tuple(next((index[c, r].code for r in chain if (c, r) in index), None) for c in bundle.items)
        found.setdefault(key, []).append(region)
    return [_Case(bundle_id, members[0], len(members)) for members in found.values()]


def _candidates(catalog: Catalog, items: list[str], region: str) -> set[str]:
    """The materials of the case's requirements that are neither e-licenses nor commitments."""
    index = implementation_index(catalog)
    chain = checked_lineage(catalog, region)
    out: set[str] = set()
    for code in items:
        impl = next((index[code, r] for r in chain if (code, r) in index), None)
        if impl is None:
            continue
        for requirement in requirements_of(impl, catalog.items[code]):
            for m in requirement.any_of:
                known = catalog.materials.get(m)
                if known is not None and not known.e_license and not known.commitment:
                    out.add(m)
    return out
