"""Workflows (§4): a bundle's for a region, its printable guide, and an ad-hoc list's.

GET responses carry an ETag derived from the catalog's content, the bundle's
version and the region; `If-None-Match` with it answers 304 without computing
anything. `X-Cache: hit|miss` says whether the shared cache had it.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter
from litestar.response.base import ASGIResponse

from bundler import Workflow

from ..cache import RawResponse, etag_matches
from ..schemas import WorkflowRequest
from ..state import CatalogService, Computed

Region = Annotated[str, Parameter(min_length=1, max_length=16, description="the applicant's region code")]
CACHE_CONTROL = "private, no-cache"


def _respond(computed: Computed, status: int = 200) -> ASGIResponse:
    # An ASGIResponse goes out as it is: the hot path of a cached fetch skips Response rendering.
    return RawResponse.of(  # type: ignore[return-value]
        computed.body,
        status,
        computed.media_type,
        {
            "ETag": computed.etag,
            "Cache-Control": CACHE_CONTROL,
            "X-Cache": "hit" if computed.hit else "miss",
        },
    )


def _not_modified(etag: str) -> ASGIResponse:
    return RawResponse.of(b"", 304, None, {"ETag": etag, "Cache-Control": CACHE_CONTROL})  # type: ignore[return-value]


async def _conditional(
    request: Request, catalog_service: CatalogService, bundle_id: str, region: str, what: str
) -> ASGIResponse:
    """304 when the client's copy is current (decided without composing), else the body."""
    snap = await catalog_service.snapshot()
    etag = catalog_service.workflow_etag(snap, bundle_id, region, what)
    if etag is not None and etag_matches(request.headers.get("if-none-match"), etag):
        return _not_modified(etag)
    compute = catalog_service.guide if what == "guide" else catalog_service.workflow
    return _respond(await compute(bundle_id, region, snap))


def _documented(what: type, description: str) -> dict[int, ResponseSpec]:
    return {200: ResponseSpec(data_container=what, description=description)}


class BundleWorkflowController(Controller):
    path = "/bundles/{bundle_id:str}"
    tags = ("workflows",)
    opt = {"role": "portal"}  # noqa: RUF012

    @get(
        "/workflow",
        summary="The bundle's workflow for a region (§4 document)",
        responses=_documented(Workflow, "the workflow document; ETag, X-Cache: hit|miss"),
    )
    async def workflow(
        self,
        request: Request,
        catalog_service: NamedDependency[CatalogService],
        bundle_id: FromPath[str],
        region: Region,
    ) -> ASGIResponse:
        return await _conditional(request, catalog_service, bundle_id, region, "workflow")

    @get(
        "/guide",
        summary="The bundle's printable guide for a region (HTML)",
        media_type="text/html",
        responses={200: ResponseSpec(data_container=str, media_type="text/html", description="the guide")},
    )
    async def guide(
        self,
        request: Request,
        catalog_service: NamedDependency[CatalogService],
        bundle_id: FromPath[str],
        region: Region,
    ) -> ASGIResponse:
        return await _conditional(request, catalog_service, bundle_id, region, "guide")


class WorkflowController(Controller):
    path = "/workflows"
    tags = ("workflows",)
    opt = {"role": "portal"}  # noqa: RUF012

    @post(
        "/",
        summary="The workflow for an ad-hoc list of items",
        status_code=200,
        responses=_documented(Workflow, "the workflow document"),
    )
    async def adhoc(
        self, catalog_service: NamedDependency[CatalogService], data: JSONBody[WorkflowRequest]
    ) -> ASGIResponse:
        return _respond(await catalog_service.adhoc_workflow(list(data.items), data.region))
