"""What every page handler does the same way: the newest version it reads (`snap`, a dependency
of the pages' router), the signed-in caller as the services want it, the origin check of a
cookie-authenticated POST, and "do it, or draw the page again with the refusal": a service call
that either moves on (303 to `target`) or redraws the form with the Chinese words of its domain
error and that error's status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect

from api.problems import status_of
from api.services.bundles import BundleService
from api.services.cases import CaseService
from api.services.checks import ChecksService
from api.services.publishing import PublishingService
from api.services.reads import ReadsService
from api.services.stats import StatsService
from api.services.workflows import WorkflowService
from api.view import View, Views
from casework import CaseError
from catalog.store import Caller, Store

from .data import User

# What a page handler is given, by name (the app's services, `create_app`; `snap`, the pages' router):
Snap = NamedDependency[View]
ViewsDep = NamedDependency[Views]
Reads = NamedDependency[ReadsService]
Checks = NamedDependency[ChecksService]
Workflows = NamedDependency[WorkflowService]
Stats = NamedDependency[StatsService]
Bundles = NamedDependency[BundleService]
Publishing = NamedDependency[PublishingService]
StoreDep = NamedDependency[Store]


@dataclass(frozen=True)
class QueryFilters:
    """The filters a listing page's link names, from its query (a dependency of the pages' router):
    each "" when the link leaves it out, and a page keeps only those it knows (`known`)."""

    bundle: FromQuery[str] = ""
    region: FromQuery[str] = ""
    """A region code: that region and those under it."""
    check: FromQuery[str] = ""
    """A §4.1 check's name (checks page)."""
    rule: FromQuery[str] = ""
    severity: FromQuery[str] = ""
    """"error" or "warning" (review page)."""
    item: FromQuery[str] = ""


Filters = NamedDependency[QueryFilters]


PageNo = Annotated[int, QueryParameter(ge=1)]
"""`page`: a listing page's page number, from 1."""


async def snapshot(views: NamedDependency[Views]) -> View:
    """The `snap` every page reads: the newest version's view, taken once per request."""
    return await views.snapshot()


def named(**filters: str) -> dict[str, str]:
    """The filters a link keeps (those not ""), in the order given: its query."""
    return {k: v for k, v in filters.items() if v}


def known(value: str, among: Container[str]) -> str:
    """`value` when it is one of `among`, else "": a filter a link names that is not there filters nothing."""
    return value if value in among else ""


def cases_of(request: Request) -> CaseService:
    return request.app.state.cases  # type: ignore[no-any-return]


def caller_of(user: User | None) -> Caller | None:
    if user is None:
        return None
    return Caller(name=user.name, role=user.role, region=user.region, agency=user.agency)


def case_status(exc: CaseError) -> int:
    """A case refusal's HTTP status, from the one table in `api.problems`."""
    return status_of(exc) or 500


def faults_by_place(exc: CaseError | None) -> dict[str, str]:
    """`q:<question>`, `f:<field>`, `m:<material>` → the reason, for the page to show beside it."""
    out: dict[str, str] = {}
    for f in exc.errors if exc is not None else ():
        for prefix, key in (("q", f.question), ("f", f.field), ("m", f.material)):
            if key is not None:
                out.setdefault(f"{prefix}:{key}", f.reason)
    return out


def same_origin(request: Request) -> bool:
    """A cookie-authenticated POST must come from our own pages (the SameSite=Lax cookie is the first line)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    parsed = urlparse(origin)
    return parsed.netloc == request.headers.get("host", "")


def secure(request: Request) -> bool:
    """Cookies are `Secure` on https — also behind a listed proxy that says so (`api.proxies`)."""
    return request.url.scheme == "https"


def page_cookie(
    request: Request, key: str, value: str, *, path: str, samesite: Literal["lax", "strict"], max_age: int
) -> Cookie:
    """A cookie of the pages': HttpOnly, and Secure on https."""
    on = secure(request)
    return Cookie(
        key=key, value=value, path=path, max_age=max_age, samesite=samesite, httponly=True, secure=on
    )


async def done_or_redrawn(
    work: Awaitable[object],
    target: str,
    redraw: Callable[[Any], Awaitable[Response]],
    refusals: type[Exception] | tuple[type[Exception], ...],
) -> Response:
    """Await the service call; on one of its `refusals` the page drawn again with it (`redraw`
    says in what words and with what status), else a 303 to `target`."""
    try:
        await work
    except refusals as exc:
        return await redraw(exc)
    return Redirect(target, status_code=303)
