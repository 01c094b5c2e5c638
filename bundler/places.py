"""Where the case can be handed in (revision 3): the service points on the applicant's region
chain, nearest first, with what each takes of the case — the whole bundle at one window, or
some of its items at its windows or by 代办."""

from __future__ import annotations

from collections.abc import Sequence

from catalog.model import Catalog, ServicePoint

from .document import PlaceToGo


def places(
    catalog: Catalog, chain: Sequence[str], bundle: str | None, items: Sequence[str]
) -> list[PlaceToGo]:
    """The points standing in `chain` (the applicant's region first), each region's by id, that
    take something of a case of `items` (the steps' items; `bundle` the catalog bundle, if any)."""
    if not catalog.service_points:
        return []
    here: dict[str, list[ServicePoint]] = {}
    for point in catalog.service_points.values():
        here.setdefault(point.region, []).append(point)
    out = []
    for region in chain:
        for point in sorted(here.get(region, ()), key=lambda p: p.id):
            place = _place(point, bundle, items)
            if place is not None:
                out.append(place)
    return out


def _place(point: ServicePoint, bundle: str | None, items: Sequence[str]) -> PlaceToGo | None:
    wanted = set(items)
    whole = next(
        (
            w
            for w in point.windows
            if (bundle is not None and bundle in w.bundles) or (wanted and wanted <= set(w.items))
        ),
        None,
    )
    if whole is not None:
        return PlaceToGo(
            point.id, point.name, point.region, point.address, point.hours, point.phone,
            whole.name, "bundle", list(items), [c for c in items if c in point.assists],
        )  # fmt: skip
    taking = [w for w in point.windows if wanted & set(w.items)]
    taken = [c for c in items if any(c in w.items for w in taking)]
    assisted = [c for c in items if c in point.assists]
    if not taken and not assisted:
        return None
    window = taking[0].name if len(taking) == 1 else None
    return PlaceToGo(
        point.id, point.name, point.region, point.address, point.hours, point.phone,
        window, "items", taken, assisted,
    )  # fmt: skip


def window_points(catalog: Catalog, bundle: str, items: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """region -> the points there with a window taking the bundle or one of its `items`: what may
    decide ONE_WINDOW for an applicant below (regions alike in these are alike in their checks)."""
    wanted = set(items)
    out: dict[str, list[str]] = {}
    for point in sorted(catalog.service_points.values(), key=lambda p: p.id):
        if any(bundle in w.bundles or wanted & set(w.items) for w in point.windows):
            out.setdefault(point.region, []).append(point.id)
    return {region: tuple(ids) for region, ids in out.items()}
