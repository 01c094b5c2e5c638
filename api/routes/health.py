"""GET /health: liveness for a load balancer, with the catalog summary. Public."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from ..schemas import Health
from ..state import CatalogService


class HealthController(Controller):
    path = "/health"
    tags = ("health",)

    @get(
        "/",
        summary="Health and catalog summary",
        description="503 when the database or the cache cannot be reached.",
        responses={503: ResponseSpec(data_container=Health, description="degraded")},
    )
    async def health(self, catalog_service: NamedDependency[CatalogService]) -> Response[Health]:
        try:
            snap = await catalog_service.snapshot()
        except Exception:  # noqa: BLE001 - the database is down: say so, do not 500
            body = Health(
                status="degraded",
                revision=-1,
                database="unavailable",
                cache=catalog_service.cache_kind,
                catalog=None,
            )  # type: ignore[arg-type]
            return Response(body, status_code=503, headers={"Cache-Control": "no-store"})
        cache = catalog_service.cache_kind
        try:
            await catalog_service.cache.exists("health")
        except Exception:  # noqa: BLE001 - the cache is down: say so
            cache = "unavailable"
        status = "ok" if cache != "unavailable" else "degraded"
        body = Health(
            status=status,
            revision=snap.revision,
            database="ok",
            cache=cache,  # type: ignore[arg-type]
            catalog=snap.summary,
        )
        return Response(
            body, status_code=200 if status == "ok" else 503, headers={"Cache-Control": "no-store"}
        )
