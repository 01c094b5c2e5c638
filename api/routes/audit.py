"""The audit trail (admin): publishes, submissions, approvals, rejections, token changes."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.params import Parameter

from ..schemas_lifecycle import AuditPage
from ..services.lifecycle import LifecycleService
from .resource import Resource


class AuditController(Resource, path="/audit", tag="audit", role="admin", unscoped=True):
    @get(summary="Who did what and when, newest first, paged")
    async def events(
        self,
        lifecycle: NamedDependency[LifecycleService],
        action: str | None = Parameter(
            default=None,
            max_length=32,
            description="publish, republish, submit, approve, reject, token.create or token.revoke",
        ),
        limit: int = Parameter(default=100, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0, le=2_147_483_647),
    ) -> AuditPage:
        return await lifecycle.audit(action=action, limit=limit, offset=offset)
