"""Where people go (revision 3): a region's service points — those an applicant of the region
can go to (its own and those above it, nearest first) and those under it — with their windows,
what they take in for others (代办), address, hours, phone and a map link."""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from bundler.render import map_link
from catalog.model import Catalog, ServicePoint

from .data import chain, signed_in
from .handlers import Snap, ViewsDep
from .render import html


@dataclass(frozen=True)
class PlaceRow:
    point: ServicePoint
    region_name: str
    windows: list[str]
    """Each window: its name and how many 一件事 and items it takes."""
    assists: int
    map: str


def _row(catalog: Catalog, point: ServicePoint) -> PlaceRow:
    windows = []
    for w in point.windows:
        parts = []
        if w.bundles:
            names = "、".join(catalog.bundles[b].name if b in catalog.bundles else b for b in w.bundles)
            parts.append(f"受理{names}")
        if w.items:
            parts.append(f"受理 {len(w.items)} 个事项")
        windows.append(f"{w.name}（{'，'.join(parts)}）" if parts else w.name)
    where = catalog.regions.get(point.region)
    at = point.location
    return PlaceRow(
        point,
        where.name if where is not None else point.region,
        windows,
        len(point.assists),
        "" if at is None else map_link(at.lat, at.lon),
    )


class PlacesPageController(Controller):
    path = "/pages"
    guards = [signed_in("portal", public=True)]  # where to go: published, as the region pages

    @get("/regions/{code:str}/service-points", name="pages:service-points")
    async def service_points(
        self, request: Request, snap: Snap, views: ViewsDep, code: FromPath[str]
    ) -> Response[str]:
        await views.locate(snap, code)
        if not snap.knows(code):
            raise NotFoundException(f"区划 {code} 不在目录中")
        up = snap.path(code)
        # The subtree's regions and points (a lean view reads its townships and villages).
        within, points = await anyio.to_thread.run_sync(snap.within, code)
        points.update(await anyio.to_thread.run_sync(snap.points_at, up))
        catalog = snap.require()
        catalog = msgspec.structs.replace(
            catalog, regions={**catalog.regions, **{r.code: r for r in snap.chain_below(code)}, **within}
        )
        region = catalog.regions[code]
        below = within.keys() - {code}
        by_region: dict[str, list[ServicePoint]] = {}
        for point in points.values():
            by_region.setdefault(point.region, []).append(point)
        reach = [_row(catalog, p) for r in up for p in sorted(by_region.get(r, ()), key=lambda p: p.id)]
        under = [
            _row(catalog, p) for r in sorted(below) for p in sorted(by_region.get(r, ()), key=lambda p: p.id)
        ]
        return html(
            request,
            "places.html",
            title=f"{region.name} · 办事地点",
            snap=snap,
            region=region,
            path=chain(catalog, code),
            reach=reach,
            under=under,
        )
