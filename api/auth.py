"""Bearer tokens and roles.

| role | may |
|---|---|
| `portal` | read: regions, items, bundles, workflows, guides, the catalog export |
| `designer` | what portal may, and write bundles |
| `reviewer` | what portal may, read the validation report, validate an upload, publish the catalog |
| `admin` | everything, and manage tokens |
| `agency` | what portal may, and read and act on the tasks of its one agency (`Caller.agency`, §7.2) |

`GET /health` and the OpenAPI schema are public, and so (unless `ONETHING_PUBLIC_READ=0`) are
the published reads marked `opt={"public": True}` when asked without a token (`api.headers`). A missing or unknown token is 401
(with `WWW-Authenticate: Bearer`), a known token of the wrong role 403; either way
nothing changes. Tokens are checked against the store (which keeps only their hash)
and remembered in-process for `settings.token_ttl` seconds (a bounded LRU); a revoke through
this instance forgets at once, other instances within that TTL. Page sessions (`catalog.store.sessions`)
are checked the same way. An OPTIONS request (CORS preflight, `Allow`) needs no token.

Routes declare the role they need as `opt={"role": "designer"}` (on a controller or a
handler; the handler's wins) and `RoleMiddleware` enforces it before the handler runs.
(A Litestar guard would do the same, but Litestar copies the route handler object for
every guard call, which costs a cached workflow fetch a fifth of its throughput.)
`requires("designer")` is the same check as a guard, for routes that prefer guards.

A token may be scoped to a region (`api_token.region`): the middleware puts the caller (name,
role, region — `catalog.store.Caller`) in the request's state (`caller_of(request)`), where the
handler checks a region it is asked to act on (`within`). Routes that change the whole catalog,
or read across regions for admins, declare `opt={"unscoped": True}`: a scoped token is 403 there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from catalog.store.tokens import token_digest
from catalog.words import ROLES

from .headers import is_public
from .lru import MISSING, BoundedLRU
from .problems import ProblemException

if TYPE_CHECKING:
    from litestar import Request

    from catalog.store import Caller, PageSessions, Store


# Which token roles a route's required role admits.
ADMITS: dict[str, frozenset[str]] = {
    "portal": frozenset(ROLES),
    "designer": frozenset({"designer", "admin"}),
    "reviewer": frozenset({"reviewer", "admin"}),
    "admin": frozenset({"admin"}),
    "agency": frozenset({"agency", "admin"}),
}

BEARER_HEADERS = {"WWW-Authenticate": 'Bearer realm="onething"'}


class TokenChecker:
    """token → caller (name, role, region), through the store, remembered for `ttl` seconds in a
    bounded LRU (keyed by the token's digest, so no secret sits in memory longer than the
    request); and a page session's caller the same way (`sessions`)."""

    SIZE = 10_000

    def __init__(self, store: Store, ttl: float, sessions: PageSessions | None = None, size: int = SIZE):
        self.store = store
        self.ttl = ttl
        self.sessions = sessions
        self._seen: BoundedLRU[str, Caller | None] = BoundedLRU(size, ttl)

    def cached(self, token: str) -> Caller | bool | None:
        """The remembered caller (None: known to be invalid), or False when it must be looked up."""
        held = self._seen.get("t" + token_digest(token))
        return False if held is MISSING else held

    def lookup(self, token: str) -> Caller | None:
        """Ask the store, and remember the answer for `ttl` seconds."""
        caller = self.store.token_caller(token)
        self._seen.put("t" + token_digest(token), caller)
        return caller

    def role(self, token: str) -> str | None:
        """The token's role, remembered or looked up (sync: blocks on a lookup)."""
        held = self.cached(token)
        caller = self.lookup(token) if held is False else held
        return None if caller is None else caller.role  # type: ignore[union-attr]

    def session_caller(self, session_id: str) -> Caller | None:
        """Who holds a page session's token (None: no such session, ended, or token revoked)."""
        if self.sessions is None:
            return None
        key = "s" + token_digest(session_id)
        held = self._seen.get(key)
        if held is MISSING:
            held = self.sessions.caller(session_id)
            self._seen.put(key, held)
        return held

    def session_role(self, session_id: str) -> str | None:
        caller = self.session_caller(session_id)
        return None if caller is None else caller.role

    def end_session(self, session_id: str) -> None:
        """Sign a page session out: its row is deleted and this instance forgets it at once."""
        if self.sessions is not None:
            self.sessions.close(session_id)
        self._seen.pop("s" + token_digest(session_id))

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
UNSCOPED_OPT = "unscoped"


async def authorize(headers: Any, checker: TokenChecker, role: str, unscoped: bool = False) -> Caller:
    """The caller of the request's bearer token if its role admits `role` (and, `unscoped`, it
    has no region); else a 401 or 403 problem."""
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
    caller: Caller = held  # type: ignore[assignment]
    if caller.role not in ADMITS[role]:
        raise ProblemException(
            403, "FORBIDDEN", f"this needs the {role} role (or admin); the token has {caller.role}"
        )
    if unscoped and caller.region is not None:
        raise ProblemException(
            403, "OUT_OF_SCOPE", f"this needs a token without a region; the token acts within {caller.region}"
        )
    return caller


async def optional_caller(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller | None:
    """The caller of the request's bearer token when it sends one (401 for an unknown one), else
    None: for routes that also take other credentials (a case's `X-Case-Access`)."""
    if connection.headers.get("authorization") is None:
        return None
    return await authorize(connection.headers, connection.app.state.tokens, "portal")


def caller_of(request: Request) -> Caller:
    """The caller the role check let in (routes with `opt["role"]`)."""
    return request.scope["state"]["caller"]  # type: ignore[no-any-return]


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
                caller = await authorize(
                    _ScopeHeaders(scope["headers"]), self.checker, role, bool(handler.opt.get(UNSCOPED_OPT))
                )
                state = scope.setdefault("state", {})
                state["role"] = caller.role
                state["caller"] = caller
        await self.app(scope, receive, send)
