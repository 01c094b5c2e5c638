"""The catalog's versions (§6): list them, diff two, publish an old one again."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import Parameter

from ..auth import caller_of
from ..schemas import PublishResult
from ..schemas_lifecycle import ID, DiffPage, VersionList
from ..services.lifecycle import LifecycleService
from .resource import Resource


class VersionController(Resource, path="/versions", tag="versions", role="reviewer"):
    @get(summary="Every version, oldest first: when, by whom, the note, what it changed")
    async def list_versions(self, lifecycle: NamedDependency[LifecycleService]) -> VersionList:
        return await lifecycle.versions()

    @get(
        "/{a:int}/diff/{b:int}",
        summary="What changed from version A to version B, paged",
        description="Per kind the keys added and removed and, for each changed record, the fields that "
        "differ (old, new); `counts` has the totals per kind, `entries` one page (`kind` keeps one kind); "
        "`next` is the following page's `after`, which reads it by key instead of counting `offset` records again.",
    )
    async def diff(
        self,
        lifecycle: NamedDependency[LifecycleService],
        a: int = ID,
        b: int = ID,
        kind: str | None = Parameter(default=None, max_length=16, description="only records of this kind"),
        limit: int = Parameter(default=100, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0, le=2_147_483_647),
        after: str | None = Parameter(
            default=None,
            max_length=240,
            description="a page's `next`: the page after it, found by key (`offset` is then ignored)",
        ),
    ) -> DiffPage:
        return await lifecycle.diff(a, b, kind=kind, limit=limit, offset=offset, after=after)

    @post(
        "/{version:int}/republish",
        summary="Publish version N's content again as a new version (reviewer without a region)",
        opt={"role": "reviewer", "unscoped": True},
        status_code=201,
    )
    async def republish(
        self,
        request: Request,
        lifecycle: NamedDependency[LifecycleService],
        version: int = ID,
        note: str = Parameter(default="", max_length=2000),
    ) -> PublishResult:
        return await lifecycle.republish(version, by=caller_of(request).name, note=note)
