"""Bearer tokens and roles.

| role | may |
|---|---|
| `portal` | read: regions, items, bundles, workflows, guides, the catalog export |
| `designer` | what portal may, and write bundles |
| `reviewer` | what portal may, read the validation report, validate an upload, publish the catalog |
| `admin` | everything, and manage tokens |

`GET /health` and the OpenAPI schema are public, and so (unless `ONETHING_PUBLIC_READ=0`) are
the published reads marked `opt={"public": True}` when asked without a token (`api.headers`). A missing or unknown token is 401
(with `WWW-Authenticate: Bearer`), a known token of the wrong role 403; either way
nothing changes. Tokens are checked against the store (which keeps only their hash)
and remembered in-process for `settings.token_ttl` seconds (a bounded LRU); a revoke through
this instance forgets at once, other instances within that TTL. Page sessions (`api.sessions`)
are checked the same way. An OPTIONS request (CORS preflight, `Allow`) needs no token.

Routes declare the role they need as `opt={"role": "designer"}` (on a controller or a
handler; the handler's wins) and `RoleMiddleware` enforces it before the handler runs.
(A Litestar guard would do the same, but Litestar copies the route handler object for
every guard call, which costs a cached workflow fetch a fifth of its throughput.)
`requires("designer")` is the same check as a guard, for routes that prefer guards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from .headers import is_public
from .problems import ProblemException
from .sessions import BoundedLRU, Sessions, digest

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
    """token → role, through the store, remembered for `ttl` seconds in a bounded LRU (keyed by
    the token's digest, so no secret sits in memory longer than the request); and a page
    session's role the same way (`sessions`)."""

    SIZE = 10_000

    def __init__(self, store: Store, ttl: float, sessions: Sessions | None = None, size: int = SIZE):
        self.store = store
        self.ttl = ttl
        self.sessions = sessions
        self._seen = BoundedLRU(size, ttl)

    def cached(self, token: str) -> str | None | bool:
        """The remembered role (None: known to be invalid), or False when it must be looked up."""
        held = self._seen.get("t" + digest(token))
        return False if held is BoundedLRU.MISSING else held  # type: ignore[return-value]

    def lookup(self, token: str) -> str | None:
        """Ask the store, and remember the answer for `ttl` seconds."""
        role = self.store.token_role(token)
        self._seen.put("t" + digest(token), role)
        return role

    def role(self, token: str) -> str | None:
        """The token's role, remembered or looked up (sync: blocks on a lookup)."""
        held = self.cached(token)
        return self.lookup(token) if held is False else held  # type: ignore[return-value]

    def session_role(self, session_id: str) -> str | None:
        """The role of a page session's token (None: no such session, ended, or token revoked)."""
        if self.sessions is None:
            return None
        key = "s" + digest(session_id)
        held = self._seen.get(key)
        if held is BoundedLRU.MISSING:
            held = self.sessions.role(session_id)
            self._seen.put(key, held)
        return held  # type: ignore[return-value]

    def end_session(self, session_id: str) -> None:
        """Sign a page session out: its row is deleted and this instance forgets it at once."""
        if self.sessions is not None:
            self.sessions.close(session_id)
        self._seen.pop("s" + digest(session_id))

    def forget(self) -> None:
        """Drop what is remembered (after a revoke), and the sessions of revoked tokens."""
        self._seen.clear()
        if self.sessions is not None:
            self.sessions.close_orphans()


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
    """Enforces `opt["role"]` of the matched route handler; routes without one are public, and so
    are published reads (`api.headers.is_public`) asked without a token while `public_read` is on."""

    def __init__(self, app: Any, checker: TokenChecker, public_read: bool = False):
        self.app = app
        self.checker = checker
        self.public_read = public_read

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] != "OPTIONS":
            handler = scope.get("route_handler")
            role = handler.opt.get(ROLE_OPT) if handler is not None else None
            anonymous = _ScopeHeaders(scope["headers"]).get("authorization") is None
            if role is not None and not (anonymous and is_public(handler, scope["method"], self.public_read)):
                scope.setdefault("state", {})["role"] = await authorize(
                    _ScopeHeaders(scope["headers"]), self.checker, role
                )
        await self.app(scope, receive, send)
