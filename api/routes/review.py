"""The needs-review queue (§6): records the newest version flags, with their cause."""

from __future__ import annotations

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from ..auth import caller_of
from ..schemas_lifecycle import ReviewPage
from ..services.lifecycle import LifecycleService
from .resource import Resource


class ReviewController(Resource, path="/review", tag="versions", role="reviewer"):
    @get(
        summary="The newest version's needs-review queue, paged",
        description="Records with error findings they did not bring themselves (an item changed above "
        "them: 上级事项变更), each with its findings and the change that caused them. `region` keeps that "
        "subtree (a region-scoped token sees only its own), `rule` records with an error of that rule, "
        "`item` an item's own record and its implementations.",
    )
    async def queue(
        self,
        request: Request,
        lifecycle: NamedDependency[LifecycleService],
        region: str | None = Parameter(default=None, min_length=1, max_length=16),
        rule: str | None = Parameter(default=None, min_length=1, max_length=32),
        item: str | None = Parameter(default=None, min_length=1, max_length=32),
        limit: int = Parameter(default=100, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0, le=2_147_483_647),
    ) -> ReviewPage:
        return await lifecycle.review(
            caller_of(request), region=region, rule=rule, item=item, limit=limit, offset=offset
        )
