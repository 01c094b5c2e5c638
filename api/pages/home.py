"""The landing page and signing in and out (a token kept in a cookie)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect

from .data import TOKEN_COOKIE, Service, current_user, safe_next
from .render import html


@get("/", name="pages:home", include_in_schema=False)
async def home(request: Request, catalog_service: Service) -> Response[str]:
    snap = await catalog_service.snapshot()
    user = current_user(request)
    # The numbers are for signed-in visitors, like every read of the API.
    show = snap.catalog is not None and user is not None
    return html(
        request,
        "home.html",
        page="home",
        title="首页",
        snap=snap,
        user=user,
        catalog=snap.catalog if show else None,
        errors=snap.totals[0] if show else None,
        published=snap.catalog is not None,
    )


@get("/pages/login", name="pages:login", include_in_schema=False)
async def login_form(request: Request, catalog_service: Service, next: FromQuery[str] = "/") -> Response[str]:
    snap = await catalog_service.snapshot()
    return html(
        request, "login.html", page="login", title="登录", snap=snap, next=safe_next(next), error=None
    )


@post("/pages/login", name="pages:login-submit", include_in_schema=False, status_code=303)
async def login(
    request: Request,
    catalog_service: Service,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[str]:
    token = str(data.get("token", "")).strip()
    target = safe_next(str(data.get("next", "/")))
    role = request.app.state.tokens.role(token) if 0 < len(token) <= 512 else None
    if role is None:
        snap = await catalog_service.snapshot()
        return html(
            request,
            "login.html",
            page="login",
            title="登录",
            snap=snap,
            next=target,
            status_code=401,
            error="令牌无效或已被吊销。",
        )
    secure = request.url.scheme == "https"
    cookie = Cookie(
        key=TOKEN_COOKIE,
        value=token,
        httponly=True,
        samesite="lax",
        path="/",
        secure=secure,
        max_age=12 * 3600,
    )
    return Redirect(target, status_code=303, cookies=[cookie])  # type: ignore[return-value]


@post("/pages/logout", name="pages:logout", include_in_schema=False, status_code=303)
async def logout() -> Response[str]:
    return Redirect("/", status_code=303, cookies=[Cookie(key=TOKEN_COOKIE, value="", max_age=0, path="/")])  # type: ignore[return-value]
