"""What the pages read and who reads them: the app's catalog service and the signed-in visitor.

The pages hold no catalog of their own. They use the services the JSON
API uses (`api.view`, `api.services`), so a page and the API always show the same revision,
the same report and the same cached workflows.

Signing in: a visitor pastes an API bearer token into `/pages/login`, which opens a
server-side session (`catalog.store.sessions`); the browser keeps only the session id, in an HttpOnly,
SameSite=Lax cookie (no cross-site POST carries it), and each page asks for the role of the
session's token (`app.state.tokens.session_caller`) — a revoked token ends its sessions. Each page asks for the role its
JSON twin asks for: reading needs any role (portal), the review page a
reviewer, saving a bundle a designer (admin may do all).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler

from api.auth import ADMITS
from catalog.model import Catalog, Region

if TYPE_CHECKING:
    from api.view import View

SESSION_COOKIE = "onething_session"
"""The page session id (`catalog.store.sessions`); the API token itself never leaves the server."""


@dataclass(frozen=True)
class User:
    role: str
    name: str = ""
    """The token's name (what versions and the audit record)."""
    region: str | None = None
    """A region-scoped token acts only within that region's subtree."""
    agency: str | None = None
    """Role `agency`: the USCC of the agency whose tasks it reads and acts on."""


class LoginRequired(HTTPException):
    """No valid token cookie: the page sends the visitor to sign in and come back."""

    status_code = 401

    def __init__(self, next_url: str, role: str) -> None:
        super().__init__(detail="请先登录")
        self.next_url = next_url
        self.role = role


class WrongRole(HTTPException):
    status_code = 403

    def __init__(self, role: str, held: str) -> None:
        super().__init__(detail=f"此页面需要{role}权限，当前令牌为{held}")
        self.role = role
        self.held = held


def session_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    session_id = connection.cookies.get(SESSION_COOKIE)
    return session_id if session_id and len(session_id) <= 128 else None


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
    session_id = session_of(connection)
    if session_id is None:
        return None
    caller = connection.app.state.tokens.session_caller(session_id)
    return None if caller is None else User(caller.role, caller.name, caller.region, caller.agency)


def here(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    query = connection.scope.get("query_string", b"").decode("latin-1")
    return connection.url.path + (f"?{query}" if query else "")


def public_read(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return bool(connection.app.state.settings.public_read)


def signed_in(role: str, *, public: bool = False):
    """A guard: the visitor's token cookie must hold a role that `role` admits (as in `api.auth`);
    `public`: a page of published information, open to everyone while public reads are on."""
    admitted = ADMITS[role]

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if public and public_read(connection):
            return
        user = current_user(connection)
        if user is None:
            raise LoginRequired(here(connection), role)
        if user.role not in admitted:
            raise WrongRole(role, user.role)

    guard.__name__ = f"page_requires_{role}"
    return guard


def require_role(
    request: Request, role: str, admitted: Collection[str] | None = None, sign_in_as: str | None = None
) -> User:
    """The same check inside a handler (a form that reads freely but writes with a role): the
    roles `role` admits, or those `admitted`; signing in is asked for as `sign_in_as` (or `role`)."""
    user = current_user(request)
    if user is None:
        raise LoginRequired(here(request), sign_in_as or role)
    if user.role not in (ADMITS[role] if admitted is None else admitted):
        raise WrongRole(role, user.role)
    return user


def login_url(next_url: str) -> str:
    return "/pages/login?next=" + quote(next_url, safe="")


def safe_next(next_url: str | None) -> str:
    """Where to go after signing in: a path on this site, never another host."""
    if not next_url or not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url:
        return "/"
    return next_url


# -- presentation helpers over a catalog (no 四同 rule here) -----------------------------------


def chain(catalog: Catalog, code: str) -> list[Region]:
    """The region's ancestors and itself, the nation first."""
    out: list[Region] = []
    seen: set[str] = set()
    current: str | None = code
    while current is not None and current in catalog.regions and current not in seen:
        seen.add(current)
        out.append(catalog.regions[current])
        current = catalog.regions[current].parent
    return list(reversed(out))


def region_options(catalog: Catalog, children: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(code, indented name) for a region <select>, in tree order."""
    out: list[tuple[str, str]] = []
    roots = sorted(
        c for c, r in catalog.regions.items() if r.parent is None or r.parent not in catalog.regions
    )
    stack = [(c, 0) for c in reversed(roots)]
    while stack:
        code, depth = stack.pop()
        out.append((code, "\u3000" * depth + catalog.regions[code].name))
        stack.extend((c, depth + 1) for c in reversed(children.get(code, [])))
    return out


def below_option(view: View, region: str) -> tuple[str, str] | None:
    """The option for `region` when it is a township or village a lean view leaves out of
    `region_options` (a worker never lists half a million), indented as deep as its chain;
    `Views.locate` it first."""
    below = view.chain_below(region) if region else ()
    if not below:
        return None
    return region, "\u3000" * (len(view.path(region)) - 1) + below[0].name


def record_href(kind: str, key: str | None) -> str | None:
    """The page of the record a finding names."""
    if key is None:
        return None
    return {
        "region": f"/pages/regions/{quote(key)}",
        "item": f"/pages/items/{quote(key)}",
        "implementation": f"/pages/implementations/{quote(key)}",
        "bundle": f"/pages/designer?bundle={quote(key)}",
    }.get(kind)
