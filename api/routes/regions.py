"""Regions: the tree, one region, and the items effective for it (each resolved, §4 step 1)."""

from __future__ import annotations

import bisect
from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from catalog.model import Level

from ..lru import MISSING, BoundedLRU
from ..problems import ErrorDetail, ProblemException
from ..schemas import EffectiveItemPage, RegionEntry, RegionNode, RegionOut, RegionPage, RegionTree
from ..services.reads import ReadsService
from ..view import View, Views
from .resource import Resource

Limit = Annotated[int, Parameter(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Parameter(ge=0, le=10_000_000, description="results to skip")]


def _region(view: View, code: FromPath[str]):
    catalog = view.require()
    region = catalog.regions.get(code)
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
        catalog = snap.require()
        if parent is not None:
            codes = snap.children.get(parent, [])
            if level is not None:
                codes = [c for c in codes if catalog.regions[c].level == level]
        else:
            codes = _of_level(snap, level)
        total = len(codes)
        if after is not None:
            codes = codes[bisect.bisect_right(codes, after) :]
        size = 100 if limit is None else limit
        page = codes[:size]
        entries = [
            RegionEntry(
                code=c,
                name=catalog.regions[c].name,
                level=catalog.regions[c].level,
                parent=catalog.regions[c].parent,
                children=len(snap.children.get(c, ())),
            )
            for c in page
        ]
        return RegionPage(
            total=total, limit=size, regions=entries, next=page[-1] if len(codes) > size else None
        )

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
        snap = await views.snapshot()
        region = _region(snap, code)
        return RegionOut(
            code=region.code,
            name=region.name,
            level=region.level,
            parent=region.parent,
            path=snap.path(code),
            children=list(snap.children.get(code, ())),
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
