"""Bearer tokens and roles.

| role | may |
|---|---|
| `portal` | read: regions, items, bundles, workflows, guides, the catalog export |
| `designer` | what portal may, and write bundles |
| `reviewer` | what portal may, read the validation report, validate an upload, publish the catalog |
| `admin` | everything, and manage tokens |

`GET /health` and the OpenAPI schema are public. A missing or unknown token is 401
(with `WWW-Authenticate: Bearer`), a known token of the wrong role 403; either way
nothing changes. Tokens are checked against the store (which keeps only their hash)
and remembered in-process for `settings.token_ttl` seconds; a revoke through this
instance forgets at once, other instances within that TTL.

Routes declare the role they need as `opt={"role": "designer"}` (on a controller or a
handler; the handler's wins) and `RoleMiddleware` enforces it before the handler runs.
(A Litestar guard would do the same, but Litestar copies the route handler object for
every guard call, which costs a cached workflow fetch a fifth of its throughput.)
`requires("designer")` is the same check as a guard, for routes that prefer guards.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from .problems import ProblemException

if TYPE_CHECKING:
    from catalog.store import Store

ROLES = ("portal", "designer", "reviewer", "admin")

# Which token roles a route's required role admits.
ADMITS: dict[str, frozenset[str]] = {
    "portal": frozenset(ROLES),
    "designer": frozenset({"designer", "admin"}),
    "reviewer": frozenset({"reviewer", "admin"}),
    "admin": frozenset({"admin"}),
}

BEARER_HEADERS = {"WWW-Authenticate": 'Bearer realm="onething"'}


class TokenChecker:
    """token → role, through the store, remembered for `ttl` seconds."""

    def __init__(self, store: Store, ttl: float):
        self.store = store
        self.ttl = ttl
        self._seen: dict[str, tuple[str | None, float]] = {}

    def cached(self, token: str) -> str | None | bool:
        """The remembered role (None: known to be invalid), or False when it must be looked up."""
        seen = self._seen.get(token)
        if seen is not None and seen[1] > time.monotonic():
            return seen[0]
        return False

    def lookup(self, token: str) -> str | None:
        """Ask the store, and remember the answer for `ttl` seconds."""
        role = self.store.token_role(token)
        if self.ttl > 0:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[token] = (role, time.monotonic() + self.ttl)
        return role

    def role(self, token: str) -> str | None:
        """The token's role, remembered or looked up (sync: blocks on a lookup)."""
        held = self.cached(token)
        return self.lookup(token) if held is False else held  # type: ignore[return-value]

    def forget(self) -> None:
        self._seen.clear()


def requires(role: str):
    """The role check as a guard: `guards=[requires("designer")]`."""
    ADMITS[role]  # an unknown role fails here, at import

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        await authorize(connection.headers, connection.app.state.tokens, role)

    guard.__name__ = f"requires_{role}"
    return guard


ROLE_OPT = "role"


async def authorize(headers: Any, checker: TokenChecker, role: str) -> str:
    """The role of the request's bearer token if it admits `role`; else a 401 or 403 problem."""
    token = _bearer(headers.get("authorization"))
    if token is None:
        raise ProblemException(
            401, "UNAUTHENTICATED", "send `Authorization: Bearer <token>`", headers=BEARER_HEADERS
        )
    held = checker.cached(token)
    if held is False:
        held = await anyio.to_thread.run_sync(checker.lookup, token)
    if held is None:
        raise ProblemException(401, "UNAUTHENTICATED", "unknown or revoked token", headers=BEARER_HEADERS)
    if held not in ADMITS[role]:
        raise ProblemException(
            403, "FORBIDDEN", f"this needs the {role} role (or admin); the token has {held}"
        )
    return held  # type: ignore[return-value]


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    return token


class _ScopeHeaders:
    """Just enough of a headers mapping over the raw ASGI header list (one lookup, no parsing)."""

    __slots__ = ("raw",)

    def __init__(self, raw: list[tuple[bytes, bytes]]):
        self.raw = raw

    def get(self, name: str) -> str | None:
        key = name.encode()
        for k, v in self.raw:
            if k.lower() == key:
                return v.decode("latin-1")
        return None


class RoleMiddleware:
    """Enforces `opt["role"]` of the matched route handler; routes without one are public."""

    def __init__(self, app: Any, checker: TokenChecker):
        self.app = app
        self.checker = checker

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            handler = scope.get("route_handler")
            role = handler.opt.get(ROLE_OPT) if handler is not None else None
            if role is not None:
                scope.setdefault("state", {})["role"] = await authorize(
                    _ScopeHeaders(scope["headers"]), self.checker, role
                )
        await self.app(scope, receive, send)
