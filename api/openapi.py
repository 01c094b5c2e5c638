"""The OpenAPI document, made to say what the server does where Litestar's generator falls short.

`refine(app)` runs in `create_app`, on the schema Litestar generated (and then serves; a process's
later apps are given the first one's, refined once):

- request bodies: each input Struct's schema is msgspec's own, which keeps the constraints
  of list items (item code length and pattern) and says `additionalProperties: false`
  for a Struct that refuses unknown fields;
- security: an operation whose handler asks for no role (`GET /health`) has `security: []`;
- `If-Match` is documented on the operations that need it (bundle PUT and DELETE), with
  428 and 412; 412/428/409 are not claimed where nothing checks them;
- string path and query parameters carry the pattern `BodyGuard` enforces (no control
  characters);
- every operation may answer 503 (database unavailable, with `Retry-After`); an operation
  with a JSON body may answer 415 (not JSON) and 422 (control characters);
- the refusals of schema-valid requests (a region, bundle or answer the catalog does not have,
  a bundle that does not validate, a stale `If-Match`…) are declared per operation: each
  status with its problem `code`s in the response's description and in `x-refusals`
  (`{"422": ["UNKNOWN_REGION", …]}`), which the fuzz test holds the server to;
- a response that is one of several shapes says `anyOf` (Litestar's `oneOf` is wrong where
  one shape is a superset of another: `GET /bundles` and `GET /bundles?region=`).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router

from . import schemas
from .problems import PROBLEM_JSON
from .schemas import FREE_TEXT, ONE_LINE

DOCS_ASSETS = "/docs-assets"


def _swagger_dir() -> Any:
    from pathlib import Path

    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


def docs_ui() -> SwaggerRenderPlugin:
    """The docs UI at `/schema`: Swagger UI from the `swagger-ui-bundle` package, served by us —
    no CDN, so it works on an intranet without internet."""
    return SwaggerRenderPlugin(
        js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
        path=["/", "/swagger"],
        favicon="<link rel='icon' type='image/svg+xml' href='/pages/static/favicon.svg'>",
    )


def docs_assets() -> Any:
    return create_static_files_router(
        path=DOCS_ASSETS, directories=[_swagger_dir()], name="docs-assets", include_in_schema=False
    )


IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": 'the bundle\'s ETag as read (`"<version>"`), or `*`: without it 428, '
    "with a version that is no longer current 412",
    "schema": {"type": "string"},
}
IF_MATCH_OPERATIONS = {("/bundles/{bundle_id}", "put"), ("/bundles/{bundle_id}", "delete")}

BUNDLING = ["UNKNOWN_REGION", "UNKNOWN_ITEM", "NOT_IMPLEMENTED", "CYCLE", "UNKNOWN_ANSWER"]
"""§4's errors for a well-formed request (`UNKNOWN_BUNDLE` is 404)."""
PUBLISHING = ["INVALID_CATALOG", "INVALID_SHEET", "TOO_MANY_ROWS"]
REFUSALS: dict[tuple[str, str], dict[str, list[str]]] = {
    ("/bundles", "get"): {"422": ["UNKNOWN_REGION"]},
    ("/bundles", "post"): {"409": ["BUNDLE_EXISTS"], "422": ["INVALID_BUNDLE"]},
    ("/bundles/{bundle_id}", "put"): {"412": ["STALE_VERSION"], "422": ["INVALID_BUNDLE"]},
    ("/bundles/{bundle_id}", "delete"): {"412": ["STALE_VERSION"]},
    ("/bundles/{bundle_id}/workflow", "get"): {"422": [*BUNDLING, "INVALID_ANSWER"]},
    ("/bundles/{bundle_id}/guide", "get"): {"422": [*BUNDLING, "INVALID_ANSWER"]},
    ("/workflows", "post"): {"422": BUNDLING},
    ("/checks", "get"): {"422": ["UNKNOWN_REGION"]},
    ("/review", "get"): {"422": ["UNKNOWN_REGION"]},
    ("/stats", "get"): {"422": ["UNKNOWN_REGION"]},
    ("/submissions", "get"): {"422": ["UNKNOWN_REGION"]},
    ("/submissions", "post"): {"422": ["UNKNOWN_REGION", *PUBLISHING]},
    ("/submissions/{sid}/approve", "post"): {"409": ["NOT_PENDING"], "422": PUBLISHING},
    ("/submissions/{sid}/reject", "post"): {"409": ["NOT_PENDING"]},
    ("/regions/{code}/implementations", "put"): {"422": ["UNKNOWN_REGION", *PUBLISHING]},
    ("/regions/{code}/implementations/sheet", "get"): {"422": ["TOO_MANY_ROWS"]},
    ("/catalog", "put"): {"422": ["INVALID_CATALOG"]},
    ("/versions/{version}/republish", "post"): {"422": ["INVALID_CATALOG"]},
    ("/tokens", "post"): {"422": ["INVALID_SCOPE"]},
    # Cases (§7): what the workflow, the case's state or the agency's queue makes of a valid body.
    ("/cases", "post"): {
        "422": [
            "UNANSWERED",
            "FORM",
            "MATERIALS",
            "CONSENT",
            "NOT_OFFERED",
            "UNKNOWN_BUNDLE",
            "ANSWER",
            *BUNDLING,
        ]
    },
    ("/tasks/{task_id}/events", "post"): {
        "409": ["TRANSITION"],
        "422": ["KEY", "NOTE", "MISSING", "OUTPUTS"],
    },
    ("/agencies/{uscc}/tasks", "get"): {"422": ["CURSOR"]},
    ("/cases/{case_id}/rating", "post"): {"409": ["NOT_FINAL", "RATED"], "422": ["RATING"]},
    ("/rectifications/{rid}/answer", "post"): {"409": ["TRANSITION"]},
    ("/rectifications/{rid}/close", "post"): {"409": ["TRANSITION"]},
    ("/rectifications/{rid}/reopen", "post"): {"409": ["TRANSITION"]},
}
"""(path, method) → status → the problem codes with which the operation refuses a request its
schema allows: what depends on the catalog (or on a version another client moved on), not on
the request's shape."""


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _input_structs() -> dict[str, type[msgspec.Struct]]:
    from . import schemas_lifecycle

    return {
        name: value
        for module in (schemas, schemas_lifecycle)
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, msgspec.Struct)
        and value.__struct_config__.forbid_unknown_fields
    }


_REFINED: dict[bool, dict[str, Any]] = {}
"""The refined document by `public_read`. Every app `create_app` makes has the same routes, so a
process builds the document once (most of what making an app costs) and its later apps serve it."""


def refine(app: Litestar, public_read: bool = False) -> dict[str, Any]:
    """Refine the app's OpenAPI document in place (the dict Litestar serves) and return it.
    `public_read`: the published reads take a token but need none (`security: [{}, bearer]`)."""
    plugin = app.plugins.get(OpenAPIPlugin)
    if (known := _REFINED.get(public_read)) is not None:
        plugin._openapi_schema = known  # what `provide_openapi_schema` serves from now on
        return known
    document = _REFINED[public_read] = plugin.provide_openapi_schema()
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, struct in _input_structs().items():
        if name in components:
            generated = msgspec.json.schema(struct, ref_template="#/components/schemas/{name}")
            components[name] = generated["$defs"][name]
    for name in CASE_BODIES & components.keys():
        _body_text(components[name])
    public = _public_operations(app)
    optional = _public_reads(app) if public_read else set()
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if (path, method) in public:
                operation["security"] = []
                for status in ("401", "403"):
                    responses.pop(status, None)
            elif (path, method) in optional:
                operation["security"] = [{}, {"bearer": []}]
                responses.pop("403", None)
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in ("path", "query"):
                    _no_control_characters(parameter.get("schema", {}))
            if path == "/catalog" and method == "get":  # `?format=`: CPSV-AP as JSON-LD or Turtle too
                content = responses.get("200", {}).get("content", {})
                content.setdefault("application/ld+json", {"schema": {"type": "object"}})
                content.setdefault("text/turtle", {"schema": {"type": "string"}})
            if path == "/regions/{code}/implementations/sheet" and method == "get":  # `?format=csv`
                content = responses.get("200", {}).get("content", {})
                for media in content.values():
                    media["schema"] = {"type": "string", "format": "binary"}
                content.setdefault("text/csv", {"schema": {"type": "string"}})
            for media in responses.get("200", {}).get("content", {}).values():
                schema = media.get("schema", {})
                if "oneOf" in schema:  # the shapes overlap: the body is at least one of them
                    schema["anyOf"] = schema.pop("oneOf")
            for status, codes in REFUSALS.get((path, method), {}).items():
                operation.setdefault("x-refusals", {})[status] = list(codes)
                response = responses.setdefault(status, _problem(""))
                said = response.get("description", "").rstrip(".")
                response["description"] = (
                    (said + "; " if said else "")
                    + "a valid request refused: "
                    + ", ".join(f"`{code}`" for code in codes)
                )
            if (path, method) in IF_MATCH_OPERATIONS:
                operation.setdefault("parameters", []).append(dict(IF_MATCH))
            elif method in ("put", "delete"):
                for status in ("409", "412", "428"):
                    responses.pop(status, None)
            if "Problem" in components:
                responses.setdefault(
                    "503", _problem("the database is unavailable; `Retry-After` says when to retry")
                )
                if "requestBody" in operation and _json_body(operation):
                    responses.setdefault("415", _problem("the body is not sent as application/json"))
                    responses.setdefault(
                        "422", _problem("refused: a control character in the body, or findings")
                    )
    return document


def query_names(document: dict[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """(path, METHOD) → the query parameters the operation declares (others are refused)."""
    out: dict[tuple[str, str], frozenset[str]] = {}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
                out[(path, method.upper())] = frozenset(names)
    return out


def _no_control_characters(schema: dict[str, Any]) -> None:
    """Say what `api.bodies.BodyGuard` enforces: no control character in a path or query value."""
    if schema.get("type") == "string" and not {"pattern", "enum", "format", "const"} & schema.keys():
        schema["pattern"] = ONE_LINE
    for option in schema.get("oneOf", []) + schema.get("anyOf", []):
        _no_control_characters(option)
    if isinstance(schema.get("items"), dict):  # a repeated parameter (`answer=…&answer=…`)
        _no_control_characters(schema["items"])


CASE_BODIES = frozenset({"HandIn", "Applicant", "EventIn", "RatingIn", "AnswerIn"})
"""The cases' bodies (`casework.model`), whose text the core leaves unconstrained."""


def _body_text(schema: dict[str, Any]) -> None:
    """Say what `api.bodies.BodyGuard` enforces of a JSON body: no control character but tab and
    line breaks in any string, a map's keys included."""
    if schema.get("type") == "string" and not {"pattern", "enum", "format", "const"} & schema.keys():
        schema["pattern"] = FREE_TEXT
    if isinstance(schema.get("additionalProperties"), dict):
        schema.setdefault("propertyNames", {"pattern": FREE_TEXT})
        _body_text(schema["additionalProperties"])
    for key in ("items",):
        if isinstance(schema.get(key), dict):
            _body_text(schema[key])
    for option in schema.get("oneOf", []) + schema.get("anyOf", []):
        _body_text(option)
    for prop in schema.get("properties", {}).values():
        _body_text(prop)


def _json_body(operation: dict[str, Any]) -> bool:
    return "application/json" in operation["requestBody"].get("content", {})


def _public_reads(app: Litestar) -> set[tuple[str, str]]:
    """(path, method) of the published reads (`api.headers.is_public`)."""
    from .headers import is_public

    return {
        (route.path_format, method.lower())
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        for method in handler.http_methods
        if handler.resolve_include_in_schema() and is_public(handler, method, True)
    }


def _public_operations(app: Litestar) -> set[tuple[str, str]]:
    """(path, method) of the schema's operations whose handler asks for no role."""
    public: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema() or handler.opt.get("role") is not None:
                continue
            if handler.opt.get("credentials"):  # checks a token or other credentials itself (cases)
                continue
            for method in handler.http_methods:
                public.add((route.path_format, method.lower()))
    return public
