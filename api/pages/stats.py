"""The statistics page (and the digitisation advisor's, `/pages/stats/advice`): a region (and those under it) in the figures leaders are measured by,
drawn as server-side SVG bars (no JavaScript) — each share for the region and its children,
the §4.1 check pass rates, the bundles' coverage, the items whose regions diverge most — and
the catalog's download links (JSONL, CPSV-AP JSON-LD, Turtle). The figures come from the same
report as `GET /stats`."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery

from bundler.stats import CHECKS, coverage

from .charts import Bar, bar_chart
from .data import region_options, signed_in
from .handlers import Checks, Reads, Snap, Stats, known
from .render import CHECK_NAMES, html

SHARES = {
    "fully_online": "全程网办",
    "at_most_one_visit": "最多跑一次",
    "no_visit": "不见面（零跑动）",
    "at_once": "即办",
}


FORMATS = {
    "jsonl": ("JSONL（本目录格式）", "jsonl"),
    "cpsv-ap": ("CPSV-AP 3.2.0（JSON-LD）", "jsonld"),
    "turtle": ("CPSV-AP 3.2.0（Turtle）", "ttl"),
}


class StatsPageController(Controller):
    path = "/pages/stats"
    guards = [signed_in("portal")]

    @get("/", name="pages:stats")
    async def stats(
        self, request: Request, snap: Snap, checks: Checks, stats: Stats, region: FromQuery[str] = ""
    ) -> Response[str]:
        catalog = snap.require()
        region = known(region, catalog.regions)
        root = region or "000000"
        report = await stats.report(snap, root)
        by_code = {r.region: r for r in report.regions}
        shown = [by_code[root], *(by_code[c] for c in sorted(snap.children.get(root, ())) if c in by_code)]

        def bars(measure: str) -> list[Bar]:
            out = []
            for r in shown:
                t = r.total
                part = getattr(t, measure)
                rate = part / t.implementations if t.implementations else 0.0
                out.append(
                    Bar(
                        r.name + ("（合计）" if r.region == root and len(shown) > 1 else ""),
                        rate,
                        f"{rate * 100:.1f}%（{part}/{t.implementations}）",
                        href=None if r.region == root else f"/pages/stats?region={r.region}",
                    )
                )
            return out

        charts = [(name, bar_chart(bars(measure), name)) for measure, name in SHARES.items()]
        # The bundles counted in counties, as on the checks page: where applicants are served.
        counties = {c for c in snap.subtree(root) if catalog.regions[c].level == "county"}
        bundles = [
            coverage(catalog.bundles[b], await checks.rows(snap, b), counties)
            for b in sorted(catalog.bundles)
        ]
        rates = [(c, sum(b.passed[c] for b in bundles), sum(b.composed for b in bundles)) for c in CHECKS]
        checks_bars = bar_chart(
            [
                Bar(CHECK_NAMES.get(c, c), passed / of if of else 0.0, f"{passed}/{of}")
                for c, passed, of in rates
            ],
            "一件事检查通过率",
        )
        return html(
            request,
            "stats.html",
            formats=FORMATS,
            snap=snap,
            report=report,
            top=by_code[root],
            region=region,
            regions=region_options(catalog, snap.children),
            charts=charts,
            checks_chart=checks_bars,
            bundles=bundles,
            diverging=[i for i in report.items if i.material_lists > 1][:30],
        )

    @get("/advice", name="pages:advice")
    async def advice(self, request: Request, snap: Snap, stats: Stats) -> Response[str]:
        snap.require()  # no catalog yet: the page says so
        advice = await stats.advice(snap)
        top = advice.suggestions[:15]
        most = max((s.materials for s in top), default=1) or 1
        chart = bar_chart(
            [Bar(s.name, s.materials / most, f"少交 {s.materials} 份 · 免跑 {s.visits} 次") for s in top],
            "数字化建议：少交材料",
        )
        return html(request, "advice.html", snap=snap, advice=advice, chart=chart)

    @get("/export", name="pages:export")
    async def export(
        self, snap: Snap, reads: Reads, format: FromQuery[Literal["jsonl", "cpsv-ap", "turtle"]] = "jsonl"
    ) -> Response:
        """The newest version as a download, for a signed-in page (the API wants a bearer token)."""
        from catalog.cpsv import MEDIA_TYPES, export

        from ..routes.catalog import TypedStream

        lines = reads.export(snap)
        name = f"catalog-{snap.version}.{FORMATS[format][1]}"
        return TypedStream(
            lines if format == "jsonl" else export(lines, format),
            media_type=MEDIA_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
