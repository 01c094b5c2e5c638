"""Bundles and the citizen's guide: the one-time notice with the merged form, printable.

The guide itself is the bundler's (`bundler.render_guide`, served through the
catalog service's cache, exactly what `GET /bundles/{id}/guide` returns); the
page adds a toolbar that is hidden when printing.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote, urlencode

from litestar import Controller, Request, Response, get
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from api.problems import ProblemException

from .data import Service, region_options, signed_in
from .render import html

TOOLBAR = """<style>
#guide-toolbar { display: flex; gap: .8rem; align-items: center; flex-wrap: wrap; margin-bottom: 1rem;
  font: 14px "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; background: #eff6ff; border: 1px solid #bfdbfe;
  border-radius: 8px; padding: .5rem .8rem; }
#guide-toolbar a { color: #1d4ed8; }
#guide-toolbar form { display: flex; gap: .4rem; align-items: center; margin: 0; }
#guide-toolbar .hint { color: #6b7280; }
@media print { #guide-toolbar { display: none !important; } }
</style>
<nav class="noprint" id="guide-toolbar">
<a href="/pages/bundles">← 全部一件事</a>
<a href="{designer}">在设计器中打开</a>
<form method="get" action="{action}"><label>办理地 <select name="region">{options}</select></label>
<button type="submit">切换</button></form>
<button type="button" onclick="window.print()" style="margin-left:auto">打印</button>
<span class="hint">（或使用浏览器的打印功能；打印时本栏不显示）</span>
</nav>"""


class BundlePagesController(Controller):
    path = "/pages/bundles"
    guards = [signed_in("portal")]  # noqa: RUF012

    @get("/", name="pages:bundles")
    async def bundles(self, request: Request, catalog_service: Service) -> Response[str]:
        snap = await catalog_service.snapshot()
        catalog = snap.require()
        rows = sorted(catalog.bundles.values(), key=lambda b: b.name)
        return html(
            request,
            "bundles.html",
            page="bundles",
            title="一件事与办事指南",
            snap=snap,
            catalog=catalog,
            rows=rows,
            versions=snap.versions,
            regions=region_options(catalog, snap.children),
        )

    @get("/{bundle_id:str}/guide", name="pages:guide")
    async def guide(
        self,
        request: Request,
        catalog_service: Service,
        bundle_id: FromPath[str],
        region: FromQuery[str] = "",
    ) -> Response[str]:
        snap = await catalog_service.snapshot()
        catalog = snap.require()
        bundle = catalog.bundles.get(bundle_id)
        if bundle is None:
            raise NotFoundException(f"没有编号为 {bundle_id} 的一件事")
        options = region_options(catalog, snap.children)
        problem, status = None, 200
        if region in catalog.regions:
            try:
                computed = await catalog_service.guide(bundle_id, region)
            except ProblemException as exc:
                problem = {"code": exc.code, "message": exc.detail, "items": exc.items or []}
                status = exc.status_code
        if region not in catalog.regions or problem is not None:
            # No guide to show: the page asks for a region, with the problem if there was one.
            return html(
                request,
                "guide_region.html",
                page="guide",
                title=bundle.name,
                snap=snap,
                catalog=catalog,
                bundle=bundle,
                regions=options,
                region=region,
                status_code=status,
                problem=problem,
            )
        toolbar = (
            TOOLBAR.replace(
                "{designer}", escape("/pages/designer?" + urlencode({"bundle": bundle_id, "region": region}))
            )
            .replace("{action}", escape(f"/pages/bundles/{quote(bundle_id)}/guide"))
            .replace(
                "{options}",
                "".join(
                    f'<option value="{escape(code)}"{" selected" if code == region else ""}>{escape(name)}</option>'
                    for code, name in options
                ),
            )
        )
        body = computed.body.decode()
        at = body.find("<body")
        end = body.find(">", at) + 1 if at >= 0 else 0
        page = body[:end] + toolbar + body[end:]
        return Response(page, media_type=MediaType.HTML, headers={"Cache-Control": "no-store"})
