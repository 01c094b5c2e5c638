"""Response headers every answer carries, and the public cache policy of published reads.

- Security: a Content-Security-Policy (own scripts, styles and images only; the pages' inline
  `<style>` blocks allowed, no inline script — the API docs page, whose Swagger UI starts from
  an inline script, gets that one allowance), `X-Frame-Options: DENY`,
  `X-Content-Type-Options: nosniff`, `Referrer-Policy: strict-origin-when-cross-origin`.
- Public reads: a GET of a route marked `opt={"public": True}` whose role is `portal` (published
  regions, items, bundles, workflows and guides) needs no token while `settings.public_read` is
  on (see `api.auth.RoleMiddleware`); its 200 and 304 answers then say
  `Cache-Control: public, max-age=<settings.public_max_age>`, so a CDN in front of the portal
  may keep them (the ETags stay as they are).
- A 429 of the rate limit says when to come back (`Retry-After`, from `RateLimit-Reset`).
"""

from __future__ import annotations

from typing import Any

PUBLIC_OPT = "public"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
SECURITY = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)


def is_public(handler: Any, method: str, public_read: bool) -> bool:
    """Whether this request may go without a token: a published read while public reads are on."""
    return (
        public_read
        and method in ("GET", "HEAD")
        and handler is not None
        and bool(handler.opt.get(PUBLIC_OPT))
        and handler.opt.get("role") == "portal"
    )


class ResponseHeaders:
    """A Litestar `before_send` hook: it sees every response, routed or not, errors included."""

    def __init__(self, public_read: bool, max_age: int, docs_path: str = "/schema"):
        self.public_read = public_read
        self.cache_control = f"public, max-age={max_age}".encode()
        self.docs_path = docs_path

    async def __call__(self, message: Any, scope: Any) -> None:
        if message["type"] != "http.response.start":
            return
        path: str = scope.get("path", "")
        docs = path == self.docs_path or path.startswith(self.docs_path + "/")
        ours = {b"content-security-policy", *(name for name, _ in SECURITY)}
        headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in ours]
        headers += [(b"content-security-policy", (DOCS_CSP if docs else CSP).encode()), *SECURITY]
        status = message["status"]
        if status in (200, 304) and is_public(scope.get("route_handler"), scope["method"], self.public_read):
            headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
            headers.append((b"cache-control", self.cache_control))
        if status == 429 and not any(k.lower() == b"retry-after" for k, _ in headers):
            reset = next((v for k, v in headers if k.lower() == b"ratelimit-reset"), b"60")
            headers.append((b"retry-after", reset))
        message["headers"] = headers
