"""Errors as pages: a visitor sees a page in Chinese, never a JSON problem document."""

from __future__ import annotations

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect

from api.problems import ProblemException, problem_handler, status_of
from api.services.errors import NoCatalog, ServiceError
from catalog.words import role_name

from .data import LoginRequired, WrongRole, here, login_url
from .render import html

HEADINGS = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限",
    404: "找不到页面",
    405: "无法打开",
    409: "冲突",
    412: "版本已变化",
    422: "无法处理",
    413: "内容过大",
    429: "请稍候",
    500: "服务器错误",
    503: "暂时无法服务",
}


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    if request.method == "GET":
        return Redirect(login_url(exc.next_url), status_code=303)
    return html(
        request,
        "error.html",
        title="请先登录",
        snap=None,
        status_code=401,
        heading="请先登录",
        message="登录已失效，请重新登录后再提交。",
        login=login_url(here(request)),
    )


def wrong_role(request: Request, exc: WrongRole) -> Response:
    message = f"此操作需要{role_name(exc.role)}（或管理员）权限，当前令牌的角色是{role_name(exc.held)}。"
    return html(
        request,
        "error.html",
        title="没有权限",
        snap=None,
        status_code=403,
        heading="没有权限",
        message=message,
        login=login_url(here(request)),
    )


WHAT = {
    "version": "版本",
    "submission": "提交",
    "region": "区划",
    "item": "事项",
    "implementation": "实施清单",
    "bundle": "一件事",
}
MESSAGES = {
    400: "链接中的参数有误（例如页码或格式不在可选范围内）。请返回上一页重新选择。",
    404: "没有这个页面：链接可能有误，或所指的记录已不存在。",
    405: "此页面不能以这种方式打开。",
    409: "操作与当前状态冲突，请刷新页面后再试。",
    413: "上传的内容过大。",
    422: "提交的内容无法处理，请检查后再试。",
    429: "请求过于频繁，请稍后再试。",
    500: "服务器出错了（已记录）。请稍后再试；如果一再出现，请联系管理员。",
    503: "服务暂时不可用，请稍后再试。",
}
SECTIONS = {
    "regions": ("/pages/regions", "事项目录"),
    "items": ("/pages/regions", "事项目录"),
    "implementations": ("/pages/regions", "事项目录"),
    "review": ("/pages/review", "目录审查"),
    "checks": ("/pages/checks", "一件事检查"),
    "designer": ("/pages/designer", "一件事设计"),
    "bundles": ("/pages/bundles", "办事指南"),
    "stats": ("/pages/stats", "统计"),
    "versions": ("/pages/versions", "版本历史"),
    "review-queue": ("/pages/review-queue", "待复核清单"),
    "submissions": ("/pages/submissions", "提交与审批"),
}
"""Where a visitor goes back to from an error under /pages/<section>/…"""


def chinese(text: str | None) -> bool:
    return bool(text) and any("\u4e00" <= ch <= "\u9fff" for ch in text or "")


def message_of(exc: HTTPException | ServiceError) -> str:
    """What went wrong, in Chinese: the exception's own words when they are Chinese, else by
    what is missing (a version, a submission, …) or by status."""
    status = exc.status_code if isinstance(exc, HTTPException) else status_of(exc) or 500
    if isinstance(exc, NoCatalog):
        return exc.message
    if isinstance(exc, (ProblemException, ServiceError)):
        if chinese(exc.detail):
            return exc.detail
        for e in exc.errors:
            if e.kind == "version" and e.key:
                return f"没有第 {e.key} 版：目录的版本从第 1 版起，请在版本历史中选择。"
            if e.kind in WHAT and e.key:
                return f"没有这个{WHAT[e.kind]}（{e.key}）：它可能已被删除，或链接有误。"
    elif chinese(exc.detail):
        return str(exc.detail)
    return MESSAGES.get(status, "出了点问题，请返回上一页重试。")


def way_back(path: str) -> tuple[str, str] | None:
    """The section page the path is under (not the path itself)."""
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "pages":
        return None
    found = SECTIONS.get(parts[1])
    return found if found and found[0] != path.rstrip("/") else None


def http_error(request: Request, exc: HTTPException | ServiceError) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else status_of(exc) or 500
    heading = HEADINGS.get(status, "出错了")
    return html(
        request,
        "error.html",
        title=heading,
        snap=None,
        status_code=status,
        headers=exc.headers,
        heading=heading,
        message=message_of(exc),
        login=None,
        back=way_back(request.url.path),
    )


def is_page(path: str) -> bool:
    """The landing page and everything under /pages/ (the API never lives there)."""
    return path in ("/", "/pages") or path.startswith("/pages/")


def app_errors(request: Request, exc: Exception) -> Response:
    """The app's exception handler: under /pages/ an HTTP error that no page route handled (no
    such path, a wrong method, a missing static file, a limit) is a page too; the rest is the
    API's problem document (`api.problems.problem_handler`)."""
    if is_page(request.url.path) and isinstance(exc, HTTPException):
        handler = HANDLERS.get(type(exc), http_error)
        return handler(request, exc)  # type: ignore[operator]
    if is_page(request.url.path) and isinstance(exc, ServiceError):
        return http_error(request, exc)
    response = problem_handler(request, exc)  # logs it, and tells an outage (503) from a bug (500)
    if not is_page(request.url.path):
        return response
    status = response.status_code or 500
    try:  # the page without the visitor's name: asking for it may be what failed
        return html(
            request,
            "error.html",
            title=HEADINGS.get(status, "服务器错误"),
            snap=None,
            user=None,
            status_code=status,
            headers={k: v for k, v in response.headers.items() if k.lower() == "retry-after"},
            heading=HEADINGS.get(status, "服务器错误"),
            message=MESSAGES.get(status, MESSAGES[500]),
            login=None,
            back=None,
        )
    except Exception:  # noqa: BLE001 - the problem document is still an answer
        return response


HANDLERS = {LoginRequired: login_redirect, WrongRole: wrong_role, HTTPException: http_error}
