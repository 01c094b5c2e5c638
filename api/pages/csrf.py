"""Every state-changing page form carries its session's form token (CSRF), and every unsafe
page request is refused without it.

The token is an HMAC of the session id (the browser's HttpOnly cookie, which another site can
neither read nor guess), so it is per session, needs no storage and is the same on every
instance. Templates put it in a form with `{{ form_token() }}` (a hidden input) — or, for a
form that is otherwise a GET, on its one POST button with `{{ form_token(button=True) }}`, so
the token never lands in a URL. `form_token_guard` checks it on every POST under the pages'
router; sign-in, which has no session yet, keeps its own double-submit check
(`opt={"form_token": False}`).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from jinja2 import pass_context
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler
from markupsafe import Markup, escape

from .data import session_of

FIELD = "form_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UPLOAD_SLACK = 65536
"""Bytes a multipart form may carry beside its file (as the submissions page allows)."""


def token_for(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"onething page form", hashlib.sha256).hexdigest()


def page_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The form token of the visitor's session ('' when there is none)."""
    session_id = session_of(connection)
    return "" if session_id is None else token_for(session_id)


@pass_context
def form_token(context: Any, button: bool = False) -> Markup:
    """The Jinja helper: the hidden input (or, `button`, a submit button's name and value)."""
    value = escape(context.get("form_token_value", ""))
    if button:
        return Markup(f'name="{FIELD}" value="{value}"')
    return Markup(f'<input type="hidden" name="{FIELD}" value="{value}">')


class FormTokenRefused(HTTPException):
    status_code = 403

    def __init__(self) -> None:
        super().__init__(detail="表单已失效，或不是从本站页面提交的：请回到原页面刷新后再提交。")


class UploadTooLarge(HTTPException):
    status_code = 413


async def form_token_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Refuse an unsafe page request whose form does not carry its session's token. Without a
    session there is no one to act as: the handler's own sign-in check answers."""
    if connection.scope.get("method") not in UNSAFE or handler.opt.get("form_token") is False:
        return
    session_id = session_of(connection)
    if session_id is None:
        return
    assert isinstance(connection, Request)
    unbounded = getattr(handler, "resolve_request_max_body_size", lambda: 0)() is None
    if unbounded and connection.content_type[0] == "multipart/form-data":  # read no more than it would
        limit = connection.app.state.settings.max_pending_body
        length = connection.headers.get("content-length", "")
        if not length.isdigit() or int(length) > limit + UPLOAD_SLACK:
            raise UploadTooLarge(detail=f"文件过大：最多 {limit // (1 << 20)} MB。")
    form = await connection.form()
    sent = form.get(FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), token_for(session_id).encode()):
        raise FormTokenRefused
