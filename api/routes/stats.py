"""Statistics: per region and rolled up the tree, the shares leaders are measured by
(全程网办, 最多跑一次, 不见面, 即办), days promised against statutory, how many material lists
regions keep for one item, and each bundle's coverage and §4.1 check pass rates."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import Parameter

from bundler.advisor import Advice
from bundler.stats import Stats

from ..services.stats import StatsService
from ..view import Views
from .resource import Resource


class StatsController(Resource, path="/stats", tag="stats", role="portal"):
    @get(
        summary="Statistics of the newest version, for a region and those under it",
        description="`regions`: each region's own counts and its rolled-up `total` (itself and every "
        "region under it); `items`: distinct material lists per item, most divergent first; "
        "`bundles` and `checks`: where each bundle is offered and composes, and how often each "
        "§4.1 check passes (nothing answered yet).",
    )
    async def stats(
        self,
        views: NamedDependency[Views],
        stats: NamedDependency[StatsService],
        region: Annotated[
            str | None,
            Parameter(min_length=1, max_length=16, description="this region and those under it"),
        ] = None,
    ) -> Stats:
        view = await views.snapshot()
        return await stats.report(view, region)


class AdviceController(Resource, path="/advice", tag="stats", role="portal"):
    @get(
        summary="Which material to digitise next: what each would save as an e-license",
        description="For every material not yet an e-license or commitment, the materials no longer "
        "handed in (summed over every bundle × region case that composes, each distinct case "
        "composed once with the material flagged, exact minimum and all), the cases left with "
        "nothing to hand in (`visits`), ranked. Computed once per version and bundles revision.",
    )
    async def advice(self, views: NamedDependency[Views], stats: NamedDependency[StatsService]) -> Advice:
        view = await views.snapshot()
        return await stats.advice(view)
