"""HTTP caching: the workflow cache store, conditional requests (ETag, If-None-Match, If-Match).

Litestar sets no 304 on its own: `not_modified` answers If-None-Match, and
`if_match_version` turns a bundle's `If-Match: "<version>"` into the version the
store's compare-and-set needs (428 when it is missing, 412 when it is malformed
— a stale one is 412 from the store's CAS).
"""

from __future__ import annotations

from litestar import Request, Response
from litestar.stores.base import Store as CacheStore
from litestar.stores.memory import MemoryStore

from .problems import ErrorDetail, ProblemException


def cache_store(redis_url: str | None) -> tuple[CacheStore, str]:
    """The workflow cache: Redis when configured (shared by every instance), else in-process."""
    if redis_url:
        from litestar.stores.redis import RedisStore

        return RedisStore.with_client(url=redis_url, namespace="onething"), "redis"
    return MemoryStore(), "memory"


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison: W/"x" matches "x"."""
    if not header:
        return False
    bare = etag.removeprefix("W/")
    for tag in _tags(header):
        if tag == "*" or tag.removeprefix("W/") == bare:
            return True
    return False


def not_modified(request: Request, etag: str, cache_control: str = "no-cache") -> Response | None:
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(content=b"", status_code=304, headers={"ETag": etag, "Cache-Control": cache_control})
    return None


def version_etag(version: int) -> str:
    return f'"{version}"'


def if_match_version(request: Request) -> int | None:
    """The bundle version If-Match names; None for `*` (any current version)."""
    header = request.headers.get("if-match")
    if header is None:
        raise ProblemException(
            428,
            "PRECONDITION_REQUIRED",
            'send If-Match: "<version>" with the ETag you read, so no update is lost',
            errors=[ErrorDetail(message="missing", field="If-Match", source="header")],
        )
    tags = _tags(header)
    if tags == ["*"]:
        return None
    if len(tags) == 1:
        tag = tags[0]
        if tag.startswith('"') and tag.endswith('"') and tag[1:-1].isdigit() and len(tag) < 20:
            return int(tag[1:-1])
    raise ProblemException(
        412,
        "STALE_VERSION",
        f"If-Match {header!r} names no current version of this bundle",
        errors=[
            ErrorDetail(message='expected one strong ETag "<version>"', field="If-Match", source="header")
        ],
    )


class RawResponse:
    """A finished response as a bare ASGI app: for the cached-workflow hot path, where a body
    already encoded needs no rendering (Litestar's Response and ASGIResponse build header
    objects on every request). Route handlers return it with the annotation `ASGIResponse`."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, body: bytes, status: int, headers: list[tuple[bytes, bytes]]):
        self.body = body
        self.status = status
        self.headers = headers

    @classmethod
    def of(cls, body: bytes, status: int, media_type: str | None, headers: dict[str, str]) -> RawResponse:
        encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        if status != 304:
            encoded.append((b"content-type", (media_type or "application/json").encode("latin-1")))
            encoded.append((b"content-length", str(len(body)).encode()))
        return cls(body if status != 304 else b"", status, encoded)

    async def __call__(self, scope: dict, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})  # type: ignore[operator]
        body = b"" if scope.get("method") == "HEAD" else self.body
        await send({"type": "http.response.body", "body": body, "more_body": False})  # type: ignore[operator]
