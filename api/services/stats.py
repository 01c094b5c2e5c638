"""The statistics report over HTTP: the figures the publish wrote with the version (a region's
counts and its items' material lists: an indexed read, `Store.figures`) — or, for a version
published before figures were kept, one streamed pass over its implementations in the region's
subtree — with the bundle checks report's rows (each distinct case composed once, shared with
`GET /checks`); and the digitisation advisor (`GET /advice`). Kept per (version, bundles
revision, region) for the last `KEEP` regions asked; a publish or a bundle write moves the key."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio
import msgspec

from ..lru import MISSING, BoundedLRU
from ..view import slice_of

if TYPE_CHECKING:
    from bundler.advisor import Advice
    from bundler.stats import Stats
    from catalog.store import Store

    from ..view import View
    from .checks import ChecksService


class StatsService:
    KEEP = 32

    def __init__(self, store: Store, checks: ChecksService):
        self.store = store
        self.checks = checks
        self._lock = asyncio.Lock()
        self._kept: BoundedLRU[tuple[int, int, str, str], Stats] = BoundedLRU(self.KEEP)
        self._advice: tuple[tuple[int, int, str], Advice] | None = None

    async def report(self, view: View, region: str | None) -> Stats:
        from bundler.stats import stats, with_bundles

        from .errors import unknown_region

        catalog = view.require()
        if region is not None and not await anyio.to_thread.run_sync(view.knows, region):
            raise unknown_region(region)
        key = (view.version, view.bundle_rev, view.tag, region or "")
        async with self._lock:
            kept = self._kept.get(key)
            if kept is not MISSING:
                return kept
            scope = view.scope(region)
            rows = {b: await self.checks.rows(view, b, scope) for b in sorted(catalog.bundles)}
            store = self.store

            def compute() -> Stats:
                figures = store.figures(view.version, catalog, region, whole=view.whole)
                if figures is not None:
                    return with_bundles(catalog, figures, rows, revision=view.version, region=region)
                regions, points = view.within(region)
                impls = store.implementations_within(view.version, None if region is None else regions)
                whole = msgspec.structs.replace(catalog, regions=regions, service_points=points)
                return stats(whole, impls, rows, revision=view.version, region=region)

            found = await anyio.to_thread.run_sync(compute)
            self._kept.put(key, found)
            return found

    async def advice(self, view: View) -> Advice:
        """The digitisation advisor over every bundle (each bundle's slice read in turn)."""
        from bundler.advisor import advise

        catalog = view.require()
        key = (view.version, view.bundle_rev, view.tag)
        async with self._lock:
            if self._advice is not None and self._advice[0] == key:
                return self._advice[1]
            store = self.store

            def compute() -> Advice:
                return advise(
                    catalog, lambda bundle: slice_of(store, catalog, view.version, bundle.items, None)
                )

            found = await anyio.to_thread.run_sync(compute)
            self._advice = (key, found)
            return found
