"""A region's implementation list as a spreadsheet to fill in: `.xlsx` (the default) or `.csv`.

One row per implementation of the region and the regions under it, and a template row per item
the region could implement and does not yet (`catalog.sheet`). The filled sheet goes back through
`PUT /regions/{code}/implementations` or `POST /submissions` with its own media type. The rows
are read region by region from the store into a temporary file (never the catalog in memory),
then streamed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal
from urllib.parse import quote

import anyio.to_thread
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from catalog.sheet import MEDIA_TYPES

from ..cache import not_modified
from ..services.publishing import PublishingService
from ..view import Views, etag_digest
from .catalog import TypedStream
from .regions import snapshot_within
from .resource import Resource

CHUNK = 1 << 16


def disposition(code: str, version: int, fmt: str) -> str:
    """`attachment` with an ASCII name and the Chinese one (RFC 6266, RFC 5987 encoding)."""
    name = f"实施清单-{code}-v{version}.{fmt}"
    return f"attachment; filename=\"sheet-{code}-v{version}.{fmt}\"; filename*=UTF-8''{quote(name)}"


async def _chunks(fh: Any) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(fh.read, CHUNK):
            yield chunk
    finally:
        fh.close()


def sheet_stream(fh: Any, fmt: str, headers: dict[str, str]) -> Response:
    """The sheet in `fh` (an open temporary file, closed once sent) as the response."""
    return TypedStream(_chunks(fh), media_type=MEDIA_TYPES[fmt], headers=headers)


class RegionSheetController(
    Resource, path="/regions/{code:str}/implementations/sheet", tag="submissions", role="portal"
):
    @get(
        summary="A region's implementation list as a sheet to fill in (.xlsx or .csv)",
        description="`format`: `xlsx` (the default; with a 说明 worksheet on how to fill it in) or `csv` "
        "(UTF-8 with a byte order mark). A row per implementation of the region and those under it, then "
        "a template row per item the region could implement; send it back filled in to `PUT "
        "/regions/{code}/implementations` or `POST /submissions` with the same media type.",
        media_type=MEDIA_TYPES["xlsx"],
    )
    async def sheet(
        self,
        request: Request,
        views: NamedDependency[Views],
        publishing: NamedDependency[PublishingService],
        code: FromPath[str],
        format: FromQuery[Literal["xlsx", "csv"]] = "xlsx",
    ) -> Response:
        view = await snapshot_within(views, code)
        etag = f'"s{format[0]}{etag_digest(view.tag, code)}"'
        if hit := not_modified(request, etag):
            return hit
        fh = await publishing.sheet_file(view, code, format)
        headers = {
            "ETag": etag,
            "Cache-Control": "no-cache",
            "Content-Disposition": disposition(code, view.version, format),
        }
        return sheet_stream(fh, format, headers)
