"""The landing page and signing in and out (a server-side session; see `api.sessions`)."""

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

from api.sessions import same_value

from .data import SESSION_COOKIE, Service, current_user, safe_next, session_of
from .render import html

LOGIN_COOKIE = "onething_login"
"""The sign-in form's double-submit value (login CSRF)."""


@get("/favicon.ico", name="pages:favicon", include_in_schema=False)
async def favicon() -> Redirect:
    """Browsers ask for `/favicon.ico` by themselves; the icon is the pages' SVG."""
    return Redirect("/pages/static/favicon.svg", status_code=301)


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


def secure(request: Request) -> bool:
    """Cookies are `Secure` on https — also behind a listed proxy that says so (`api.proxies`)."""
    return request.url.scheme == "https"


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
    request: Request, catalog_service: Service, target: str, status: int, error: str | None, **kw: Any
) -> Response[str]:
    """The sign-in form, with a fresh double-submit value in the page and in a cookie."""
    snap = await catalog_service.snapshot()
    csrf = secrets.token_urlsafe(24)
    cookie = Cookie(
        key=LOGIN_COOKIE,
        value=csrf,
        httponly=True,
        samesite="strict",
        path="/pages/login",
        secure=secure(request),
        max_age=3600,
    )
    return html(
        request,
        "login.html",
        page="login",
        title="登录",
        snap=snap,
        next=target,
        csrf=csrf,
        error=error,
        status_code=status,
        cookies=[cookie],
        **kw,
    )


@get("/pages/login", name="pages:login", include_in_schema=False)
async def login_form(request: Request, catalog_service: Service, next: FromQuery[str] = "/") -> Response[str]:
    return await _form_page(request, catalog_service, safe_next(next), 200, None)


@post(
    "/pages/login",
    name="pages:login-submit",
    include_in_schema=False,
    status_code=303,
    opt={"form_token": False},  # no session yet: its own double-submit value instead
)
async def login(
    request: Request,
    catalog_service: Service,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[str]:
    target = safe_next(str(data.get("next", "/")))
    if cross_site(request) or not same_value(request.cookies.get(LOGIN_COOKIE), str(data.get("csrf", ""))):
        return await _form_page(
            request, catalog_service, target, 403, "登录请求不是来自本站的登录页，请在此页重新登录。"
        )
    signins = request.app.state.signins
    client = client_of(request)
    wait = signins.retry_after(client)
    if wait is not None:
        return await _form_page(
            request,
            catalog_service,
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
        return await _form_page(request, catalog_service, target, 401, "令牌无效或已被吊销。")
    session_id = await anyio.to_thread.run_sync(tokens.sessions.open, token)
    cookies = [
        Cookie(
            key=SESSION_COOKIE,
            value=session_id,
            httponly=True,
            samesite="lax",
            path="/",
            secure=secure(request),
            max_age=tokens.sessions.lifetime,
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
