"""The catalog as a whole: export a version as JSONL, publish a new one.

`PUT /catalog` takes a whole catalog file (application/x-ndjson, up to
`settings.max_catalog_body`, 2 GiB by default). The body is streamed to a
temporary file, never held in memory, then published as the command line does:
with an error finding — in the file, or in a stored bundle it does not redefine
— the answer is 422 with the findings and nothing changes; otherwise it becomes
the next version, written in one transaction, and the answer counts what changed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from litestar import Request, Response, get, put
from litestar.di import NamedDependency
from litestar.params import FromQuery, Parameter
from litestar.response import Stream
from litestar.response.base import ASGIResponse

from catalog import scratch

from ..auth import caller_of
from ..cache import not_modified
from ..problems import ErrorDetail, ProblemException
from ..schemas import PublishResult
from ..services.publishing import PublishingService
from ..services.reads import ReadsService
from ..view import Views, etag_digest
from .resource import Resource

NDJSON = "application/x-ndjson"


async def receive_file(request: Request, limit: int, suffix: str = ".jsonl") -> Path:
    """The request body in a temporary file named `…suffix` (the caller removes it), refused with
    413 past `limit` bytes — checked against Content-Length first, then as it streams in."""
    too_big = ProblemException(
        413,
        "BODY_TOO_LARGE",
        f"the body exceeds {limit} bytes",
        errors=[ErrorDetail(message=f"at most {limit} bytes", source="body")],
    )
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_big
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=suffix, dir=scratch.folder())
    size = 0
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_big
                out.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


class TypedStream(Stream):
    """A Stream that answers with its own media type (a Stream takes the handler's over its own)."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        kwargs["media_type"] = self.media_type
        return super().to_asgi_response(*args, **kwargs)


class CatalogController(Resource, path="/catalog", tag="catalog"):
    @get(
        summary="Export the newest version as JSONL (header first) or CPSV-AP 3.2.0, streamed",
        description="`format`: `jsonl` (this catalog format, the default), `cpsv-ap` (CPSV-AP 3.2.0 as "
        "JSON-LD with the official context), `turtle` (the same graph).",
        media_type=NDJSON,
        opt={"role": "portal"},
    )
    async def export(
        self,
        request: Request,
        views: NamedDependency[Views],
        reads: NamedDependency[ReadsService],
        format: FromQuery[Literal["jsonl", "cpsv-ap", "turtle"]] = "jsonl",
    ) -> Response:
        from catalog.cpsv import MEDIA_TYPES, export

        view = await views.snapshot()
        view.require()
        etag = f'"c{format[0]}{etag_digest(view.tag, sorted(view.versions.items()))}"'
        if hit := not_modified(request, etag):
            return hit
        lines = reads.export(view)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if format == "jsonl":
            return Stream(lines, media_type=NDJSON, headers=headers)
        return TypedStream(export(lines, format), media_type=MEDIA_TYPES[format], headers=headers)

    @put(
        summary="Publish a whole catalog (reviewer without a region) as the next version",
        description="Body: a catalog file (JSON Lines, onething-catalog/1), streamed to disk. 422 with the "
        "findings when any error is found; stored bundles the file does not redefine are kept and must "
        "still validate. A bundle designers edited or deleted through the API since a file last wrote it "
        "is kept as they left it (`kept_bundles`, one warning each) unless `take_bundles=true`. Only what "
        "changed is written.",
        opt={"role": "reviewer", "body": "ndjson", "unscoped": True},
        request_max_body_size=None,
    )
    async def publish(
        self,
        request: Request,
        publishing: NamedDependency[PublishingService],
        note: str = Parameter(default="", max_length=2000, description="why this version (kept with it)"),
        take_bundles: bool = Parameter(
            default=False,
            description="take the file's bundle records even over designers' edits made through the API since",
        ),
    ) -> PublishResult:
        path = await receive_file(request, request.app.state.settings.max_catalog_body)
        try:
            return await publishing.publish_file(
                path, by=caller_of(request).name, note=note, take_bundles=take_bundles
            )
        finally:
            path.unlink(missing_ok=True)
