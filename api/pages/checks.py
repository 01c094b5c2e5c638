"""The bundle checks page for reviewers: every bundle × every region where it is offered, the
§4.1 checks that fail there (a matrix; on a phone, each bundle with its failing regions),
filtered by check, bundle and region through a GET form that needs no JavaScript. Each failed
cell links to that bundle's guide for that region, a bundle that cannot be composed to the
designer. The rows come from the same report as `GET /checks`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get

from bundler import RegionChecks
from catalog.model import Catalog

from ..services.checks import summarise
from .data import region_options, signed_in
from .handlers import Checks, Filters, PageNo, Snap, known, named
from .render import CHECK_NAMES, html

PAGE_SIZE = 100
"""Regions (matrix rows) per page."""


@dataclass(frozen=True)
class Cell:
    bundle: str
    row: RegionChecks | None
    """None: the bundle is not offered in this region."""

    @property
    def bad(self) -> bool:
        return self.row is not None and (self.row.error is not None or bool(self.row.failed))


def serves(catalog: Catalog, region: str) -> bool:
    """A county (区县): where applicants are served and a bundle is offered on the checks page."""
    return catalog.regions[region].level == "county"


class ChecksPageController(Controller):
    path = "/pages/checks"
    guards = [signed_in("reviewer")]

    @get("/", name="pages:checks")
    async def checks(
        self, request: Request, snap: Snap, checks: Checks, filters: Filters, page: PageNo = 1
    ) -> Response[str]:
        catalog = snap.require()
        check, bundle = known(filters.check, CHECK_NAMES), known(filters.bundle, catalog.bundles)
        region = known(filters.region, catalog.regions)
        ids = [bundle] if bundle else sorted(catalog.bundles, key=lambda b: (catalog.bundles[b].name, b))
        within = snap.subtree(region) if region else None

        # Only counties count as places a bundle is offered: they are where applicants are served
        # (a province or city node is no place of its own, and no county could fix its cell).
        found: dict[tuple[str, str], RegionChecks] = {}
        summary = []
        for bundle_id in ids:
            rows_here = [
                row
                for row in await checks.rows(snap, bundle_id)
                if (within is None or row.region in within) and serves(catalog, row.region)
            ]
            summary.append(summarise(catalog.bundles[bundle_id], rows_here))
            for row in rows_here:
                found[bundle_id, row.region] = row

        def shown(cell: Cell) -> bool:
            if not check:
                return cell.row is not None
            return cell.row is not None and any(c.check == check for c in cell.row.failed)

        options = region_options(catalog, snap.children)
        matrix = []
        for code, _ in options:
            cells = [Cell(b, found.get((b, code))) for b in ids]
            if any(shown(c) for c in cells):
                matrix.append((code, cells))
        columns = [i for i, b in enumerate(ids) if any(shown(cells[i]) for _, cells in matrix)]
        pages = max(1, -(-len(matrix) // PAGE_SIZE))
        page = min(page, pages)
        bundles = [ids[i] for i in columns]
        rows = [
            (code, [cells[i] for i in columns])
            for code, cells in matrix[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        ]
        # On a phone: each bundle with the regions of this page where something fails.
        failing = []
        for j, bundle_id in enumerate(bundles):
            bad = [(code, cells[j].row) for code, cells in rows if cells[j].bad and shown(cells[j])]
            if bad:
                failing.append((bundle_id, bad))
        kept = named(check=check, bundle=bundle, region=region)
        return html(
            request,
            "checks.html",
            snap=snap,
            summary=summary,
            bundles=bundles,
            all_bundles=sorted(catalog.bundles.values(), key=lambda b: (b.name, b.id)),
            rows=rows,
            failing=failing,
            check=check,
            bundle=bundle,
            region=region,
            regions=options,
            page_number=page,
            pages=pages,
            region_count=len(matrix),
            query=lambda **kw: urlencode({**kept, **kw}),
            guide=lambda b, r: f"/pages/bundles/{b}/guide?" + urlencode({"region": r}),
            designer=lambda b, r: "/pages/designer?" + urlencode({"bundle": b, "region": r}),
            filtered=bool(kept),
        )
