"""The landing page and signing in and out (a server-side session; see `catalog.store.sessions`)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlparse

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect

from api.auth import ADMITS
from api.sessions import same_value
from catalog.search import by_life_event
from catalog.words import ROLES

from .data import SESSION_COOKIE, current_user, safe_next, session_of
from .handlers import Checks, Snap, page_cookie, secure
from .render import html
from .search import LIFE_EVENTS, chosen_region, guide_href, region_choices

LOGIN_COOKIE = "onething_login"
"""The sign-in form's double-submit value (login CSRF)."""


@get("/favicon.ico", name="pages:favicon", include_in_schema=False)
async def favicon() -> Redirect:
    """Browsers ask for `/favicon.ico` by themselves; the icon is the pages' SVG."""
    return Redirect("/pages/static/favicon.svg", status_code=301)


STAFF = tuple(role for role in ROLES if role != "agency")
"""Every role that works on the catalog (an agency token works only on its cases)."""

JOBS: list[dict[str, Any]] = [
    {
        "id": "browse",
        "href": "/pages/regions",
        "roles": STAFF,
        "title": "事项目录",
        "text": "按省、市、县浏览各地可办事项；逐项对照各地实施清单与基本目录的名称、类型、依据和编码。",
    },
    {
        "id": "review",
        "href": "/pages/review",
        "roles": ADMITS["reviewer"],
        "title": "目录审查",
        "text": "按规则、级别、区划筛选校验发现的问题，查看各地“四级四同”一致率。",
    },
    {
        "id": "design",
        "href": "/pages/designer",
        "roles": STAFF,
        "title": "一件事设计",
        "text": "挑选事项、选择申请人所在地，即时看到办理流程、材料精简和前后对比，并保存为“一件事”。",
    },
    {
        "id": "guide",
        "href": "/pages/bundles",
        "roles": STAFF,
        "title": "办事指南",
        "text": "为申请人生成可打印的一次告知书和合并申请表。",
    },
    {
        "id": "hand-in",
        "href": "/pages/cases/new",
        "roles": ("portal", "reviewer", "admin"),
        "title": "一窗受理",
        "text": "综合窗口一次受理一件事：一表申请、核收材料，打印带查询码和二维码的受理回执。",
    },
    {
        "id": "agency-tasks",
        "href": "/pages/agency/tasks",
        "roles": ("agency", "admin"),
        "title": "部门办件",
        "text": "受理、退回补正、办结或不予受理分送本部门的事项。",
    },
    {
        "id": "rectifications",
        "href": "/pages/rectifications",
        "roles": ("agency", "reviewer", "admin"),
        "title": "差评整改",
        "text": "部门核实并答复差评，审查人员办结或退回重新整改。",
    },
]
"""The staff's entries on the front door, each shown only to the roles that can use its page."""


@get("/pages", name="pages:index", include_in_schema=False)
async def pages_index() -> Redirect:
    """The pages' home is the front door."""
    return Redirect("/", status_code=302)


@get("/", name="pages:home", include_in_schema=False)
async def home(
    request: Request, snap: Snap, checks: Checks, region: FromQuery[str | None] = None
) -> Response[str]:
    """The front door: the applicant's region, asked once, and the one-things offered there by
    life event (个人/企业); for signed-in staff, their pages and the catalog's numbers."""
    user = current_user(request)
    published = snap.catalog is not None
    where, groups, regions = None, [], []
    cookies: list[Cookie] = []
    if published:
        where, cookies = chosen_region(request, snap, region)
        regions = region_choices(snap)
        if where is not None:
            here = await checks.here(snap, where)
            catalog = snap.require()
            offered = [catalog.bundles[b.id] for b in here.bundles]
            groups = by_life_event(offered, LIFE_EVENTS)
    # The numbers are for signed-in visitors, like every read of the API.
    show = published and user is not None
    return html(
        request,
        "home.html",
        snap=snap,
        user=user,
        catalog=snap.catalog if show else None,
        errors=snap.totals[0] if show else None,
        published=published,
        region=where,
        region_name=snap.require().regions[where].name if where else "",
        regions=regions,
        groups=groups,
        guide_href=guide_href,
        jobs=[j for j in JOBS if user is not None and user.role in j["roles"]],
        cookies=cookies,
    )


def client_of(request: Request) -> str:
    """Who is signing in, for counting failures: the peer, or what a listed proxy says it is
    (`api.proxies` has set the request's client already)."""
    return request.client.host if request.client else "unknown"


def cross_site(request: Request) -> bool:
    """A POST another site made the browser send (login CSRF)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlparse(origin).netloc != request.headers.get("host", "")


async def _form_page(
    request: Request, snap: Snap, target: str, status: int, error: str | None, **kw: Any
) -> Response[str]:
    """The sign-in form, with a fresh double-submit value in the page and in a cookie."""
    csrf = secrets.token_urlsafe(24)
    cookie = page_cookie(request, LOGIN_COOKIE, csrf, path="/pages/login", samesite="strict", max_age=3600)
    return html(
        request,
        "login.html",
        snap=snap,
        next=target,
        csrf=csrf,
        error=error,
        status_code=status,
        cookies=[cookie],
        **kw,
    )


@get("/pages/login", name="pages:login", include_in_schema=False)
async def login_form(request: Request, snap: Snap, next: FromQuery[str] = "/") -> Response[str]:
    return await _form_page(request, snap, safe_next(next), 200, None)


@post(
    "/pages/login",
    name="pages:login-submit",
    include_in_schema=False,
    status_code=303,
    opt={"form_token": False},  # no session yet: its own double-submit value instead
)
async def login(
    request: Request,
    snap: Snap,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[str]:
    target = safe_next(str(data.get("next", "/")))
    if cross_site(request) or not same_value(request.cookies.get(LOGIN_COOKIE), str(data.get("csrf", ""))):
        return await _form_page(
            request, snap, target, 403, "登录请求不是来自本站的登录页，请在此页重新登录。"
        )
    signins = request.app.state.signins
    client = client_of(request)
    wait = signins.retry_after(client)
    if wait is not None:
        return await _form_page(
            request,
            snap,
            target,
            429,
            f"登录失败次数过多，请 {wait} 秒后再试。",
            headers={"Retry-After": str(wait)},
        )
    token = str(data.get("token", "")).strip()
    tokens = request.app.state.tokens
    role = await anyio.to_thread.run_sync(tokens.role, token) if 0 < len(token) <= 512 else None
    if role is None:
        signins.failed(client)
        return await _form_page(request, snap, target, 401, "令牌无效或已被吊销。")
    session_id = await anyio.to_thread.run_sync(tokens.sessions.open, token)
    cookies = [
        page_cookie(
            request, SESSION_COOKIE, session_id, path="/", samesite="lax", max_age=tokens.sessions.lifetime
        ),
        Cookie(key=LOGIN_COOKIE, value="", max_age=0, path="/pages/login"),
    ]
    return Redirect(target, status_code=303, cookies=cookies)  # type: ignore[return-value]


@post("/pages/logout", name="pages:logout", include_in_schema=False, status_code=303)
async def logout(request: Request) -> Response[str]:
    session_id = session_of(request)
    if session_id is not None:
        await anyio.to_thread.run_sync(request.app.state.tokens.end_session, session_id)
    cookie = Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/", httponly=True, secure=secure(request))
    return Redirect("/", status_code=303, cookies=[cookie])  # type: ignore[return-value]
