"""Catalog reads through the view and indexed store queries: what an applicant in a region can
apply for (§4 step 1), item search, an item's implementations side by side with what the
validator found, the stored report, the export. Everything that grows with the catalog is an
indexed, paged query, run off the event loop."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from catalog.codes import region_prefix
from catalog.findings import Conformity
from catalog.model import Catalog, Implementation, Level, Region, requirements_of
from catalog.store.reads import StoredFinding

from .. import schemas as s
from ..lru import MISSING
from ..schemas import conformity_out, finding_out
from ..view import View
from .base import off_loop

if TYPE_CHECKING:
    from catalog.store import Store
    from catalog.store.reads import Placement


class ReadsService:
    """Indexed reads of the view's version."""

    def __init__(self, store: Store):
        self.store = store

    _run = staticmethod(off_loop)

    async def effective(self, view: View, region: str) -> list[s.EffectiveItem]:
        """Every item an applicant in `region` can apply for, each resolved as §4 step 1 says."""
        cached = view.effective_cache.get(region)
        if cached is not MISSING:
            return cached
        catalog = view.require()
        path = view.path(region)
        store, version = self.store, view.version
        # Read and resolved off the event loop: thousands of rows on a county's path, which would
        # hold every other request for as long (issue 18, point 7).
        levels = {code: found.level for code in path if (found := view.region(code)) is not None}
        out = await self._run(lambda: _effective_items(catalog, levels, store.placements(version, path)))
        view.effective_cache.put(region, out)
        return out

    async def search(
        self,
        view: View,
        q: str | None = None,
        code: str | None = None,
        type_: str | None = None,
        region: str | None = None,
        owner: str | None = None,
    ) -> list[s.ItemSummary]:
        """Items whose name contains `q` (case-insensitive), whose code starts with `code`, of
        `type_`, owned by `owner`, and (with `region`) that an applicant there can apply for."""
        catalog = view.require()
        needle = q.casefold() if q else None
        effective = {e.item for e in await self.effective(view, region)} if region else None
        out = []
        for item_code in sorted(catalog.items):
            item = catalog.items[item_code]
            if code and not item_code.startswith(code):
                continue
            if type_ and item.type != type_:
                continue
            if owner and item.owner != owner:
                continue
            if needle and needle not in item.name.casefold():
                continue
            if effective is not None and item_code not in effective:
                continue
            out.append(
                s.ItemSummary(
                    code=item.code,
                    name=item.name,
                    type=item.type,
                    owner=item.owner,
                    main=item.main,
                    levels=list(item.levels),
                    statutory_days=item.statutory_days,
                    implementations=view.item_counts.get(item_code, 0),
                )
            )
        return out

    async def item_detail(
        self, view: View, code: str, limit: int = 100, offset: int = 0, *, flagged_first: bool = False
    ) -> s.ItemDetail | None:
        """An item with one page of its implementations side by side (national first, then by
        region), each with what the validator found about it. `flagged_first`: the page starts
        with the implementations that have findings (what a reviewer came for), then the rest."""
        catalog = view.require()
        item = catalog.items.get(code)
        if item is None:
            return None
        store, version = self.store, view.version

        def read() -> tuple[int, list[Implementation], list[StoredFinding], dict[str, Region]]:
            total, rows = store.item_implementations(version, code, limit=limit, offset=offset)
            page = [impl for impl, _ in rows]
            if flagged_first:
                flagged = store.findings(version, kind="implementation", item=code, limit=1000)[1]
                codes = list(dict.fromkeys(f.key for f in flagged if f.key))[:limit]
                first = store.implementations(version, codes=codes) if codes else []
                page = (first + [i for i in page if i.code not in set(codes)])[:limit]
            keys = [impl.code for impl in page]
            found = store.findings(version, kind="implementation", keys=keys, limit=1000)[1] if keys else []
            # a township's or village's implementation: its region read by key in a lean view
            where = {impl.region: r for impl in page if (r := view.region(impl.region)) is not None}
            return total, page, found, where

        total, page, found, where = await self._run(read)
        by_key: dict[str, list[s.FindingOut]] = {}
        for f in found:
            by_key.setdefault(f.key or "", []).append(finding_out(f))
        views = []
        for impl in page:
            region = where.get(impl.region)
            views.append(
                s.ImplementationView(
                    implementation=impl,
                    region_name=region.name if region else "",
                    level=region.level if region else "county",
                    requirements=requirements_of(impl, item),
                    findings=by_key.get(impl.code, []),
                )
            )
        return s.ItemDetail(item=item, total=total, limit=limit, offset=offset, implementations=views)

    async def implementation(
        self, view: View, code: str
    ) -> tuple[Implementation, int | None, list[StoredFinding]] | None:
        def read() -> tuple[Implementation, int | None, list[StoredFinding]] | None:
            found = self.store.implementation(view.version, code)
            if found is None:
                return None
            findings = self.store.findings(view.version, kind="implementation", keys=[code])[1]
            return found[0], found[1], findings

        view.require()
        return await self._run(read)

    async def findings(self, view: View, **filters: Any) -> tuple[int, list[StoredFinding]]:
        """One page of the version's findings (filters as `catalog.store.reads.findings`)."""
        view.require()
        return await self._run(lambda: self.store.findings(view.version, **filters))

    async def report(
        self,
        view: View,
        *,
        rule: str | None = None,
        severity: str | None = None,
        region: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> s.ValidationReport:
        """The version's stored report as a reviewer asks for it: filtered, paged, with conformity."""
        catalog = view.require()
        prefix = None if region is None else region_prefix(region)

        def read() -> tuple[int, list[StoredFinding], list[Conformity]]:
            total, page = self.store.findings(
                view.version, rule=rule, severity=severity, region_prefix=prefix, limit=limit, offset=offset
            )
            return total, page, self.store.conformity(view.version, prefix)

        total, page, conformity = await self._run(read)
        errors, warnings = view.totals
        return s.ValidationReport(
            revision=view.version,
            catalog_version=catalog.header.version,
            summary=s.SummaryOut(errors=errors, warnings=warnings),
            total=total,
            findings=[finding_out(f) for f in page],
            conformity=conformity_out(conformity),
        )

    async def rule_counts(self, view: View) -> dict[str, int]:
        view.require()
        return await self._run(self.store.rule_counts, view.version)

    async def conformity(self, view: View) -> list[Conformity]:
        """The conformity rows of the regions the view holds (a lean view's: down to the county,
        read by key, not the half million below)."""
        catalog = view.require()
        held = None if view.whole else list(catalog.regions)
        return await self._run(lambda: self.store.conformity(view.version, regions=held))

    def export(self, view: View) -> Iterator[bytes]:
        """The version as JSONL, streamed from the store (iterated off the event loop)."""
        view.require()
        return self.store.export(view.version)


def _effective_items(
    catalog: Catalog, path: Mapping[str, Level], impls: Sequence[Placement]
) -> list[s.EffectiveItem]:
    """§4 step 1 for every item on the path (the region first, then its ancestors, each with its
    level): each item's implementation in the nearest region that has one, the smallest code
    among several there (as `bundler.graph.resolve`, in one pass over the rows rather than an
    index of them)."""
    rank = {region: k for k, region in enumerate(path)}
    nearest: dict[str, tuple[int, str, Placement]] = {}
    items = catalog.items
    for impl in impls:
        if impl.item not in items:
            continue
        key = (rank.get(impl.region, len(rank)), impl.code, impl)
        held = nearest.get(impl.item)
        if held is None or key[:2] < held[:2]:
            nearest[impl.item] = key
    codes = sorted(nearest)
    resolved = {code: nearest[code][2] for code in codes}
    out = []
    for code in codes:
        impl = resolved[code]
        item = catalog.items[code]
        out.append(
            s.EffectiveItem(
                item=code,
                name=item.name,
                type=item.type,
                implementation=impl.code,
                region=impl.region,
                level=path.get(impl.region, "national"),
                agency=impl.agency,
                promised_days=impl.promised_days,
                visits=impl.visits,
                online_depth=impl.online_depth,
                fee=float(impl.fee),
            )
        )
    return out
