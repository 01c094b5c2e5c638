"""Errors as pages: a visitor sees a page in Chinese, never a JSON problem document."""

from __future__ import annotations

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect

from api.problems import ProblemException

from .data import LoginRequired, WrongRole, here, login_url
from .render import ROLE_NAMES, html

HEADINGS = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限",
    404: "找不到页面",
    409: "冲突",
    412: "版本已变化",
    422: "无法处理",
    500: "服务器错误",
}


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    if request.method == "GET":
        return Redirect(login_url(exc.next_url), status_code=303)
    return html(
        request,
        "error.html",
        page="error",
        title="请先登录",
        snap=None,
        status_code=401,
        heading="请先登录",
        message="登录已失效，请重新登录后再提交。",
        login=login_url(here(request)),
    )


def wrong_role(request: Request, exc: WrongRole) -> Response:
    message = f"此操作需要{ROLE_NAMES.get(exc.role, exc.role)}（或管理员）权限，当前令牌的角色是{ROLE_NAMES.get(exc.held, exc.held)}。"
    return html(
        request,
        "error.html",
        page="error",
        title="没有权限",
        snap=None,
        status_code=403,
        heading="没有权限",
        message=message,
        login=login_url(here(request)),
    )


def http_error(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc, ProblemException) and exc.code == "NO_CATALOG":
        message = "尚未发布目录：审查人员可通过 PUT /catalog 或 onething import 发布。"
    else:
        message = exc.detail or HEADINGS.get(status, "出错了")
    return html(
        request,
        "error.html",
        page="error",
        title=HEADINGS.get(status, "出错了"),
        snap=None,
        status_code=status,
        headers=exc.headers,
        heading=HEADINGS.get(status, "出错了"),
        message=message,
        login=None,
    )


HANDLERS = {LoginRequired: login_redirect, WrongRole: wrong_role, HTTPException: http_error}
