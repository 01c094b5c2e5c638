"""Bundles (一件事): list, read, create, replace and delete — versioned, no lost update.

A region-scoped designer writes only bundles offered within its region (`regions` inside its
subtree, before and after): 403 otherwise. Each bundle has a version; its ETag is `"<version>"`. PUT and DELETE need
`If-Match` with that ETag: 428 without it, 412 when another write came first
(the store's compare-and-set decides, so two writers can never both win).
"""

from __future__ import annotations

from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from ..auth import caller_of
from ..cache import if_match_version, not_modified, version_etag
from ..schemas import BundleCreate, BundleId, BundleList, BundleOut, BundleReplace, BundlesHere, bundle_out
from ..services.bundles import BundleService
from ..services.checks import ChecksService
from ..services.lifecycle import LifecycleService
from ..view import Views
from .resource import Resource

WRITE = {"role": "designer"}


class BundleController(Resource, path="/bundles", tag="bundles", role="portal", public=True):
    @get(
        summary="All bundles, or those offered in a region with their checks there",
        description="Without `region`: every bundle. With `region`: the bundles offered there "
        "(a bundle's `regions` and everything under them; none: everywhere) — `bundles` those "
        "that can be composed there, each with the §4.1 checks that fail there "
        "(`checks.failed`), `unavailable` those that cannot (the bundling error's code).",
    )
    async def list_bundles(
        self,
        views: NamedDependency[Views],
        checks: NamedDependency[ChecksService],
        region: str | None = Parameter(
            default=None, min_length=1, max_length=16, description="the applicant's region code"
        ),
    ) -> BundleList | BundlesHere:
        snap = await views.snapshot()
        catalog = snap.require()
        if region is not None:
            return await checks.here(snap, region)
        return BundleList(
            bundles=[bundle_out(catalog.bundles[b], snap.versions[b]) for b in sorted(catalog.bundles)]
        )

    @get("/{bundle_id:str}", summary="One bundle (ETag: its version)")
    async def read(
        self, request: Request, bundles: NamedDependency[BundleService], bundle_id: FromPath[str]
    ) -> Response[BundleOut]:
        bundle = await bundles.bundle(bundle_id)
        etag = version_etag(bundle.version)
        return not_modified(request, etag) or Response(
            bundle, headers={"ETag": etag, "Cache-Control": "no-cache"}
        )

    @post(summary="Create a bundle (designer)", opt=WRITE, status_code=201)
    async def create(
        self,
        request: Request,
        bundles: NamedDependency[BundleService],
        lifecycle: NamedDependency[LifecycleService],
        data: JSONBody[BundleCreate],
    ) -> Response[BundleOut]:
        await lifecycle.bundle_in_scope(caller_of(request), data.regions)
        bundle = await bundles.create_bundle(data)
        return Response(
            bundle,
            status_code=201,
            headers={"ETag": version_etag(bundle.version), "Location": f"/bundles/{bundle.id}"},
        )

    @put("/{bundle_id:str}", summary="Replace a bundle (designer; If-Match required)", opt=WRITE)
    async def replace(
        self,
        request: Request,
        bundles: NamedDependency[BundleService],
        lifecycle: NamedDependency[LifecycleService],
        bundle_id: FromPath[BundleId],
        data: JSONBody[BundleReplace],
    ) -> Response[BundleOut]:
        await lifecycle.stored_bundle_in_scope(caller_of(request), bundle_id)
        await lifecycle.bundle_in_scope(caller_of(request), data.regions)
        version = if_match_version(request)
        if version is None:  # If-Match: * — whatever version is current now, still compare-and-set
            version = await bundles.current_version(bundle_id)
        bundle = await bundles.replace_bundle(bundle_id, data, version)
        return Response(bundle, headers={"ETag": version_etag(bundle.version)})

    @delete(
        "/{bundle_id:str}",
        summary="Delete a bundle (designer; If-Match required)",
        opt=WRITE,
        status_code=204,
    )
    async def remove(
        self,
        request: Request,
        bundles: NamedDependency[BundleService],
        lifecycle: NamedDependency[LifecycleService],
        bundle_id: FromPath[str],
    ) -> None:
        await lifecycle.stored_bundle_in_scope(caller_of(request), bundle_id)
        version = if_match_version(request)
        if version is None:
            version = await bundles.current_version(bundle_id)
        await bundles.delete_bundle(bundle_id, version)
