"""Regions: the tree, one region, and the items effective for it (each resolved, §4 step 1)."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Annotated

import anyio.to_thread
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from catalog.codes import REGION_LENGTH
from catalog.model import Level, Region

from ..lru import MISSING, BoundedLRU
from ..problems import ErrorDetail, ProblemException
from ..schemas import EffectiveItemPage, RegionEntry, RegionNode, RegionOut, RegionPage, RegionTree
from ..services.reads import ReadsService
from ..view import View, Views
from .resource import Resource

Limit = Annotated[int, Parameter(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Parameter(ge=0, le=10_000_000, description="results to skip")]


def _region(view: View, code: FromPath[str]) -> Region:
    region = view.region(code)
    if region is None:
        raise ProblemException(
            404,
            "UNKNOWN_REGION",
            f"no region {code!r}",
            errors=[ErrorDetail(message="no such region", kind="region", key=code)],
        )
    return region


async def snapshot_within(views: Views, region: str | None) -> View:
    """The newest version's view, once `region` (when named) is known to be one of its regions
    (404 `UNKNOWN_REGION` when not)."""
    view = await views.snapshot()
    if region is not None:
        await views.locate(view, region)
        _region(view, region)
    return view


_LEVELS: BoundedLRU[tuple[int, str, str | None], list[str]] = BoundedLRU(8)
"""A version's regions of a level (None: all) in code order, sorted once, not per page."""


def _of_level(snap: View, level: str | None) -> list[str]:
    key = (snap.version, snap.tag, level)
    found = _LEVELS.get(key)
    if found is MISSING:
        regions = snap.require().regions
        found = sorted(c for c, r in regions.items() if level is None or r.level == level)
        _LEVELS.put(key, found)
    return found


HELD_LEVELS = frozenset(("national", "province", "city", "county"))
"""The levels every view holds; a lean view pages the others (and all levels at once) from the store."""
_TOTALS: BoundedLRU[tuple[int, str, str | None], int] = BoundedLRU(8)
"""A lean view's count of a level's regions (None: all), counted once per version."""


def _stored_page(
    snap: View, level: str | None, after: str | None, size: int
) -> tuple[int, list[Region], bool]:
    """A lean view's page of townships, villages or all regions, read by key from the store:
    (total, the page, whether more follow)."""
    assert snap.lean is not None
    length = None if level is None else REGION_LENGTH[level]
    key = (snap.version, snap.tag, level)
    total = _TOTALS.get(key)
    if total is MISSING:
        total = snap.lean.region_count(snap.version, length)
        _TOTALS.put(key, total)
    rows = snap.lean.regions_page(snap.version, length, after, size + 1)
    return total, rows[:size], len(rows) > size


class RegionController(Resource, path="/regions", tag="regions", role="portal", public=True):
    @get(
        summary="The region tree (000000 at the root), or one page of a level's or a parent's regions",
        description="Without `level`, `parent`, `limit` or `after`: the whole tree, as before. With any "
        "of them: a page of the regions of that level and/or directly under that parent, by code, each "
        "with how many children it has; `next` is the following page's `after`.",
    )
    async def tree(
        self,
        views: NamedDependency[Views],
        level: Annotated[Level | None, Parameter(description="only regions of this level")] = None,
        parent: Annotated[
            str | None, Parameter(min_length=1, max_length=16, description="only regions directly under it")
        ] = None,
        limit: Annotated[int | None, Parameter(ge=1, le=1000, description="page size (default 100)")] = None,
        after: Annotated[
            str | None, Parameter(min_length=1, max_length=16, description="a page's `next`")
        ] = None,
    ) -> RegionTree | RegionPage:
        if level is None and parent is None and limit is None and after is None:
            return await self._whole(views)
        snap = await snapshot_within(views, parent)
        size = 100 if limit is None else limit
        if parent is None and snap.lean is not None and level not in HELD_LEVELS:
            total, page, more = await anyio.to_thread.run_sync(_stored_page, snap, level, after, size)
        else:
            found: Mapping[str, Region]
            if parent is not None:
                kids = await anyio.to_thread.run_sync(snap.kids, parent)
                found = {r.code: r for r in kids if level is None or r.level == level}
                codes = list(found)
            else:
                found, codes = snap.require().regions, _of_level(snap, level)
            total = len(codes)
            if after is not None:
                codes = codes[bisect.bisect_right(codes, after) :]
            page, more = [found[c] for c in codes[:size]], len(codes) > size
        counts = await anyio.to_thread.run_sync(snap.kid_counts, [r.code for r in page])
        entries = [
            RegionEntry(
                code=r.code, name=r.name, level=r.level, parent=r.parent, children=counts.get(r.code, 0)
            )
            for r in page
        ]
        return RegionPage(total=total, limit=size, regions=entries, next=page[-1].code if more else None)

    async def _whole(self, views: Views) -> RegionTree:
        snap = await views.snapshot()
        catalog = snap.require()

        def node(code: FromPath[str], seen: set[str]) -> RegionNode:
            region = catalog.regions[code]
            seen.add(code)
            kids = [node(c, seen) for c in snap.children.get(code, ()) if c not in seen]
            return RegionNode(code=region.code, name=region.name, level=region.level, children=kids)

        seen: set[str] = set()
        roots = [
            node(code, seen)
            for code in sorted(catalog.regions)
            if catalog.regions[code].parent is None or catalog.regions[code].parent not in catalog.regions
        ]
        return RegionTree(roots=roots, count=len(catalog.regions))

    @get("/{code:str}", summary="One region, its path to the root and its children")
    async def one(self, views: NamedDependency[Views], code: FromPath[str]) -> RegionOut:
        snap = await snapshot_within(views, code)
        region = _region(snap, code)
        return RegionOut(
            code=region.code,
            name=region.name,
            level=region.level,
            parent=region.parent,
            path=snap.path(code),
            children=[r.code for r in await anyio.to_thread.run_sync(snap.kids, code)],
        )

    @get(
        "/{code:str}/items",
        summary="Items effective in a region",
        description="Each item resolved to the implementation nearest the region "
        "(county → city → province → national); items implemented nowhere on the path are left out.",
    )
    async def items(
        self,
        views: NamedDependency[Views],
        reads: NamedDependency[ReadsService],
        code: FromPath[str],
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> EffectiveItemPage:
        view = await snapshot_within(views, code)
        found = await reads.effective(view, code)
        return EffectiveItemPage(
            region=code, total=len(found), limit=limit, offset=offset, items=found[offset : offset + limit]
        )
