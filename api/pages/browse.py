"""The catalog browser: the region tree, a region's effective items, an item beside its implementations.

What is shown comes from the catalog service (`effective`, `item_detail`,
`findings`): the same resolution and the same stored findings as the JSON API,
each an indexed read. The pages only arrange them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from catalog.findings import FOUR_SAME_RULES
from catalog.model import Item, Requirement, requirements_of

from .data import chain, signed_in
from .handlers import Reads, Snap, ViewsDep
from .render import html
from .search import index_of


@dataclass(frozen=True)
class ReqView:
    """One of the item's requirements as an implementation keeps it (or one it adds)."""

    req: str
    kept: list[str]
    dropped: list[str]
    added: list[str]
    optional: bool
    made_optional: bool
    removed: bool
    new: bool


def requirement_views(item: Item, reqs: list[Requirement]) -> list[ReqView]:
    """Side by side: each of the item's requirements and what the implementation kept of it.
    (Whether an addition breaks 只减不增 is the validator's to say: see the MATERIAL_ADDED finding.)"""
    mine = {r.req: r for r in reqs}
    out = []
    for r in item.materials:
        got = mine.get(r.req)
        if got is None:
            out.append(ReqView(r.req, [], list(r.any_of), [], r.optional, False, True, False))
            continue
        kept = [m for m in got.any_of if m in r.any_of]
        dropped = [m for m in r.any_of if m not in got.any_of]
        added = [m for m in got.any_of if m not in r.any_of]
        out.append(
            ReqView(r.req, kept, dropped, added, got.optional, got.optional and not r.optional, False, False)
        )
    known = {r.req for r in item.materials}
    out.extend(
        ReqView(r.req, [], [], list(r.any_of), r.optional, False, False, True)
        for r in reqs
        if r.req not in known
    )
    return out


def reduced(views: list[ReqView]) -> bool:
    return any(v.removed or v.dropped or v.made_optional for v in views)


MAX_ROWS = 500
"""A region's items shown at most (search narrows the rest)."""
MAX_COLUMNS = 60
"""Implementations side by side at most; those with findings come first, so none is hidden."""

# Which row of the comparison a rule's finding marks.
ROW_OF_RULE = {
    "FOUR_SAME_NAME": "name",
    "FOUR_SAME_TYPE": "type",
    "FOUR_SAME_BASIS": "basis",
    "IMPL_CODE": "code",
    "USCC": "agency",
    "LEVEL": "region",
    "SCOPE": "region",
    "MATERIAL_ADDED": "materials",
    "TIME_LIMIT": "days",
}


class BrowseController(Controller):
    path = "/pages"
    guards = [signed_in("portal", public=True)]

    @get("/regions", name="pages:regions")
    async def regions(
        self, request: Request, snap: Snap, reads: Reads, q: FromQuery[str] = ""
    ) -> Response[str]:
        catalog = snap.require()
        # The tree's search: regions by name, initials (xqq) or pinyin, each with its ancestors.
        found = [chain(catalog, c) for c in (await index_of(snap)).regions(q)] if q.strip() else None
        counts = {c.region: c.implementations for c in await reads.conformity(snap)}
        roots = sorted(
            c for c, r in catalog.regions.items() if r.parent is None or r.parent not in catalog.regions
        )
        return html(
            request,
            "regions.html",
            snap=snap,
            roots=roots,
            kids=snap.children,
            counts=counts,
            by_type=sorted(Counter(i.type for i in catalog.items.values()).items()),
            q=q.strip(),
            found=found[:MAX_ROWS] if found is not None else None,
        )

    @get("/regions/{code:str}", name="pages:region")
    async def region(
        self,
        request: Request,
        snap: Snap,
        views: ViewsDep,
        reads: Reads,
        code: FromPath[str],
        q: FromQuery[str] = "",
    ) -> Response[str]:
        catalog = snap.require()
        await views.locate(snap, code)  # a township or village a lean view leaves out: by key
        region = snap.region(code)
        if region is None:
            raise NotFoundException(f"区划 {code} 不在目录中")
        path = [found for c in reversed(snap.path(code)) if (found := snap.region(c)) is not None]
        children = await anyio.to_thread.run_sync(snap.kids, code)
        everything = await reads.effective(snap, code)
        shown = everything
        if q.strip():  # the words people use (synonyms, aliases, pinyin), or an item code's start
            by_item = {e.item: e for e in everything}
            _, hits = (await index_of(snap)).search(
                q, allowed=lambda kind, key: kind == "item" and key in by_item, limit=MAX_ROWS
            )
            shown = [by_item[h.key] for h in hits] or [e for e in everything if e.item.startswith(q.strip())]
        return html(
            request,
            "region.html",
            title=region.name,
            snap=snap,
            region=region,
            path=path,
            names={r.code: r.name for r in path},
            children=children,
            places=not snap.whole or bool(catalog.service_points),
            total=len(everything),
            here=sum(1 for e in everything if e.region == code),
            rows=shown[:MAX_ROWS],
            matched=len(shown),
            q=q,
        )

    @get("/items/{code:str}", name="pages:item")
    async def item(self, request: Request, snap: Snap, reads: Reads, code: FromPath[str]) -> Response[str]:
        catalog = snap.require()
        detail = await reads.item_detail(snap, code, limit=MAX_COLUMNS, flagged_first=True)
        if detail is None:
            raise NotFoundException(f"事项 {code} 不在目录中")
        item = detail.item
        columns: list[dict[str, Any]] = []
        for view in detail.implementations:
            rows: dict[str, list] = {}
            for f in view.findings:
                rows.setdefault(ROW_OF_RULE.get(f.rule, "other"), []).append(f)
            reqs = requirement_views(item, view.requirements)
            columns.append(
                {
                    "impl": view.implementation,
                    "region_name": view.region_name,
                    "level": view.level,
                    "reqs": reqs,
                    "reduced": reduced(reqs),
                    "findings": view.findings,
                    "rows": rows,
                    "four_same": not any(f.rule in FOUR_SAME_RULES for f in view.findings),
                }
            )
        # What a reviewer came for first: the implementations the validator has something to say about.
        columns.sort(key=lambda c: not c["findings"])
        item_findings = (await reads.findings(snap, kind="item", keys=[code]))[1]
        return html(
            request,
            "item.html",
            title=item.name,
            snap=snap,
            item=item,
            columns=columns[:MAX_COLUMNS],
            all_columns=detail.total,
            has_other=any("other" in c["rows"] for c in columns[:MAX_COLUMNS]),
            subitems=sorted(c for c, i in catalog.items.items() if i.main == code),
            item_findings=item_findings,
            owner=catalog.regions.get(item.owner),
            findings=[f for c in columns for f in c["findings"]],
            bad=sum(1 for c in columns if not c["four_same"]),
        )

    @get("/implementations/{code:str}", name="pages:implementation")
    async def implementation(
        self, request: Request, snap: Snap, reads: Reads, code: FromPath[str]
    ) -> Response[str]:
        catalog = snap.require()
        found = await reads.implementation(snap, code)
        if found is None:
            raise NotFoundException(f"实施清单 {code} 不在目录中")
        impl, _line, findings = found
        item = catalog.items.get(impl.item)
        return html(
            request,
            "implementation.html",
            title=f"{impl.name} · {impl.agency.name}",
            snap=snap,
            impl=impl,
            item=item,
            reqs=requirement_views(item, requirements_of(impl, item)) if item else [],
            findings=findings,
            path=chain(catalog, impl.region),
        )
