"""`create_app()` — the one place the Litestar application is assembled.

For the pages (`api.pages.ROUTES`), and any route handler, the app provides:

- one dependency per service, each built here and given what it uses (no service builds another):
  `views: api.view.Views` — `await views.snapshot()` gives the newest version's `View` (`.catalog`
  with the small records and the bundles but no implementations, `.version`, `.versions`,
  `.summary`, `.children`); `reads: api.services.reads.ReadsService` — what grows with the
  catalog, as indexed, paged reads: `effective(view, region)`, `search(view, …)`,
  `item_detail(view, code, limit, offset)`, `findings(view, …)`, `report(view, …)`;
  `workflows: api.services.workflows.WorkflowService` — `await workflows.workflow(bundle, region)`
  and `.guide(...)` give cached bodies (`Computed`: `.body`, `.etag`, `.hit`) or raise;
  `bundles` (bundle writes), `publishing` (files and sheets as versions), `checks` (§4.1 across
  regions), `stats` (the statistics report and the advisor).
- dependency `store: catalog.store.Store` — the database (sync; writes only).
- dependency `settings: api.settings.Settings`.
- dependency `cases: api.services.cases.CaseService` — cases of §7 (hand-in, tasks, events,
  ratings, rectifications, figures); `.clock` is the day it counts from (Beijing time).
- push (§7.2): with `settings.nats_url`, task changes go to an outbox and a relay thread sends
  them to NATS JetStream (`api.relay`); `app.state.relay` (None without a broker).
- dependency `lifecycle: api.services.lifecycle.LifecycleService` — versions, diffs, the
  needs-review queue, submissions held for approval, the audit (§6), with region scopes.
- the same objects on `app.state` (`settings`, `store`, every service, `tokens` — which also
  checks page sessions — and `signins`, the failed sign-in limiter).
- roles: `role=` in a controller's class line (`api.routes.resource.Resource`) or
  `opt={"role": "portal" | "designer" | "reviewer" | "admin"}` on a handler (enforced by
  `api.auth.RoleMiddleware`; no role = public), or the guard `api.auth.requires(role)`.
- errors: a service raises a domain error (`api.services.errors`), whose status is one line in
  `api.problems`' table; an HTTP-only refusal in a route is `api.problems.ProblemException`.
  Every exception becomes an RFC 9457 problem (application/problem+json). Page handlers that
  want HTML errors can register their own `exception_handlers` on their router/controller.

- in front of Litestar (`App.front`, `api.cache.CachedAnswers`): a cached workflow or guide GET
  answered from memory with the bytes Litestar sent for it; the heads (newest version, bundles
  revision) watched by `api.notify.Heads` (no database read per request); the per-client rate
  limit counted in-process (`api.ratelimit`, after `api.proxies.ProxyHeaders`).

Run it with `onething serve` (uvicorn; `--workers N` imports `api.app:create_app` as a factory,
each worker reading its settings from the environment).
"""

from __future__ import annotations

import os
import re
from typing import Any

import anyio.to_thread
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Tag
from litestar.stores.registry import StoreRegistry

from catalog import scratch

from .auth import RoleMiddleware, TokenChecker
from .bodies import BodyGuard
from .breaker import CircuitBreaker
from .cache import CachedAnswers, cache_store
from .headers import ResponseHeaders
from .notify import Heads
from .openapi import docs_assets, docs_ui, query_names
from .openapi import refine as refine_openapi
from .problems import document_problems
from .proxies import ProxyHeaders, TrustedProxies
from .ratelimit import RateLimit, TokenBuckets
from .relay import attach as attach_relay
from .services.bundles import BundleService
from .services.cases import CaseService
from .services.checks import ChecksService
from .services.lifecycle import LifecycleService
from .services.publishing import PublishingService
from .services.reads import ReadsService
from .services.stats import StatsService
from .services.workflows import WorkflowService
from .sessions import SignInLimiter
from .settings import Settings
from .view import Views


def create_app(settings: Settings | None = None) -> Litestar:
    from catalog.store import Store

    from .pages import ROUTES as PAGE_ROUTES
    from .pages.errors import app_errors
    from .routes.audit import AuditController
    from .routes.bundles import BundleController
    from .routes.cases import CaseController, CaseFiguresController, RectificationController
    from .routes.catalog import CatalogController
    from .routes.checks import ChecksController
    from .routes.health import HealthController
    from .routes.items import ItemController
    from .routes.regions import RegionController
    from .routes.review import ReviewController
    from .routes.sheets import RegionSheetController
    from .routes.stats import AdviceController, StatsController
    from .routes.submissions import RegionSubmissionController, SubmissionController
    from .routes.tokens import TokenController
    from .routes.validation import ValidationController
    from .routes.versions import VersionController
    from .routes.workflows import BundleWorkflowController, WorkflowController

    api_controllers = (
        HealthController,
        RegionController,
        ItemController,
        BundleController,
        BundleWorkflowController,
        WorkflowController,
        ChecksController,
        ValidationController,
        CatalogController,
        RegionSubmissionController,
        RegionSheetController,
        SubmissionController,
        VersionController,
        ReviewController,
        TokenController,
        StatsController,
        AdviceController,
        AuditController,
        CaseController,
        RectificationController,
        CaseFiguresController,
    )
    document_problems(*api_controllers)
    settings = settings or Settings.from_env()
    scratch.sweep()  # what killed processes left in our temporary folder
    store = Store(
        settings.db_url,
        limits=settings.db_limits(),
        gate=CircuitBreaker("database", failures=1, reset_after=settings.db_retry, quiet=True),
        replicas=settings.replicas,
        replica_wait=settings.replica_wait,
    )
    cache, cache_kind = cache_store(
        settings.redis_url, timeout=settings.redis_timeout, reset_after=settings.redis_retry
    )
    heads = Heads(store, poll=settings.heads_poll, listen=settings.notify)
    views = Views(store, cache, heads, settings.local_in_view)
    services = {
        "views": views,
        "reads": ReadsService(store),
        "workflows": WorkflowService(views, cache, cache_ttl=settings.cache_ttl, cache_kind=cache_kind),
        "bundles": BundleService(views, store),
        "publishing": (publishing := PublishingService(views, store)),
        "checks": (checks := ChecksService(store, views._run)),
        "stats": StatsService(store, checks),
        "lifecycle": LifecycleService(views, publishing, store),
        "cases": (cases := CaseService(views, store, calendar_dir=os.environ.get("ONETHING_CALENDAR_DIR"))),
    }
    relay = attach_relay(store, settings.nats_url, clock=lambda: cases.clock())  # §7.2 push, optional
    tokens = TokenChecker(store, settings.token_ttl, sessions=store.page_sessions())
    signins = SignInLimiter(settings.signin_failures, settings.signin_window)
    buckets = TokenBuckets(settings.rate_limit) if settings.rate_limit > 0 else None
    trusted = TrustedProxies(settings.trusted_proxies)
    declared_queries: dict[tuple[str, str], frozenset[str]] = {}  # filled once the schema is built

    async def shutdown() -> None:
        if relay is not None:
            await anyio.to_thread.run_sync(relay.stop)
        if cache_kind == "redis":
            await cache.__aexit__(None, None, None)  # type: ignore[attr-defined]
        views.close()
        store.dispose()

    app = App(
        route_handlers=[*api_controllers, *PAGE_ROUTES, docs_assets()],
        dependencies={
            "settings": Provide(lambda: settings, sync_to_thread=False, use_cache=True),
            "store": Provide(lambda: store, sync_to_thread=False, use_cache=True),
            **{name: _provide(service) for name, service in services.items()},
        },
        state=State(
            {
                "settings": settings,
                "store": store,
                **services,
                "tokens": tokens,
                "signins": signins,
                "relay": relay,
            }
        ),
        stores=StoreRegistry({"workflows": cache}),
        middleware=[
            DefineMiddleware(ProxyHeaders, trusted=trusted),
            *(
                [
                    DefineMiddleware(
                        RateLimit, buckets=buckets, tokens=tokens, count_tokens=settings.rate_limit_tokens
                    )
                ]
                if buckets is not None
                else []
            ),
            DefineMiddleware(RoleMiddleware, checker=tokens, public_read=settings.public_read),
            DefineMiddleware(BodyGuard, max_body=settings.max_body, query_names=declared_queries),
        ],
        before_send=[ResponseHeaders(settings.public_read, settings.public_max_age)],
        exception_handlers={Exception: app_errors},  # problem_handler, but pages under /pages/
        request_max_body_size=settings.max_body,
        on_startup=[heads.start, *([relay.start] if relay is not None else [])],
        on_shutdown=[shutdown],
        openapi_config=OpenAPIConfig(
            title="onething",
            version="1",
            description="四级四同 service catalog and 'one thing, one visit' bundler. "
            "Published reads need no token; writes and reviewer data need "
            "`Authorization: Bearer <token>`; errors are RFC 9457 problem documents.",
            path="/schema",
            render_plugins=[docs_ui()],
            components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
            security=[{"bearer": []}],
            tags=[
                Tag(name=name)
                for name in (
                    "health",
                    "regions",
                    "items",
                    "bundles",
                    "workflows",
                    "checks",
                    "validation",
                    "catalog",
                    "submissions",
                    "versions",
                    "tokens",
                    "stats",
                    "audit",
                    "cases",
                )
            ],
        ),
        debug=settings.debug,
    )
    declared_queries.update(query_names(refine_openapi(app, settings.public_read)))
    app.front = CachedAnswers(
        lambda scope, receive, send: Litestar.__call__(app, scope, receive, send),
        routes=CACHED_ROUTES,
        heads=heads.known,
        public_read=settings.public_read,
        tokens=tokens,
        buckets=buckets,
        count_tokens=settings.rate_limit_tokens,
        trusted=trusted,
    )
    return app


CACHED_ROUTES = re.compile(r"/bundles/[^/]+/(?:workflow|guide)\Z")
"""GETs whose cached answers `CachedAnswers` replays in front of Litestar."""


class App(Litestar):
    """Litestar, with `front` (`api.cache.CachedAnswers`) answering HTTP requests first."""

    front: CachedAnswers | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.front is not None:
            await self.front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def _provide(service: object) -> Provide:
    return Provide(lambda: service, sync_to_thread=False, use_cache=True)
