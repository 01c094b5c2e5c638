"""GET /health: liveness for a load balancer, with the catalog summary. Public."""

from __future__ import annotations

from typing import Literal

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from ..problems import DATABASE_RETRY_AFTER, _reason
from ..schemas import Health
from ..services.workflows import WorkflowService
from ..view import Views
from .resource import Resource


class HealthController(Resource, path="/health", tag="health"):
    @get(
        summary="Health and catalog summary",
        description="503 (with `Retry-After`) when the database or the cache cannot be reached "
        "or does not answer within its time limit; `database` and `cache` say which. `broker`: "
        "NATS for the push of tasks (optional: its absence or outage is reported, not a 503).",
        responses={503: ResponseSpec(data_container=Health, description="degraded")},
    )
    async def health(
        self, request: Request, views: NamedDependency[Views], workflows: NamedDependency[WorkflowService]
    ) -> Response[Health]:
        relay = request.app.state.get("relay")
        broker: Literal["connected", "not configured", "down"] = (
            "not configured" if relay is None else relay.broker
        )
        cache = workflows.cache_kind
        try:
            await workflows.cache.exists("health")  # bounded, behind the cache's breaker
        except Exception:  # noqa: BLE001 - the cache is down: say so
            cache = "unavailable"
        try:
            snap = await views.snapshot(fresh=True)  # bounded: the store's quick limit and gate
        except Exception as exc:  # noqa: BLE001 - the database is down: say so, do not 500
            views.outage.failed(_reason(exc))
            body = Health(
                status="degraded",
                revision=-1,
                database="unavailable",
                cache=cache,  # type: ignore[arg-type]
                catalog=None,
                broker=broker,
            )
            return _degraded(body, DATABASE_RETRY_AFTER)
        status: Literal["ok", "degraded"] = "ok" if cache != "unavailable" else "degraded"
        body = Health(
            status=status,
            revision=snap.revision,
            database="ok",
            cache=cache,  # type: ignore[arg-type]
            catalog=await views.summary(snap),
            broker=broker,
        )
        if status != "ok":
            breaker = getattr(workflows.cache, "breaker", None)
            return _degraded(body, max(1, round(getattr(breaker, "reset_after", DATABASE_RETRY_AFTER))))
        return Response(body, status_code=200, headers={"Cache-Control": "no-store"})


def _degraded(body: Health, retry_after: int) -> Response[Health]:
    return Response(
        body, status_code=503, headers={"Cache-Control": "no-store", "Retry-After": str(retry_after)}
    )
