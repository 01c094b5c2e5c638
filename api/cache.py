"""HTTP caching: the workflow cache store (behind a circuit breaker), conditional requests (ETag, If-None-Match, If-Match).

Litestar sets no 304 on its own: `not_modified` answers If-None-Match, and
`if_match_version` turns a bundle's `If-Match: "<version>"` into the version the
store's compare-and-set needs (428 when it is missing, 412 when it is malformed
— a stale one is 412 from the store's CAS).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Self, TypeVar

from litestar import Request, Response
from litestar.stores.base import Store as CacheStore
from litestar.stores.memory import MemoryStore

from .breaker import CircuitBreaker
from .problems import ErrorDetail, ProblemException

T = TypeVar("T")
log = logging.getLogger("onething.api")


def cache_store(
    redis_url: str | None, *, timeout: float = 0.3, reset_after: float = 10.0
) -> tuple[CacheStore, str]:
    """The workflow cache: Redis when configured (shared by every instance, behind a circuit
    breaker with short timeouts), else in-process."""
    if redis_url:
        return GuardedStore.redis(redis_url, timeout=timeout, reset_after=reset_after), "redis"
    return MemoryStore(), "memory"


class CacheUnavailable(Exception):
    """The shared cache is down (or its circuit is open)."""


class GuardedStore(CacheStore):
    """A cache store behind a circuit breaker. A cache is an optimisation, so when it fails
    `get` answers a miss and `set`/`delete` do nothing — without raising, so callers log
    nothing per request; the breaker logs each change of state once. `exists` (what
    `GET /health` asks) raises `CacheUnavailable`, so health can say the cache is down.
    Every call is bounded by `timeout` (a hung server costs at most that, and only until the
    breaker opens; then nothing)."""

    def __init__(self, inner: CacheStore, breaker: CircuitBreaker, timeout: float) -> None:
        self.inner = inner
        self.breaker = breaker
        self.timeout = timeout

    @classmethod
    def redis(cls, url: str, *, timeout: float, reset_after: float) -> GuardedStore:
        from litestar.stores.redis import RedisStore
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        client = Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        inner = RedisStore(client, namespace="onething")
        return cls(inner, CircuitBreaker("redis cache", reset_after=reset_after), timeout)

    async def _call(self, call: Callable[[], Awaitable[T]], default: T, *, strict: bool = False) -> T:
        if not self.breaker.allow():
            if strict:
                raise CacheUnavailable(f"the cache circuit is {self.breaker.state}")
            return default
        try:
            async with asyncio.timeout(self.timeout * 2):
                result = await call()
        except Exception as exc:
            self.breaker.failure(exc)
            if strict:
                raise CacheUnavailable(str(exc)) from exc
            return default
        self.breaker.success()
        return result

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        return await self._call(lambda: self.inner.get(key, renew_for), None)

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        await self._call(lambda: self.inner.set(key, value, expires_in), None)

    async def delete(self, key: str) -> None:
        await self._call(lambda: self.inner.delete(key), None)

    async def delete_all(self) -> None:
        await self._call(self.inner.delete_all, None)

    async def exists(self, key: str) -> bool:
        return await self._call(lambda: self.inner.exists(key), False, strict=True)

    async def expires_in(self, key: str) -> int | None:
        return await self._call(lambda: self.inner.expires_in(key), None)

    async def __aenter__(self) -> Self:  # type: ignore[override]  # litestar says None; we give self
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.inner.__aexit__(None, None, None)  # type: ignore[attr-defined]
        except Exception:
            log.debug("closing the cache connection failed", exc_info=True)


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison: W/"x" matches "x"."""
    if not header:
        return False
    bare = etag.removeprefix("W/")
    return any(tag == "*" or tag.removeprefix("W/") == bare for tag in _tags(header))


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
        f'If-Match {header!r} 不是这个一件事的某一版：应为读取时的 ETag，如 "3"',
        errors=[ErrorDetail(message='应为一个强 ETag，如 "3"', field="If-Match", source="header")],
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
