"""The bundle checks of §4.1 across regions: where each bundle is offered, and what fails there.

Two questions, both answered by `bundler.bundle_checks` over a slice of the newest version
(the bundle's items, their implementations along the asked regions' chains — one indexed
query per bundle, never the whole catalog):

- `here(view, region)`: the bundles offered in one region, each with its failed checks there
  (what `GET /bundles?region=` lists), kept for the last `HERE_REGIONS` regions asked;
- `rows(view, bundle)`: one bundle in every region where it is offered (the reviewers'
  report, `GET /checks` and `/pages/checks`). A national catalog offers a bundle in some
  3,000 regions, yet they resolve to a handful of distinct cases: each is composed once.
  Past `LOCAL_IN_VIEW` (a lean view) its townships and villages — half a million — are not
  rows of every report: `rows(view, bundle)` goes down to the county, and a report within a
  county or below lists that county's (`rows(view, bundle, scope)`, `View.deep`).

Both are kept per (version tag, bundles revision): a publish or a bundle write moves the key,
and the next request computes afresh. No answers are given (the situation before anything is
asked): conditional items and requirements stay out, as in an unanswered workflow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from catalog.codes import region_prefix
from catalog.model import Bundle, Catalog, Region, ServicePoint

from .. import schemas as s
from ..lru import MISSING, BoundedLRU
from ..view import View, slice_of
from .errors import unknown_bundle, unknown_region

if TYPE_CHECKING:
    from bundler import RegionChecks
    from catalog.store import Store

Run = Callable[..., Awaitable[Any]]
T = TypeVar("T")


def offered_at(bundle: Bundle, chain: Iterable[str]) -> bool:
    """Whether the bundle is offered to an applicant whose region and ancestors are `chain`
    (§1 bundle `regions`: a region and everything under it; none: everywhere)."""
    return bundle.regions is None or not set(bundle.regions).isdisjoint(chain)


def offered_within(
    view: View, bundle: Bundle, root: str | None = None
) -> tuple[dict[str, Region], dict[str, ServicePoint]]:
    """The regions a report over `root` (None: everywhere) lists where the bundle is offered,
    and the service points standing in them (`View.reach`: a lean view's townships and villages
    under a county or below, and those the bundle names; off the event loop). A region is
    under another when its code starts with the other's prefix (GB/T 2260, which a published
    catalog's REGION_CODE and REGION_PARENT keep)."""
    regions, points = view.reach(root)
    if bundle.regions is None:
        return regions, points
    prefixes = tuple(region_prefix(code) for code in bundle.regions)
    offered = {code: r for code, r in regions.items() if code.startswith(prefixes)}
    if not view.deep(root):  # the townships and villages it names a lean view's report leaves out
        under = "" if root is None else region_prefix(root)
        for named in bundle.regions:
            if named not in offered and named.startswith(under):
                more, at = view.within(named)
                offered.update(more)
                points.update(at)
    return offered, {i: p for i, p in points.items() if p.region in offered}


class ChecksService:
    HERE_REGIONS = 64
    BUNDLES = 1 << 20
    """Bundles whose rows are kept: every one a catalog has."""
    SCOPED = 256
    """(bundle, county or below) rows a lean view's report keeps: a few hundred rows each."""

    def __init__(self, store: Store, run: Run):
        self.store = store
        self._run = run
        self._lock = asyncio.Lock()
        self._key: tuple[int, int, str] = (-1, -1, "")
        self._rows: BoundedLRU[str, list[RegionChecks]] = BoundedLRU(self.BUNDLES)
        self._scoped: BoundedLRU[str, list[RegionChecks]] = BoundedLRU(self.SCOPED)
        self._here: BoundedLRU[str, s.BundlesHere] = BoundedLRU(self.HERE_REGIONS)

    def _current(self, view: View) -> bool:
        """Whether what is kept is `view`'s, forgetting what an older version or bundles
        revision computed (call under the lock). False for a view older than the kept one
        (a request that read the heads just before a write): it computes without keeping."""
        key = (view.version, view.bundle_rev, view.tag)
        if key[:2] < self._key[:2]:
            return False
        if key != self._key:
            self._key = key
            self._rows.clear()
            self._scoped.clear()
            self._here.clear()
        return True

    async def _kept(
        self, view: View, table: BoundedLRU[str, T], key: str, compute: Callable[[View, str], T]
    ) -> T:
        """`compute(view, key)`, kept in `table` while `view` is the newest one asked."""
        async with self._lock:
            if not self._current(view):
                return await self._run(compute, view, key)
            found = table.get(key)
            if found is MISSING:
                computed: T = await self._run(compute, view, key)
                table.put(key, computed)
                return computed
            return found

    # -- one region ---------------------------------------------------------------------
    async def here(self, view: View, region: str) -> s.BundlesHere:
        if not await self._run(view.knows, region):
            raise unknown_region(region)
        return await self._kept(view, self._here, region, self._compute_here)

    def _compute_here(self, view: View, region: str) -> s.BundlesHere:
        from bundler import bundle_checks

        catalog = view.require()
        chain = view.path(region)
        ids = [b for b in sorted(catalog.bundles) if offered_at(catalog.bundles[b], chain)]
        items = [c for b in ids for c in catalog.bundles[b].items]
        below = view.chain_below(region)
        part = slice_of(self.store, catalog, view.version, items, chain, view.whole, below)
        bundles: list[s.BundleHere] = []
        unavailable: list[s.BundleUnavailable] = []
        for bundle_id in ids:
            bundle = catalog.bundles[bundle_id]
            (row,) = bundle_checks(part, bundle_id, [region])
            version = view.versions[bundle_id]
            if row.error is not None:
                unavailable.append(
                    s.BundleUnavailable(
                        bundle_id, bundle.name, version, row.error.error, row.error.message, row.error.items
                    )
                )
            else:
                bundles.append(
                    s.BundleHere(
                        bundle_id,
                        bundle.name,
                        list(bundle.items),
                        bundle.description,
                        version,
                        s.BundleChecks([c.check for c in row.failed]),
                    )
                )
        return s.BundlesHere(region, bundles, unavailable)

    # -- one bundle, every region ---------------------------------------------------------
    async def rows(self, view: View, bundle_id: str, scope: str | None = None) -> list[RegionChecks]:
        """The bundle in every region where it is offered (`scope`: a county or a region below
        it whose townships and villages a lean view lists, `View.deep`), in code order."""
        catalog = view.require()
        if bundle_id not in catalog.bundles:
            raise unknown_bundle(bundle_id)
        if scope is None:
            return await self._kept(view, self._rows, bundle_id, self._compute_rows)
        return await self._kept(view, self._scoped, f"{bundle_id}\x00{scope}", self._compute_rows)

    def _compute_rows(self, view: View, key: str) -> list[RegionChecks]:
        """`key`: a bundle's id, and after a NUL the region of a scoped report."""
        from bundler import bundle_checks

        bundle_id, _, scope = key.partition("\x00")
        return bundle_checks(*self._offered(view, view.require().bundles[bundle_id], scope or None))

    def _offered(self, view: View, bundle: Bundle, root: str | None = None) -> tuple[Catalog, str, list[str]]:
        """What `bundle_checks` needs of a bundle in every region a report over `root` lists
        where it is offered: the slice (the bundle's items' implementations along the regions'
        chains, and a lean view's townships, villages and service points there), the bundle and
        the regions."""
        catalog = view.require()
        offered, points = offered_within(view, bundle, root)
        paths = [code for named in bundle.regions or () for code in view.path(named)]
        if view.whole:
            # offered everywhere (None): every region's implementations may count
            chains = None if bundle.regions is None else {*offered, *paths}
            part = slice_of(self.store, catalog, view.version, bundle.items, chains)
        else:  # the townships and villages: too many to name, the items' implementations fewer
            part = slice_of(self.store, catalog, view.version, bundle.items, None)
            above = [r for code in [*paths, *([root] if root else [])] for r in view.chain_below(code)]
            part = msgspec.structs.replace(
                part,
                regions={**catalog.regions, **{r.code: r for r in above}, **offered},
                service_points={**view.points_at(paths), **points},
            )
        part = msgspec.structs.replace(part, bundles={**part.bundles, bundle.id: bundle})  # a draft's
        return part, bundle.id, sorted(offered)

    async def coverage(self, view: View, items: Sequence[str]) -> list[RegionChecks]:
        """A draft (a list of items not yet saved as a bundle) in every region: where the
        designer's combination could be handled, before it is saved."""
        return await self._run(self._compute_coverage, view, list(items))

    DRAFT = "draft"

    def _compute_coverage(self, view: View, items: list[str]) -> list[RegionChecks]:
        from bundler import bundle_checks

        return bundle_checks(*self._offered(view, Bundle(id=self.DRAFT, name="草稿", items=items)))

    # -- the report -----------------------------------------------------------------------
    async def report(
        self,
        view: View,
        *,
        bundle: str | None = None,
        check: str | None = None,
        region: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> s.ChecksReport:
        """Every bundle (or `bundle`) × every region where it is offered (within `region` and
        everything under it), the rows failing `check` when given; one page of them."""
        catalog = view.require()
        if region is not None and not await self._run(view.knows, region):
            raise unknown_region(region)
        under = None if region is None else region_prefix(region)
        scope = view.scope(region)
        ids = [bundle] if bundle is not None else sorted(catalog.bundles)
        summary: list[s.BundleChecksSummary] = []
        kept: list[tuple[str, RegionChecks]] = []
        for bundle_id in ids:
            rows = await self.rows(view, bundle_id, scope)
            if under is not None:
                rows = [r for r in rows if r.region.startswith(under)]
            summary.append(summarise(catalog.bundles[bundle_id], rows))
            if check is not None:
                rows = [r for r in rows if any(c.check == check for c in r.failed)]
            kept.extend((bundle_id, r) for r in rows)
        return s.ChecksReport(
            revision=view.version,
            catalog_version=catalog.header.version,
            summary=summary,
            total=len(kept),
            limit=limit,
            offset=offset,
            rows=[s.CheckRow(b, r.region, list(r.failed), r.error) for b, r in kept[offset : offset + limit]],
        )


def summarise(bundle: Bundle, rows: Sequence[RegionChecks]) -> s.BundleChecksSummary:
    failed: dict[str, int] = {}
    errors: dict[str, int] = {}
    passing = 0
    for row in rows:
        if row.error is not None:
            errors[row.error.error] = errors.get(row.error.error, 0) + 1
        elif not row.failed:
            passing += 1
        for c in row.failed:
            failed[c.check] = failed.get(c.check, 0) + 1
    return s.BundleChecksSummary(bundle.id, bundle.name, len(rows), passing, failed, errors)
