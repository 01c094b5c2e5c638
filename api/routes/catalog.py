"""The catalog as a whole: export it as JSONL, publish a new one (all or nothing).

`PUT /catalog` takes a whole catalog file (application/x-ndjson, up to
`settings.max_catalog_body`, 64 MiB by default). With an error finding — in the
file, or once the stored bundles it does not redefine are kept beside it — the
answer is 422 with the findings and nothing changes; otherwise one transaction
replaces the catalog and the answer lists the warnings.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency

from ..cache import not_modified
from ..problems import ErrorDetail, ProblemException
from ..schemas import PublishResult
from ..state import CatalogService, _digest

NDJSON = "application/x-ndjson"


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past `limit` bytes (checked as it streams in)."""
    length = request.headers.get("content-length")
    too_big = ProblemException(
        413,
        "BODY_TOO_LARGE",
        f"the body exceeds {limit} bytes",
        errors=[ErrorDetail(message=f"at most {limit} bytes", source="body")],
    )
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


class CatalogController(Controller):
    path = "/catalog"
    tags = ("catalog",)

    @get(
        "/",
        summary="Export the catalog as JSONL (header first)",
        media_type=NDJSON,
        opt={"role": "portal"},
    )
    async def export(
        self, request: Request, catalog_service: NamedDependency[CatalogService]
    ) -> Response[bytes]:
        snap = await catalog_service.snapshot()
        snap.require()
        etag = f'"c{_digest(snap.tag, sorted(snap.versions.items()))}"'
        if hit := not_modified(request, etag):
            return hit
        return Response(
            content=snap.export(), media_type=NDJSON, headers={"ETag": etag, "Cache-Control": "no-cache"}
        )

    @put(
        "/",
        summary="Publish a whole catalog (reviewer): all or nothing",
        description="Body: a catalog file (JSON Lines, onething-catalog/1). 422 with the findings when any "
        "error is found; stored bundles the file does not redefine are kept and must still validate.",
        opt={"role": "reviewer", "body": "ndjson"},
        request_max_body_size=None,
    )
    async def publish(
        self, request: Request, catalog_service: NamedDependency[CatalogService]
    ) -> PublishResult:
        body = await read_limited(request, request.app.state.settings.max_catalog_body)
        return await catalog_service.publish(body)
