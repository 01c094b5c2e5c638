"""Reviewers' pages of the catalog's lifecycle (§6), all without JavaScript:

| page | URL |
|---|---|
| version history | `/pages/versions` |
| what changed between two versions, field by field | `/pages/versions/{a}/diff/{b}?kind=&page=` |
| the needs-review queue, the item's change beside each implementation | `/pages/review-queue?region=&rule=&item=&page=` |
| submissions, the upload, the sheet, one submission, approve / reject (`submissions`) | `/pages/submissions…` |

Each page asks what its JSON twin asks (a reviewer; a region-scoped token acts and sees only
within its region) through the same `LifecycleService`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, FromQuery, Parameter

from api.services.lifecycle import LifecycleService
from catalog.findings import RULES
from catalog.model import Implementation
from catalog.store import Caller
from catalog.words import FIELD_LABELS

from .changes import Namer
from .data import User, region_options, require_role, signed_in
from .handlers import Filters, Snap, StoreDep, ViewsDep, known, named
from .render import html

PAGE_SIZE = 100
MAX_ITEMS = 20
"""Items compared side by side on a submission's page (those with findings first)."""
MAX_COLUMNS = 30
MAX_FINDINGS_NAMED = 1000
"""Findings whose record the submission's page names (as many as the API lists)."""
MAX_NAMED = 5000
"""Stored implementations a page reads to name records (beyond: by code)."""
CHANGE_NAMES = {"added": "新增", "removed": "删除", "changed": "修改"}
STATE_NAMES = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}


def _caller(user: User) -> Caller:
    return Caller(name=user.name, role=user.role, region=user.region)


def _lifecycle(request: Request) -> LifecycleService:
    return request.app.state.lifecycle  # type: ignore[no-any-return]


def _globals(**context: Any) -> dict[str, Any]:
    return {"field_names": FIELD_LABELS, "change_names": CHANGE_NAMES, "state_names": STATE_NAMES, **context}


class LifecyclePagesController(Controller):
    path = "/pages"
    guards = [signed_in("reviewer")]

    @get("/versions", name="pages:versions")
    async def versions(self, request: Request, snap: Snap) -> Response[str]:
        listed = await _lifecycle(request).versions()
        return html(
            request,
            "versions.html",
            **_globals(snap=snap, versions=list(reversed(listed.versions))),
        )

    @get("/versions/{a:int}/diff/{b:int}", name="pages:diff")
    async def diff(
        self,
        request: Request,
        snap: Snap,
        views: ViewsDep,
        store: StoreDep,
        a: FromPath[int],
        b: FromPath[int],
        kind: FromQuery[str] = "",
        page: int = Parameter(default=1, ge=1, le=1_000_000),
    ) -> Response[str]:
        shown = await _lifecycle(request).diff(
            a, b, kind=kind or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        codes = {e.key for e in shown.entries if e.kind == "implementation"}
        namer = Namer(snap.require(), {}, await _stored(views, store, [b, a], codes))
        return html(
            request,
            "diff.html",
            **_globals(
                title=f"版本 {a} → {b} 的变化",
                snap=snap,
                diff=shown,
                namer=namer,
                record_names={e.key: namer.where(e.kind, e.key) for e in shown.entries if e.key},
                kind=kind,
                page_number=page,
                pages=max(1, -(-shown.total // PAGE_SIZE)),
                query=lambda **kw: urlencode({**({"kind": kind} if kind else {}), **kw}),
            ),
        )

    @get("/review-queue", name="pages:review-queue")
    async def review_queue(
        self,
        request: Request,
        snap: Snap,
        views: ViewsDep,
        store: StoreDep,
        filters: Filters,
        page: int = Parameter(default=1, ge=1, le=1_000_000),
    ) -> Response[str]:
        user = require_role(request, "reviewer")
        catalog = snap.require()
        region = filters.region if filters.region in catalog.regions else (user.region or "")
        rule, item = known(filters.rule, RULES), known(filters.item, catalog.items)
        queue = await _lifecycle(request).review(
            _caller(user),
            region=region or None,
            rule=rule or None,
            item=item or None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        codes = [f.key for f in queue.needs_review if f.kind == "implementation"]
        impls = (
            {i.code: i for i in await views._run(lambda: store.implementations(snap.version, codes=codes))}
            if codes
            else {}
        )
        kept = named(region=region, rule=rule, item=item)
        return html(
            request,
            "review_queue.html",
            **_globals(
                snap=snap,
                queue=queue,
                impls=impls,
                region=region,
                rule=rule,
                item=item,
                regions=region_options(catalog, snap.children),
                rules=sorted(RULES),
                page_number=page,
                pages=max(1, -(-queue.total // PAGE_SIZE)),
                query=lambda **kw: urlencode({**kept, **kw}),
            ),
        )


async def _stored(
    views: ViewsDep, store: StoreDep, versions: list[int], codes: set[str]
) -> dict[str, Implementation]:
    """The implementations of `codes` (at most MAX_NAMED of them) as stored in the first of
    `versions` that has each: what names them on a page."""
    wanted = sorted(codes)[:MAX_NAMED]

    def read() -> dict[str, Implementation]:
        found: dict[str, Implementation] = {}
        for version in versions:
            missing = [c for c in wanted if c not in found]
            for n in range(0, len(missing), 500):
                found.update((i.code, i) for i in store.implementations(version, codes=missing[n : n + 500]))
        return found

    return await views._run(read) if wanted else {}
