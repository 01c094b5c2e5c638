"""The bundle checks report (§4.1) for reviewers: every bundle in every region where it is
offered, with the checks that fail there or the reason it cannot be composed."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import Parameter

from bundler.document import CheckName

from ..schemas import ChecksReport
from ..services.checks import ChecksService
from ..view import Views
from .resource import Resource


class ChecksController(Resource, path="/checks", tag="checks", role="reviewer"):
    @get(
        summary="The bundle checks report: every bundle × every region where it is offered (reviewer)",
        description="Rows in bundle order, then region code order; `summary` counts per bundle. "
        "Computed once per catalog version and bundles revision (each distinct case composed "
        "once), with nothing answered yet. On a catalog with more townships and villages than a "
        "worker holds (a national one), the rows go down to the county; ask within a county "
        "(`region`) or below for its townships and villages.",
    )
    async def report(
        self,
        views: NamedDependency[Views],
        checks: NamedDependency[ChecksService],
        bundle: Annotated[
            str | None, Parameter(min_length=1, max_length=200, description="one bundle's id")
        ] = None,
        check: Annotated[CheckName | None, Parameter(description="only the rows failing this check")] = None,
        region: Annotated[
            str | None,
            Parameter(min_length=1, max_length=16, description="only this region and those under it"),
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=1000, description="rows per page")] = 1000,
        offset: Annotated[int, Parameter(ge=0)] = 0,
    ) -> ChecksReport:
        snap = await views.snapshot()
        return await checks.report(
            snap, bundle=bundle, check=check, region=region, limit=limit, offset=offset
        )
