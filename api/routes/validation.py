"""The reviewer's report: findings (filterable) and 四同 conformity per region."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio.to_thread
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import Parameter

from ..schemas import ValidationReport, report_view
from ..services.publishing import PublishingService
from ..services.reads import ReadsService
from ..view import Views
from .catalog import receive_file
from .regions import snapshot_within
from .resource import Resource

Limit = Annotated[int, Parameter(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Parameter(ge=0, le=100_000_000, description="findings to skip")]


class ValidationController(Resource, path="/validation", tag="validation", role="reviewer"):
    @get(
        summary="Validation report of the newest version (computed at publish)",
        description="`region` keeps the findings about that region and the regions under it (region and "
        "implementation records) and its conformity rows; `rule` and `severity` filter by rule id.",
    )
    async def report(
        self,
        views: NamedDependency[Views],
        reads: NamedDependency[ReadsService],
        rule: Annotated[str | None, Parameter(max_length=40, description="a rule id of §3")] = None,
        severity: Annotated[Literal["error", "warning"] | None, Parameter()] = None,
        region: Annotated[str | None, Parameter(max_length=16)] = None,
        limit: Limit = 1000,
        offset: Offset = 0,
    ) -> ValidationReport:
        view = await snapshot_within(views, region)
        return await reads.report(
            view, rule=rule, severity=severity, region=region, limit=limit, offset=offset
        )

    @post(
        summary="Validate an uploaded catalog without publishing it",
        status_code=200,
        opt={"body": "ndjson"},
        request_max_body_size=None,
    )
    async def dry_run(
        self,
        request: Request,
        publishing: NamedDependency[PublishingService],
        rule: Annotated[str | None, Parameter(max_length=40)] = None,
        severity: Annotated[Literal["error", "warning"] | None, Parameter()] = None,
        limit: Limit = 1000,
        offset: Offset = 0,
    ) -> ValidationReport:
        path = await receive_file(request, request.app.state.settings.max_catalog_body)
        try:
            report = await anyio.to_thread.run_sync(publishing.validate_upload, path)
        finally:
            path.unlink(missing_ok=True)
        return report_view(report, rule=rule, severity=severity, limit=limit, offset=offset)
