"""HTTP caching: the workflow cache store (behind a circuit breaker), conditional requests (ETag,
If-None-Match, If-Match), and cached workflow answers replayed in front of Litestar (`CachedAnswers`).

Litestar sets no 304 on its own: `not_modified` answers If-None-Match, and
`if_match_version` turns a bundle's `If-Match: "<version>"` into the version the
store's compare-and-set needs (428 when it is missing, 412 when it is malformed
— a stale one is 412 from the store's CAS).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Self, TypeVar

from litestar import Request, Response
from litestar.stores.base import Store as CacheStore
from litestar.stores.memory import MemoryStore

from .breaker import CircuitBreaker
from .problems import ErrorDetail, ProblemException
from .ratelimit import bearer

if TYPE_CHECKING:
    from .auth import TokenChecker
    from .proxies import TrustedProxies
    from .ratelimit import TokenBuckets

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


Heads = tuple[int, int]


class _Answer:
    """A cached workflow GET as Litestar answered it, for one (path, query) and heads."""

    __slots__ = ("etag", "heads", "not_modified", "ok")

    def __init__(self, heads: Heads, etag: str) -> None:
        self.heads = heads
        self.etag = etag
        self.ok: tuple[list[tuple[bytes, bytes]], bytes] | None = None
        self.not_modified: list[tuple[bytes, bytes]] | None = None


class CachedAnswers:
    """In front of Litestar: a cached workflow or guide GET answered from memory, with the very
    bytes Litestar sent for it (status line, every header — security headers, Cache-Control,
    ETag, X-Cache: hit — and body), as captured from Litestar's own answer under the same
    (path, query string, heads). Litestar's routing, middleware and hooks cost a cached fetch
    three quarters of its throughput; this costs a dict lookup.

    Replayed only when nothing else could change the answer: a GET of `routes`, no cookie, and
    either no `Authorization` (public reads on) or a bearer token this process already knows
    valid (`TokenChecker.cached`); the heads known without a read (`Heads.known`); the client
    within its rate limit (counted as Litestar would: `api.ratelimit`). `If-None-Match` gets the
    captured 304 when it matches. Anything else — a miss, a 304 or a 200 not captured yet,
    a token to look up, a client past its limit — goes to Litestar, whose answer is captured
    when it is a cache hit (200 with `X-Cache: hit`) or a 304 and the heads did not move meanwhile."""

    SIZE = 512

    def __init__(
        self,
        slow: Callable[[Any, Any, Any], Awaitable[None]],
        *,
        routes: re.Pattern[str],
        heads: Callable[[], Heads | None],
        public_read: bool,
        tokens: TokenChecker,
        buckets: TokenBuckets | None,
        count_tokens: bool,
        trusted: TrustedProxies,
    ) -> None:
        self.slow = slow
        self.routes = routes
        self.heads = heads
        self.public_read = public_read
        self.tokens = tokens
        self.buckets = buckets
        self.count_tokens = count_tokens
        self.trusted = trusted
        self._answers: dict[tuple[str, bytes], _Answer] = {}
        self.replayed = 0
        """Answers sent from memory (for tests)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["method"] != "GET" or not self.routes.match(scope["path"]):
            return await self.slow(scope, receive, send)
        heads = self.heads()
        if heads is None:
            return await self.slow(scope, receive, send)
        if_none_match = authorization = None
        forwarded: list[bytes] = []
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value
            elif name == b"authorization":
                authorization = value
            elif name == b"x-forwarded-for":
                forwarded.append(value)
            elif name == b"cookie":
                return await self.slow(scope, receive, send)
        key = (scope["path"], scope["query_string"])
        answer = self._answers.get(key)
        if answer is None or answer.heads != heads:
            return await self._capture(key, heads, scope, receive, send)
        counted = True
        if authorization is not None:
            token = bearer(scope["headers"])
            caller = self.tokens.cached(token) if token is not None else None
            if not caller:  # unknown yet, or invalid: Litestar looks it up, or refuses it
                return await self.slow(scope, receive, send)
            counted = self.count_tokens
        elif not self.public_read:
            return await self.slow(scope, receive, send)
        headers: list[tuple[bytes, bytes]] | None = None
        if if_none_match is not None and etag_matches(if_none_match.decode("latin-1"), answer.etag):
            status, headers, body = 304, answer.not_modified, b""
        elif answer.ok is not None:
            status, (headers, body) = 200, answer.ok
        if headers is None:
            return await self._capture(key, heads, scope, receive, send)
        if counted and self.buckets is not None and self.buckets.take(self._client(scope, forwarded)):
            return await self.slow(scope, receive, send)  # past the limit: Litestar's 429
        self.replayed += 1
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    def _client(self, scope: Any, forwarded: list[bytes]) -> str:
        """The client as `api.proxies.ProxyHeaders` would name it."""
        peer = scope.get("client")
        host = peer[0] if peer else "unknown"
        if forwarded and host in self.trusted:
            return self.trusted.client(host, b",".join(forwarded).decode("latin-1")) or host
        return host

    async def _capture(
        self, key: tuple[str, bytes], heads: Heads, scope: Any, receive: Any, send: Any
    ) -> None:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capturing(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.slow(scope, receive, capturing)
        status = start.get("status")
        headers: list[tuple[bytes, bytes]] = list(start.get("headers", ()))
        if status not in (200, 304) or self.heads() != heads:
            return
        found = {k.lower(): v for k, v in headers}
        etag = found.get(b"etag")
        if etag is None or (status == 200 and found.get(b"x-cache") != b"hit"):
            return
        answer = self._answers.get(key)
        if answer is None or answer.heads != heads or answer.etag != etag.decode("latin-1"):
            answer = _Answer(heads, etag.decode("latin-1"))
            if len(self._answers) >= self.SIZE:
                self._answers.pop(next(iter(self._answers)))
            self._answers[key] = answer
        if status == 304:
            answer.not_modified = headers
        else:
            answer.ok = (headers, b"".join(chunks))
