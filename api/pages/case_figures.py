"""The public 好差评 figures (§7.3) per region: the region's totals, its children's good-rating
and on-time rates as bar charts, filtered by bundle and dates (`?region=&bundle=&from=&to=`)."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery

from .charts import Bar, bar_chart
from .data import region_options
from .handlers import Snap, cases_of, known
from .render import html


class CaseFiguresPageController(Controller):
    path = "/pages/cases/figures"

    @get("/", name="pages:case-figures")
    async def figures(
        self, request: Request, snap: Snap, region: FromQuery[str] = "", bundle: FromQuery[str] = ""
    ) -> Response[str]:
        catalog = snap.require()
        params = request.query_params
        region, bundle = known(region, catalog.regions), known(bundle, catalog.bundles)
        notes = []
        dates: dict[str, date | None] = {}
        for name in ("from", "to"):
            raw = str(params.get(name, "") or "").strip()
            dates[name] = None
            if raw:
                try:
                    dates[name] = date.fromisoformat(raw)
                except ValueError:
                    notes.append(f"日期“{raw}”应写作YYYY-MM-DD，已忽略。")
        root = region or "000000"
        service = cases_of(request)
        filters = {"bundle": bundle or None, "start": dates["from"], "end": dates["to"]}
        top = await service.figures(region=region or None, **filters)
        children = [c for c in sorted(snap.children.get(root, ())) if c in catalog.regions]
        rows = []
        for code in children:
            rows.append((code, catalog.regions[code].name, await service.figures(region=code, **filters)))
        query = {
            k: v
            for k, v in (("bundle", bundle), ("from", params.get("from", "")), ("to", params.get("to", "")))
            if v
        }

        def href(code: str) -> str:
            return "/pages/cases/figures?" + urlencode({"region": code, **query})

        def bars(measure) -> list[Bar]:
            out = []
            for code, name, f in rows:
                value, text = measure(f)
                out.append(Bar(name, value, text, href=href(code)))
            return out

        def good(f) -> tuple[float, str]:
            if not f.ratings:
                return 0.0, "暂无评价"
            return f.good_rate or 0.0, f"{(f.good_rate or 0) * 100:.1f}%（{f.ratings} 条评价）"

        def on_time(f) -> tuple[float, str]:
            if not f.cases:
                return 0.0, "暂无办件"
            share = 1 - f.overdue / f.cases
            return share, f"{share * 100:.1f}%（超期 {f.overdue} / {f.cases} 件）"

        charts = []
        if rows:
            charts = [
                ("好评率", bar_chart(bars(good), "各地好评率")),
                ("按期办理率", bar_chart(bars(on_time), "各地按期办理率")),
            ]
        return html(
            request,
            "case_figures.html",
            snap=snap,
            top=top,
            region=region,
            region_name=catalog.regions[region].name if region else "全部地区",
            bundle=bundle,
            bundles=sorted(catalog.bundles.values(), key=lambda b: b.name),
            regions=region_options(catalog, snap.children),
            start=params.get("from", ""),
            end=params.get("to", ""),
            notes=notes,
            rows=rows,
            href=href,
            charts=charts,
        )
