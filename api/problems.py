"""Every error the API returns is an RFC 9457 problem document (application/problem+json).

`type` is a URN naming the problem (`urn:onething:problem:<slug>`), or `about:blank`
for a plain HTTP status whose title says it all (404, 405, 401…). `errors` names the
field or the catalog record at fault. Litestar's own exceptions (validation of
parameters and bodies, routing 404/405, 413) pass through `problem_handler`, and
anything unexpected becomes a 500 problem without internals.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from msgspec import Struct

from .schemas import ErrorDetail

log = logging.getLogger("onething.api")

_MISSING = re.compile(r"(query|path|header|cookie) parameter '([^']+)'")

PROBLEM_JSON = "application/problem+json"


class Problem(Struct, omit_defaults=True):
    """RFC 9457 problem details, plus `code` (a stable machine name) and `errors`."""

    type: str
    title: str
    status: int
    detail: str = ""
    instance: str | None = None
    code: str | None = None
    errors: list[ErrorDetail] = []
    items: list[str] | None = None
    """For bundling errors (§4): the items the error names."""


class ProblemException(HTTPException):
    """Raise from services or controllers to answer with a specific problem."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: list[ErrorDetail] | None = None,
        items: list[str] | None = None,
        headers: dict[str, str] | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(detail=detail, status_code=status, headers=headers)
        self.code = code
        self.errors = errors or []
        self.items = items
        self.title = title or HTTPStatus(status).phrase


def problem_type(code: str) -> str:
    return f"urn:onething:problem:{code.lower().replace('_', '-')}"


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def domain_problem(exc: Exception, instance: str) -> Response | None:
    """A domain error (`casework`'s, §7, or `api.services.errors`') as its problem (None: not one)."""
    from casework import CaseError

    status = status_of(exc)
    if status is None:
        return None
    if isinstance(exc, CaseError):
        detail, headers = exc.message, BEARER if status == 401 else None
        errors = [ErrorDetail(message=f.reason, **msgspec.structs.asdict(f)) for f in exc.errors]
    else:
        detail, headers, errors = exc.detail, exc.headers, exc.errors  # type: ignore[attr-defined]
    problem = Problem(
        type=problem_type(exc.code),  # type: ignore[attr-defined]
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance,
        code=exc.code,  # type: ignore[attr-defined]
        errors=errors,
        items=exc.items,  # type: ignore[attr-defined]
    )
    return problem_response(problem, headers)


BEARER = {"WWW-Authenticate": 'Bearer realm="onething"'}


def problem_handler(request: Request[Any, Any, Any], exc: Exception) -> Response:
    """The one exception handler: HTTPException subclasses keep their status, the rest are 500."""
    instance = request.url.path
    domain = domain_problem(exc, instance)
    if domain is not None:
        return domain
    if isinstance(exc, ProblemException):
        problem = Problem(
            type=problem_type(exc.code),
            title=exc.title,
            status=exc.status_code,
            detail=exc.detail,
            instance=instance,
            code=exc.code,
            errors=exc.errors,
            items=exc.items,
        )
        return problem_response(problem, exc.headers)
    if isinstance(exc, ValidationException):
        errors = []
        extra = exc.extra if isinstance(exc.extra, list) else []
        for entry in extra:
            if isinstance(entry, dict):
                errors.append(
                    ErrorDetail(
                        message=str(entry.get("message", "invalid")),
                        field=None if entry.get("key") is None else str(entry.get("key")),
                        source=_source(entry.get("source")),
                    )
                )
        if not errors:  # e.g. "Missing required query parameter 'region' for path …"
            missing = _MISSING.search(exc.detail or "")
            errors.append(
                ErrorDetail(
                    message=exc.detail or "invalid",
                    field=missing.group(2) if missing else None,
                    source=missing.group(1) if missing else None,
                )
            )
        problem = Problem(
            type=problem_type("INVALID_REQUEST"),
            title="Invalid request",
            status=exc.status_code,
            detail=exc.detail or "the request does not match the API's schema",
            instance=instance,
            code="INVALID_REQUEST",
            errors=errors,
        )
        return problem_response(problem, exc.headers)
    if isinstance(exc, HTTPException) and exc.status_code == 400:  # e.g. malformed JSON
        problem = Problem(
            type=problem_type("INVALID_REQUEST"),
            title="Invalid request",
            status=400,
            detail=exc.detail or "the request is malformed",
            instance=instance,
            code="INVALID_REQUEST",
            errors=[ErrorDetail(message=exc.detail or "malformed", source="body")],
        )
        return problem_response(problem, exc.headers)
    if isinstance(exc, HTTPException):
        status = exc.status_code
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        detail = exc.detail if exc.detail and exc.detail != phrase else ""
        problem = Problem(type="about:blank", title=phrase, status=status, detail=detail, instance=instance)
        return problem_response(problem, exc.headers)
    unavailable = _unavailable(exc, getattr(request.app.state.get("views"), "outage", None))
    if unavailable is not None:
        status, code, detail, retry = unavailable
        problem = Problem(
            type=problem_type(code),
            title=HTTPStatus(status).phrase,
            status=status,
            detail=detail,
            instance=instance,
            code=code,
        )
        return problem_response(problem, {"Retry-After": str(retry)})
    if _is_database_error(exc):
        _log_database_error(request.method, instance, exc)
    else:
        log.exception("unhandled error on %s %s", request.method, instance, exc_info=exc)
    problem = Problem(
        type="about:blank",
        title="Internal Server Error",
        status=500,
        detail="an unexpected error; it has been logged",
        instance=instance,
    )
    return problem_response(problem)


# -- outages: 503 with Retry-After, logged once a while, never a traceback per request ---------

DATABASE_RETRY_AFTER = 5
PUBLISH_RETRY_AFTER = 10


class OutageLog:
    """One log line when an outage starts (an error) and one when it ends (`recovered`, info,
    with how long it lasted and how many requests were answered 503): never one per request."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        self.since: float | None = None
        """When the current outage began (None: none is going on)."""
        self._answered = 0

    def failed(self, reason: str) -> None:
        with self._lock:
            self._answered += 1
            if self.since is not None:
                return
            self.since, self._answered = time.monotonic(), 1
        log.error("%s unavailable (%s); answering 503 with Retry-After", self.what, reason)

    def recovered(self) -> None:
        if self.since is None:
            return
        with self._lock:
            if self.since is None:
                return
            lasted, answered, self.since = time.monotonic() - self.since, self._answered, None
        log.info("%s available again after %.1f s; %d requests were answered 503", self.what, lasted, answered)


database_outage = OutageLog("database")


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


DATABASE_MODULES = frozenset({"sqlalchemy", "psycopg", "sqlite3"})


def _is_database_error(exc: BaseException) -> bool:
    return any(cls.__module__.split(".")[0] in DATABASE_MODULES for cls in type(exc).__mro__)


def _reason(exc: BaseException) -> str:
    """The driver's error class and the first line of its message: no SQL, no parameters."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0] if lines else ''}"[:300]


def _unavailable(exc: BaseException, outage: OutageLog | None = None) -> tuple[int, str, str, int] | None:
    """(status, code, detail, Retry-After) for errors that are an outage or a busy store (logged
    once per outage, in the app's `outage` log)."""
    from catalog.store import StoreBusy

    names = _names(exc)
    if isinstance(exc, StoreBusy):
        log.warning("publish refused: %s", str(exc)[:200])
        return (
            503,
            "PUBLISH_BUSY",
            "another publish is still being written; nothing was published, try again",
            PUBLISH_RETRY_AFTER,
        )
    if _is_database_error(exc) and names & {
        "OperationalError",
        "InterfaceError",
        "DisconnectionError",
        "TimeoutError",
    }:
        orig = _names(getattr(exc, "orig", None) or exc)
        if orig & {
            "TransactionRollback",
            "TransactionRollbackError",
            "DeadlockDetected",
            "SerializationFailure",
        }:
            log.warning("a write was rolled back by the database (%s); answering 503", _reason(exc))
            return 503, "DATABASE_BUSY", "a concurrent write got in the way; try again", 1
        (outage or database_outage).failed(_reason(exc))
        detail = "the database cannot be reached; try again shortly"
        return 503, "DATABASE_UNAVAILABLE", detail, DATABASE_RETRY_AFTER
    return None


def _log_database_error(method: str, path: str, exc: BaseException) -> None:
    """A 500 from the database, logged with where it happened but never the SQL parameters
    (a token digest, a bundle's content): SQLAlchemy's message would print them."""
    if hasattr(exc, "hide_parameters"):
        exc.hide_parameters = True  # type: ignore[attr-defined]
    statement = str(getattr(exc, "statement", "") or "")[:500]
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "database error on %s %s: %s\nstatement (parameters not logged): %s\n%s",
        method,
        path,
        _reason(exc),
        statement,
        frames,
    )


def _source(source: Any) -> str | None:
    """Litestar names a parameter's source `ParamType.QUERY` or "body"; we say query, body, path…"""
    if source is None:
        return None
    return str(getattr(source, "value", source)).lower()


# Documented on every route in the OpenAPI schema.
PROBLEM_RESPONSES_DOC = {
    "description": "an RFC 9457 problem document",
}


def _problem_spec(description: str) -> Any:
    from litestar.openapi.datastructures import ResponseSpec

    return ResponseSpec(data_container=Problem, media_type=PROBLEM_JSON, description=description)


def document_problems(*controllers: type) -> None:
    """Say in the OpenAPI schema that errors are problem documents (Litestar would document its
    own 400 body shape), on every route handler of these controllers. Idempotent."""
    from litestar.handlers.http_handlers import HTTPRouteHandler

    common = {
        400: "invalid request: a parameter or the body does not match the schema",
        401: "no or unknown bearer token",
        403: "the token's role may not do this",
        404: "no such resource",
        413: "the body is too large",
        422: "the request is well-formed but refused (findings or a bundling error in `errors`)",
    }
    for controller in controllers:
        for value in vars(controller).values():
            if isinstance(value, HTTPRouteHandler):
                wanted = {code: _problem_spec(text) for code, text in common.items()}
                if value.opt.get("conflict"):  # a write that can find its target already changed
                    wanted[409] = _problem_spec(value.opt["conflict"])
                if value.opt.get("forbidden"):  # a refusal beyond the role: who the caller is
                    wanted[403] = _problem_spec(value.opt["forbidden"])
                if "PUT" in value.http_methods or "DELETE" in value.http_methods:
                    wanted[409] = _problem_spec("conflict")
                    wanted[412] = _problem_spec("If-Match names a version that is no longer current")
                    wanted[428] = _problem_spec("If-Match is required")
                value.responses = {**wanted, **(value.responses or {})}


def _statuses() -> dict[type[Exception], int]:
    """Every domain error → its HTTP status, one line each: the cases' (§7, `casework`) and the
    API services' (`api.services.errors`)."""
    import casework as c

    from .services import errors as e

    return {
        c.Refused: 422,
        c.Transition: 409,
        c.NotFinal: 409,
        c.Rated: 409,
        c.CaseNotFound: 404,
        c.Denied: 403,
        c.Unauthenticated: 401,
        c.Unconfigured: 503,
        e.NoCatalog: 409,
        e.UnknownBundle: 404,
        e.UnknownRegion: 422,
        e.UnknownAnswer: 422,
        e.Unbundlable: 422,
        e.BundleExists: 409,
        e.StaleVersion: 412,
        e.InvalidBundle: 422,
        e.InvalidCatalog: 422,
        e.TooManyRows: 422,
        e.NotFound: 404,
        e.OutOfScope: 403,
        e.NotPending: 409,
        e.OwnSubmission: 403,
        e.TooLarge: 413,
    }


def status_of(exc: Exception) -> int | None:
    """The HTTP status of a domain error (None: not one)."""
    return next((s for cls, s in _statuses().items() if isinstance(exc, cls)), None)
