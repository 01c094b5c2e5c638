"""Items: search with pagination, and one item with its implementations side by side."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from catalog.model import ItemType

from ..schemas import ItemDetail, ItemPage
from ..services.errors import not_found
from ..services.reads import ReadsService
from ..view import Views
from .regions import snapshot_within
from .resource import Resource

Limit = Annotated[int, Parameter(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Parameter(ge=0, le=10_000_000, description="results to skip")]


class ItemController(Resource, path="/items", tag="items", role="portal", public=True):
    @get(summary="Search items")
    async def search(
        self,
        views: NamedDependency[Views],
        reads: NamedDependency[ReadsService],
        q: Annotated[str | None, Parameter(max_length=200, description="substring of the item name")] = None,
        code: Annotated[str | None, Parameter(max_length=32, description="item code prefix")] = None,
        type: Annotated[ItemType | None, Parameter(description="item-type code (§2)")] = None,
        region: Annotated[
            str | None, Parameter(max_length=16, description="only items effective there")
        ] = None,
        owner: Annotated[str | None, Parameter(max_length=16, description="the defining region")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ItemPage:
        view = await snapshot_within(views, region)
        found = await reads.search(view, q=q, code=code, type_=type, region=region, owner=owner)
        return ItemPage(total=len(found), limit=limit, offset=offset, items=found[offset : offset + limit])

    @get(
        "/{code:str}",
        summary="One item with a page of its implementations side by side",
        description="Implementations national first, then by region and code; `total` counts them all.",
    )
    async def one(
        self,
        views: NamedDependency[Views],
        reads: NamedDependency[ReadsService],
        code: FromPath[str],
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> ItemDetail:
        view = await views.snapshot()
        detail = await reads.item_detail(view, code, limit=limit, offset=offset)
        if detail is None:
            raise not_found("item", code)
        return detail
