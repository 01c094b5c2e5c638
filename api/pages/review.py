"""The review page: validation findings filtered by rule, severity and region (GET query, no JS needed),
each linking to its record, and the 四同 conformity rate per region drawn as a bar chart."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Controller, Request, Response, get

from catalog.codes import region_prefix
from catalog.findings import RULES

from .charts import Bar, bar_chart
from .data import record_href, region_options, signed_in
from .handlers import Filters, PageNo, Reads, Snap, known, named
from .render import html

PAGE_SIZE = 200


class ReviewController(Controller):
    path = "/pages/review"
    guards = [signed_in("reviewer")]

    @get("/", name="pages:review")
    async def review(
        self, request: Request, snap: Snap, reads: Reads, filters: Filters, page: PageNo = 1
    ) -> Response[str]:
        catalog = snap.require()
        rule = known(filters.rule, RULES)
        severity = known(filters.severity, ("error", "warning"))
        region = known(filters.region, catalog.regions)
        offset = (page - 1) * PAGE_SIZE
        view = await reads.report(
            snap,
            rule=rule or None,
            severity=severity or None,
            region=region or None,
            limit=PAGE_SIZE,
            offset=offset,
        )
        # The same page again with each finding's region, as the version stored it.
        prefix = region_prefix(region) if region else None
        _, stored = await reads.findings(
            snap,
            rule=rule or None,
            severity=severity or None,
            region_prefix=prefix,
            limit=PAGE_SIZE,
            offset=offset,
        )
        rows = [{"f": f, "href": record_href(f.kind, f.key), "region": f.region} for f in stored]

        names = {c: r.name for c, r in catalog.regions.items()}
        bars = [
            Bar(
                names.get(c.region, c.region),
                c.rate,
                f"{c.conforming}/{c.implementations} · {c.rate * 100:.1f}%",
                href="/pages/review?" + urlencode({"region": c.region}),
            )
            for c in view.conformity
        ]
        total_impls = sum(c.implementations for c in view.conformity)
        total_ok = sum(c.conforming for c in view.conformity)
        kept = named(rule=rule, severity=severity, region=region)
        pages = max(1, -(-view.total // PAGE_SIZE))
        return html(
            request,
            "review.html",
            snap=snap,
            view=view,
            rows=rows,
            rule=rule,
            severity=severity,
            region=region,
            rule_counts=await reads.rule_counts(snap),
            regions=region_options(catalog, snap.children),
            chart=bar_chart(bars, "各地四同一致率", width=1000) if bars else None,
            bars=bars,
            conformity=view.conformity,
            overall=(total_ok, total_impls),
            page_number=page,
            pages=pages,
            query=lambda **kw: urlencode({**kept, **kw}),
            filtered=bool(kept),
        )
