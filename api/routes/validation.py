"""The reviewer's report: findings (filterable) and 四同 conformity per region."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import Parameter

from ..schemas import ValidationReport
from ..state import CatalogService, report_view
from .catalog import read_limited

Limit = Annotated[int, Parameter(ge=1, le=100_000, description="page size")]
Offset = Annotated[int, Parameter(ge=0, le=100_000_000, description="findings to skip")]


class ValidationController(Controller):
    path = "/validation"
    tags = ("validation",)
    opt = {"role": "reviewer"}  # noqa: RUF012

    @get(
        "/",
        summary="Validation report of the published catalog",
        description="`region` keeps the findings about that region and the regions under it (region and "
        "implementation records) and its conformity rows; `rule` and `severity` filter by rule id.",
    )
    async def report(
        self,
        catalog_service: NamedDependency[CatalogService],
        rule: Annotated[str | None, Parameter(max_length=40, description="a rule id of §3")] = None,
        severity: Annotated[Literal["error", "warning"] | None, Parameter()] = None,
        region: Annotated[str | None, Parameter(max_length=16)] = None,
        limit: Limit = 1000,
        offset: Offset = 0,
    ) -> ValidationReport:
        snap = await catalog_service.snapshot()
        report = await anyio.to_thread.run_sync(snap.report)
        return report_view(
            snap, report, rule=rule, severity=severity, region=region, limit=limit, offset=offset
        )

    @post(
        "/",
        summary="Validate an uploaded catalog without publishing it",
        status_code=200,
        opt={"body": "ndjson"},
        request_max_body_size=None,
    )
    async def dry_run(
        self,
        request: Request,
        catalog_service: NamedDependency[CatalogService],
        rule: Annotated[str | None, Parameter(max_length=40)] = None,
        severity: Annotated[Literal["error", "warning"] | None, Parameter()] = None,
        limit: Limit = 1000,
        offset: Offset = 0,
    ) -> ValidationReport:
        body = await read_limited(request, request.app.state.settings.max_catalog_body)
        report = await anyio.to_thread.run_sync(catalog_service.validate_upload, body)
        return report_view(
            None, report, rule=rule, severity=severity, region=None, limit=limit, offset=offset
        )
