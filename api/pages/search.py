"""Search for citizens and companies (`/pages/search?q=&region=`), and the region they chose.

The matching is `catalog.search.SearchIndex` (synonyms, aliases, segmentation, pinyin), built
from the view's small dictionaries once per catalog version and bundles revision and kept on
the view. With a region, only what an applicant there can apply for is shown: the bundles
offered and composable there (`checks.here`) and the region's effective items.

The region is asked once: a GET form (`?region=`), remembered in a cookie that every public
page reads when no region is asked for.
"""

from __future__ import annotations

from urllib.parse import urlencode

import anyio.to_thread
from litestar import Controller, Request, Response, get
from litestar.datastructures import Cookie
from litestar.params import FromQuery

from api.view import View
from catalog.search import SearchIndex, load_life_events

from .data import region_options, signed_in
from .handlers import Checks, Reads, Snap
from .render import html

REGION_COOKIE = "onething_region"
"""The applicant's region, as chosen on the front door (a year; not a secret)."""
MAX_HITS = 60
LIFE_EVENTS = load_life_events()
"""How the front door and the bundle list group the one-things (`catalog/data/life_events.tsv`)."""


def chosen_region(request: Request, view: View, asked: str | None) -> tuple[str | None, list[Cookie]]:
    """The region asked for (remembered from now on), else the one remembered, else none.
    An empty `?region=` forgets it; `?region=all` looks everywhere this once."""
    catalog = view.require()
    if asked is not None:
        asked = asked.strip()
        if asked in catalog.regions:
            return asked, [
                Cookie(
                    key=REGION_COOKIE,
                    value=asked,
                    max_age=365 * 86_400,
                    path="/",
                    samesite="lax",
                    httponly=True,
                )
            ]
        if asked == "":
            return None, [Cookie(key=REGION_COOKIE, value="", max_age=0, path="/")]
        if asked == "all":
            return None, []
    kept = request.cookies.get(REGION_COOKIE, "")
    return (kept if kept in catalog.regions else None), []


def region_choices(view: View) -> list[tuple[str, str]]:
    """(code, indented name) of every region, in tree order: what a region picker offers."""
    return region_options(view.require(), view.children)


async def index_of(view: View) -> SearchIndex:
    """The view's search index, built on first use in a worker thread (a second or so at most)."""
    index = view.search_index
    if index is None:
        catalog = view.require()
        index = await anyio.to_thread.run_sync(
            lambda: SearchIndex(catalog.items, catalog.bundles, catalog.materials, regions=catalog.regions)
        )
        view.search_index = index
    return index


def guide_href(bundle_id: str, region: str | None) -> str:
    base = f"/pages/bundles/{bundle_id}/guide"
    return base + ("?" + urlencode({"region": region}) if region else "")


class SearchController(Controller):
    path = "/pages/search"
    guards = [signed_in("portal", public=True)]

    @get("/", name="pages:search")
    async def search(
        self,
        request: Request,
        snap: Snap,
        reads: Reads,
        checks: Checks,
        q: FromQuery[str] = "",
        region: FromQuery[str | None] = None,
    ) -> Response[str]:
        catalog = snap.require()
        where, cookies = chosen_region(request, snap, region)
        index = await index_of(snap)
        implementation: dict[str, str] = {}
        allowed = None
        if where is not None:
            here = await checks.here(snap, where)
            offered = {b.id for b in here.bundles}
            implementation = {e.item: e.implementation for e in await reads.effective(snap, where)}

            def allowed(kind: str, key: str) -> bool:
                return key in offered if kind == "bundle" else key in implementation

        query, hits = index.search(q, allowed=allowed, limit=MAX_HITS)
        rows = []
        for hit in hits:
            if hit.kind == "bundle":
                bundle = catalog.bundles[hit.key]
                rows.append(
                    {
                        "hit": hit,
                        "href": guide_href(hit.key, where),
                        "about": bundle.description,
                        "kind": "一件事",
                    }
                )
            else:
                href = (
                    f"/pages/implementations/{implementation[hit.key]}"
                    if hit.key in implementation
                    else f"/pages/items/{hit.key}"
                )
                rows.append({"hit": hit, "href": href, "about": "", "kind": "事项"})
        return html(
            request,
            "search.html",
            title=f"搜索：{q.strip()}" if q.strip() else "搜索",
            snap=snap,
            q=q.strip(),
            query=query,
            rows=rows,
            region=where,
            region_name=catalog.regions[where].name if where else "",
            regions=region_choices(snap),
            cookies=cookies,
        )
