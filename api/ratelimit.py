"""The per-client rate limit, counted in this process: a token bucket per client address.

A client may make `per_minute` requests in a burst, and `per_minute / 60` a second after that;
past it, 429 with `Retry-After`. The client is the request's `client` as `api.proxies` resolved
it: behind a proxy the operator lists (`ONETHING_TRUSTED_PROXIES`, `onething serve
--trusted-proxy`), each address its `X-Forwarded-For` names is counted apart; from any other
peer the peer is the client. Counting costs no network round trip, so each worker process
counts on its own (N workers admit up to N times the rate: set the limit per worker).

Requests with a valid bearer token (a portal's backend, serving many citizens from one address)
are not counted unless `ONETHING_RATE_LIMIT_TOKENS=1`; an unknown token is counted like no token.
`GET /health` is never counted.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from .problems import ProblemException

if TYPE_CHECKING:
    from .auth import TokenChecker

EXEMPT_PATHS = frozenset({"/health"})


class TokenBuckets:
    """One bucket per key, `per_minute` deep, refilled at `per_minute / 60` a second; the
    `size` most recently seen keys are kept (a forgotten one starts full again)."""

    def __init__(self, per_minute: int, size: int = 100_000, clock: Any = time.monotonic):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.size = size
        self.clock = clock
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def take(self, key: str) -> float:
        """0.0 if the request may go (one token taken), else the seconds until one is back."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [self.capacity, now]
            if len(self._buckets) > self.size:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket[0] = min(self.capacity, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / self.rate


def client_key(scope: Any) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and 0 < len(token) <= 512 else None
    return None


class RateLimit:
    """ASGI middleware (after `api.proxies.ProxyHeaders`): the limit of the module's text."""

    def __init__(self, app: Any, buckets: TokenBuckets, tokens: TokenChecker, count_tokens: bool = False):
        self.app = app
        self.buckets = buckets
        self.tokens = tokens
        self.count_tokens = count_tokens

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] not in EXEMPT_PATHS and not await self.exempt(scope):
            wait = self.buckets.take(client_key(scope))
            if wait:
                raise too_many(wait)
        await self.app(scope, receive, send)

    async def exempt(self, scope: Any) -> bool:
        """Whether the request carries a valid token (and tokens are not counted)."""
        if self.count_tokens:
            return False
        token = bearer(scope["headers"])
        if token is None:
            return False
        held = self.tokens.cached(token)
        if held is False:
            held = await anyio.to_thread.run_sync(self.tokens.lookup, token)
        return held is not None


def too_many(wait: float) -> ProblemException:
    return ProblemException(
        429,
        "RATE_LIMITED",
        "请求过于频繁，请稍后再试",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )
