"""Request shape, checked before anything is decoded: header size, control characters in the
path and query, the body's media type, JSON nesting depth and control characters in JSON text.

`BodyGuard` is an ASGI middleware that runs for every matched route (after the role check,
so an anonymous caller learns nothing about a body). For a route whose handler takes a JSON
`data` body it reads the body (up to `max_body` bytes, else 413), and refuses:

| what | answer |
|---|---|
| a `Content-Type` other than `application/json` (or `…+json`), or none | 415 `UNSUPPORTED_MEDIA_TYPE` |
| brackets nested deeper than `max_depth` (outside strings) | 400 `NESTING_TOO_DEEP` |
| a C0 control character or DEL, raw or escaped (`\\u0000`, `\\b`, `\\f`…), other than tab, CR and LF | 422 `CONTROL_CHARACTER` |

before the app decodes it (msgspec's decoder would recurse on deep nesting, and PostgreSQL
refuses NUL in text). The body is then handed on unchanged. Which fields may hold tab and
newline is the schema's to say (`api.schemas`).

A route that reads a JSON Lines upload itself (`opt={"body": "ndjson"}`: `PUT /catalog`,
`POST /validation`) keeps streaming: its media type must be JSON Lines (or unnamed, as
`curl --data-binary` sends and scripts always have), and each line is checked for depth as it
streams in (a line too deep is 400 naming the line). Control characters in a catalog are the
validator's (a `SCHEMA` finding).

A route that also takes a region's sheet (`opt={"sheets": True}`: `PUT /regions/{code}/implementations`,
`POST /submissions`) lets an `.xlsx` or `.csv` body (by its media type, `SHEET_TYPES`) through
unread: a workbook is binary, its cells are the sheet reader's (`catalog.sheet`).

A query parameter an API operation does not declare is 400 `UNKNOWN_PARAMETER` (as unknown
body fields are refused). An OPTIONS request is answered here: 204 with `Allow` naming every method of the path.

Any request whose headers exceed `max_header_bytes` is 431, and a path or query string that
decodes to a control character is 422.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from itertools import accumulate
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import msgspec

from catalog.sheet.read import Format as SheetFormat

from .problems import PROBLEM_JSON, ErrorDetail, Problem, ProblemException, problem_type

MAX_DEPTH = 32
"""Deepest bracket nesting a JSON body (or a catalog line) may have; ours need 4."""

MAX_HEADER_BYTES = 32 * 1024

JSON_TYPES = ("application/json",)
NDJSON_TYPES = (
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "application/jsonlines",
    "application/json-lines",
    "application/json",
    "application/octet-stream",
    "text/plain",
    # curl --data-binary's default; scripts that publish with it have always worked.
    "application/x-www-form-urlencoded",
)

SHEET_TYPES: dict[str, SheetFormat] = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/csv": "csv",
    "application/csv": "csv",
}
"""Media type of a region's sheet -> its format (`catalog.sheet`)."""

_STRINGS = re.compile(rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')  # a JSON string never spans lines
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_BRACKETS_NL = bytes(b for b in range(256) if b not in b"[]{}\n")
_PAIRS = re.compile(rb"[\[{][\]}]")
_STEPS = bytes.maketrans(b"[]{}", b"\x02\x00\x02\x00")  # +1 / -1 after subtracting 1
_RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ESCAPED_CONTROL = re.compile(rb"(?<!\\)(?:\\\\)*\\(?:[bf]|u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF]))")
_CONTROL_TEXT = re.compile(r"[\x00-\x1f\x7f]")


def nesting_depth(text: bytes) -> int:
    """The deepest bracket nesting of a JSON text, strings skipped (precise; see `too_deep`)."""
    opens = text.count(b"[") + text.count(b"{")
    if opens <= 1:
        return opens
    brackets = _STRINGS.sub(b"", text).translate(None, _NOT_BRACKETS).translate(_STEPS)
    return max(accumulate(step - 1 for step in brackets), default=0)


def too_deep(text: bytes, limit: int) -> bool:
    """Is a line of `text` nested deeper than `limit`? Fast for ordinary JSON: strings are cut
    out and matched bracket pairs removed, innermost first, `limit` times over (each pass at C
    speed on the brackets alone, which shrink to nothing within a few passes); only when some
    remain — too deep, or unbalanced — is the depth counted line by line."""
    if text.count(b"[") + text.count(b"{") <= limit:
        return False
    brackets = _STRINGS.sub(b"", text).translate(None, _NOT_BRACKETS_NL)
    for _ in range(limit):
        brackets, removed = _PAIRS.subn(b"", brackets)
        if not removed:
            break
    if not brackets.strip(b"\n"):
        return False
    return any(nesting_depth(line) > limit for line in text.split(b"\n"))


def control_character(body: bytes) -> int | None:
    """The offset of the first C0 control or DEL (raw, or as a JSON escape) other than tab/CR/LF."""
    found = [m.start() for m in (_RAW_CONTROL.search(body), _ESCAPED_CONTROL.search(body)) if m]
    return min(found) if found else None


def _media_type(headers: list[tuple[bytes, bytes]]) -> str | None:
    for key, value in headers:
        if key.lower() == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return None


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for key, value in headers:
        if key.lower() == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _json_media(media: str | None) -> bool:
    return media is not None and (
        media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))
    )


def too_deep_problem(limit: int, line: int | None = None) -> ProblemException:
    return ProblemException(
        400,
        "NESTING_TOO_DEEP",
        f"the JSON is nested deeper than {limit} levels" + (f" on line {line}" if line else ""),
        errors=[ErrorDetail(message=f"at most {limit} levels of [ and {{", source="body", line=line)],
    )


def _body_kind(handler: Any) -> str | None:
    """`json` for a handler that decodes a JSON `data` body, `ndjson` when it says so, else None."""
    kind = handler.opt.get("body")
    if kind is not None:
        return kind
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return None
    media = getattr(data.kwarg_definition, "media_type", None)
    return "json" if media is None or str(getattr(media, "value", media)) == "application/json" else None


class BodyGuard:
    """See the module docstring."""

    def __init__(
        self,
        app: Any,
        *,
        max_body: int,
        max_depth: int = MAX_DEPTH,
        max_header_bytes: int = MAX_HEADER_BYTES,
        query_names: dict[tuple[str, str], frozenset[str]] | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_depth = max_depth
        self.max_header_bytes = max_header_bytes
        self._kinds: dict[int, str | None] = {}
        self._allow: dict[str, str] | None = None
        self.query_names = query_names if query_names is not None else {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        if sum(len(k) + len(v) for k, v in headers) > self.max_header_bytes:
            await _answer(
                send, scope, 431, "HEADERS_TOO_LARGE", f"headers exceed {self.max_header_bytes} bytes"
            )
            return
        where = _control_in_target(scope)
        if where is not None:
            await _answer(
                send,
                scope,
                422,
                "CONTROL_CHARACTER",
                f"the {where} holds a control character",
                source=where,
            )
            return
        if scope["method"] == "OPTIONS":
            await self._options(scope, send)
            return
        unknown = self._unknown_query(scope)
        if unknown is not None:
            await _answer(
                send,
                scope,
                400,
                "UNKNOWN_PARAMETER",
                f"no query parameter {unknown!r} here",
                source="query",
                field=unknown,
            )
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        handler = scope.get("route_handler")
        key = id(handler)
        if key not in self._kinds:
            self._kinds[key] = _body_kind(handler) if handler is not None else None
        kind = self._kinds[key]
        if kind == "json":
            await self._json(scope, receive, send)
        elif kind == "ndjson":
            if (
                handler is not None
                and handler.opt.get("sheets")
                and _media_type(scope["headers"]) in SHEET_TYPES
            ):
                await self.app(scope, receive, send)  # a workbook or CSV: the sheet reader's
                return
            await self._ndjson(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _unknown_query(self, scope: Any) -> str | None:
        """A query parameter the API operation does not declare (as its schema says)."""
        query = scope.get("query_string", b"")
        if not query:
            return None
        names = self.query_names.get((scope.get("path_template", ""), scope["method"]))
        if names is None:  # not an API operation (a page): its own business
            return None
        for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if name not in names:
                return name[:100]
        return None

    async def _options(self, scope: Any, send: Any) -> None:
        """204 with every method the path answers (Litestar's own OPTIONS lists only those of
        the first handler on a path); no token needed."""
        if self._allow is None:
            allow: dict[str, set[str]] = {}
            for route in scope["app"].routes:
                methods = getattr(route, "methods", None)
                if methods:
                    allow.setdefault(route.path_format, set()).update(methods)
            self._allow = {path: ", ".join(sorted(methods | {"OPTIONS"})) for path, methods in allow.items()}
        methods = self._allow.get(scope.get("path_template", ""), "OPTIONS")
        await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", methods.encode())]})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _json(self, scope: Any, receive: Any, send: Any) -> None:
        media = _media_type(scope["headers"])
        if not _json_media(media):
            said = f"{media!r}" if media else "none"
            await _answer(
                send,
                scope,
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"send the body as Content-Type: application/json (it was {said})",
                source="header",
                field="Content-Type",
            )
            return
        length = _content_length(scope["headers"])
        if length is not None and length > self.max_body:
            await _answer(send, scope, 413, "BODY_TOO_LARGE", f"the body exceeds {self.max_body} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _answer(send, scope, 413, "BODY_TOO_LARGE", f"the body exceeds {self.max_body} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if too_deep(body, self.max_depth):
            exc = too_deep_problem(self.max_depth)
            await _answer(send, scope, 400, exc.code, exc.detail, source="body")
            return
        at = control_character(body)
        if at is not None:
            await _answer(
                send,
                scope,
                422,
                "CONTROL_CHARACTER",
                f"the body holds a control character (byte {at}); only tab and newline are allowed, "
                "and only in free text",
                source="body",
            )
            return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _ndjson(self, scope: Any, receive: Any, send: Any) -> None:
        media = _media_type(scope["headers"])
        if media is not None and media not in NDJSON_TYPES:
            await _answer(
                send,
                scope,
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"send the catalog as Content-Type: application/x-ndjson (it was {media!r})",
                source="header",
                field="Content-Type",
            )
            return
        limit = self.max_depth
        carry = b""
        line = 0

        async def checked() -> dict[str, Any]:
            nonlocal carry, line
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = carry + message.get("body", b"")
            if message.get("more_body", False):
                cut = chunk.rfind(b"\n") + 1
                chunk, carry = chunk[:cut], chunk[cut:]
            else:
                carry = b""
            # line by line: only a line with more than `limit` brackets needs a closer look
            # (~3 ms per MiB of a real catalog)
            for number, text in enumerate(chunk.split(b"\n"), start=line + 1):
                if text.count(b"[") + text.count(b"{") > limit and too_deep(text, limit):
                    raise too_deep_problem(limit, number)
            line += chunk.count(b"\n")
            return message

        await self.app(scope, checked, send)


def _control_in_target(scope: Any) -> str | None:
    raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    if _RAW_CONTROL.search(unquote_to_bytes(raw)) or _CONTROL_TEXT.search(scope["path"]):
        return "path"
    query = scope.get("query_string", b"")
    if query and (b"%" in query or _RAW_CONTROL.search(query)):
        decoded = unquote_to_bytes(query.replace(b"+", b" "))
        if re.search(rb"[\x00-\x1f\x7f]", decoded):
            return "query"
    return None


async def _answer(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    scope: Any,
    status: int,
    code: str,
    detail: str,
    *,
    source: str = "body",
    field: str | None = None,
) -> None:
    from http import HTTPStatus

    problem = Problem(
        type=problem_type(code),
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=scope["path"],
        code=code,
        errors=[ErrorDetail(message=detail, field=field, source=source)],
    )
    body = msgspec.json.encode(problem)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
