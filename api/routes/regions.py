"""Regions: the tree, one region, and the items effective for it (each resolved, §4 step 1)."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from ..problems import ErrorDetail, ProblemException
from ..schemas import EffectiveItemPage, RegionNode, RegionOut, RegionTree
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


class RegionController(Resource, path="/regions", tag="regions", role="portal", public=True):
    @get(summary="The region tree (000000 at the root)")
    async def tree(self, views: NamedDependency[Views]) -> RegionTree:
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
