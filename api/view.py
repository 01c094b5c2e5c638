"""The newest version as this instance holds it, and its loader.

`await views.snapshot()` returns the current `View`: the newest version's small records (regions,
materials, fields, items, questions) and the bundles, loaded once per version (a few thousand
rows, never the implementations). Everything that grows with the catalog is an indexed, paged
query of a service (`api.services.reads`, `.workflows`, `.checks`). So are, past
`LOCAL_IN_VIEW`, the townships, villages and service points (a national five-level catalog has
over a million): the view then holds the regions down to the county, reads an applicant's
chain below it by key (kept for the last `CHAINS` asked) and the chain's service points by
where they stand.

Every instance sharing a database sees every write within a poll (half a second), on PostgreSQL
as soon as it commits: `api.notify.Heads` keeps the two state counters (newest catalog version,
bundles revision) current without a read per request, and a moved counter reloads only what it
counts. After a write of this process the next request reads the counters itself (`HeadsProbe`:
one held DBAPI connection), so a client reads what it wrote. A publish writes
a new version in one transaction; until it commits the previous version serves, and no read
waits for it. `slice` is what bundling needs of a version: the small records and some items'
implementations along some regions — a few rows, read through an index.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import msgspec

from catalog.model import Catalog, Implementation, Region, ServicePoint
from catalog.store import Store  # at run time: a View's annotations are read by the pages' DI
from catalog.tree import children, lineage, subtree

from . import schemas as s
from .lru import BoundedLRU
from .problems import OutageLog
from .services.errors import no_catalog

if TYPE_CHECKING:
    from litestar.stores.base import Store as CacheStore

    from .notify import Heads

log = logging.getLogger("onething.api")

EFFECTIVE_REGIONS = 64
"""Regions whose effective items a view keeps (each a few thousand rows at most)."""

LOCAL_IN_VIEW = 50_000
"""Townships, villages and service points a view holds; past this it reads them where needed
(`Settings.local_in_view`)."""
CHAINS = 4096
"""Chains below the county a view keeps (a township's or village's records, two or three each)."""

Answers = tuple[tuple[str, str], ...]
"""An applicant's answers, normalised: (question, answer) pairs sorted by question."""


@dataclass
class View:
    """The newest version as this instance holds it: small records and bundles, nothing that
    grows with the implementations. `catalog.implementations` is always empty."""

    version: int
    bundle_rev: int
    catalog: Catalog | None
    versions: dict[str, int]
    """bundle id -> its edit version"""
    tag: str
    summary: s.CatalogSummary | None
    totals: tuple[int, int] = (0, 0)
    """(errors, warnings) of the version's stored report."""
    children: dict[str, list[str]] = field(default_factory=dict)
    item_counts: dict[str, int] = field(default_factory=dict)
    etags: dict[tuple[str, str, str, Answers], str] = field(default_factory=dict)
    effective_cache: BoundedLRU[str, list[s.EffectiveItem]] = field(
        default_factory=lambda: BoundedLRU(EFFECTIVE_REGIONS)
    )
    """Regions' effective items (`ReadsService.effective`), for the last EFFECTIVE_REGIONS asked."""
    search_index: Any = None
    """The pages' `catalog.search.SearchIndex` of this version and bundles revision, built on first use."""
    below: Callable[[str, Collection[str]], list[Region]] | None = None
    """When the catalog leaves out the townships, villages and service points: how to read a
    region's chain up to the first region held (`Store.region_chain` of this version)."""
    chains: BoundedLRU[str, tuple[Region, ...]] = field(default_factory=lambda: BoundedLRU(CHAINS))
    regions_below: Callable[[], int] | None = None
    """A lean view's count of the regions it leaves out (a scan of half a million index
    entries): asked when a summary is first shown (`Views.summary`), not on every reload."""
    counted: list[int] = field(default_factory=list)
    """That count, once asked (shared with the same version's later views)."""
    lean: Store | None = None
    """A lean view's store, where `within` and `points_at` read what the catalog leaves out."""

    @property
    def revision(self) -> int:
        """The catalog version this view shows (what workflow documents call `revision`)."""
        return self.version

    @classmethod
    def empty(cls, bundle_rev: int = -1) -> View:
        return cls(version=0, bundle_rev=bundle_rev, catalog=None, versions={}, tag="empty", summary=None)

    def require(self) -> Catalog:
        if self.catalog is None:
            raise no_catalog()
        return self.catalog

    @property
    def whole(self) -> bool:
        """Whether the catalog holds every region and service point (else: `below`)."""
        return self.below is None

    def chain_below(self, region: str) -> tuple[Region, ...]:
        """A region the catalog does not hold and its ancestors down from the first one it holds,
        nearest first (empty when the version has no such region): read once, then kept."""
        if self.below is None or region in self.require().regions:
            return ()
        kept = self.chains.get(region)
        if kept is BoundedLRU.MISSING:
            kept = tuple(self.below(region, self.require().regions))
            self.chains.put(region, kept)
        return kept

    def knows(self, region: str) -> bool:
        return region in self.require().regions or bool(self.chain_below(region))

    def region(self, code: str) -> Region | None:
        """The version's region `code` (None: it has none); below the county a lean view reads it
        by key (`Views.locate` it first, off the event loop)."""
        found = self.require().regions.get(code)
        if found is None:
            below = self.chain_below(code)
            found = below[0] if below else None
        return found

    def kids(self, code: str) -> list[Region]:
        """The regions directly under `code`, in code order: a lean view reads a county's
        townships and a township's villages through the index on a region's parent (off the
        event loop)."""
        catalog = self.require()
        if self.lean is None or code in self.children:
            return [catalog.regions[c] for c in self.children.get(code, ())]
        return self.lean.regions_under(self.version, [code]).get(code, [])

    def kid_counts(self, codes: Collection[str]) -> dict[str, int]:
        """How many regions stand directly under each of `codes` (as `kids`)."""
        out = {c: len(self.children[c]) for c in codes if c in self.children}
        rest = [c for c in codes if c not in out]
        if self.lean is not None and rest:
            out.update(self.lean.children_counts(self.version, rest))
        return out

    def under(self, region: str, root: str) -> bool:
        """Whether `region` is `root` or lies under it: its chain up to 000000 passes through
        `root` (a lean view's chain below the county read by key: `Views.locate` it first)."""
        return root in self.path(region)

    def path(self, region: str) -> list[str]:
        """The region and its ancestors up to 000000: where an applicant's items are looked for."""
        regions = self.require().regions
        below = self.chain_below(region)
        if not below:
            return lineage(regions, region)
        return [r.code for r in below] + lineage(regions, below[-1].parent or "")

    def subtree(self, region: str) -> frozenset[str]:
        """The region and those under it that the catalog holds (a lean view's: down to the
        county; `within` has the townships and villages too)."""
        return subtree(self.require().regions, region, self.children)

    def within(
        self, root: str | None, points: bool = True
    ) -> tuple[dict[str, Region], dict[str, ServicePoint]]:
        """The regions of `root`'s subtree (None: every region) and, with `points`, the service
        points standing in them (empty for a region the version lacks); a lean view reads the
        townships, villages and points by code range (`Store.within`: call it off the event loop)."""
        catalog = self.require()
        if self.lean is not None:
            return self.lean.within(self.version, catalog.regions, root, points)
        if root is not None and root not in catalog.regions:
            return {}, {}
        codes = catalog.regions.keys() if root is None else self.subtree(root)
        regions = {c: catalog.regions[c] for c in codes}
        if not points:
            return regions, {}
        return regions, {i: p for i, p in catalog.service_points.items() if p.region in regions}

    def deep(self, region: str | None) -> bool:
        """Whether a report over `region`'s subtree lists its townships and villages: always
        for a view that holds them; for a lean one, under a county or below only (above, half a
        million of them would be one report's rows)."""
        if self.lean is None:
            return True
        if region is None:
            return False
        held = self.require().regions.get(region)
        return held is None or held.level == "county"

    def scope(self, region: str | None) -> str | None:
        """For a report over `region`: the region a lean view lists the townships and villages
        of (`deep`: a county or below), else None — the rows kept for every region serve."""
        return region if self.lean is not None and region is not None and self.deep(region) else None

    def reach(self, region: str | None) -> tuple[dict[str, Region], dict[str, ServicePoint]]:
        """The regions a report over `region`'s subtree (None: everywhere) lists, and the
        service points standing in them: `within` when `deep`, else the regions the lean view
        holds, down to the county (call it off the event loop)."""
        if self.deep(region):
            return self.within(region)
        catalog = self.require()
        codes = catalog.regions.keys() if region is None else self.subtree(region)
        regions = {c: catalog.regions[c] for c in codes}
        return regions, self.points_at(regions.keys())

    def points_at(self, regions: Collection[str]) -> dict[str, ServicePoint]:
        """The service points standing in `regions`, by id (a lean view reads them by key)."""
        if self.lean is not None:
            return self.lean.service_points_in(self.version, regions)
        wanted = set(regions)
        return {i: p for i, p in self.require().service_points.items() if p.region in wanted}

    def with_bundles(self, stored: list[Any], bundle_rev: int) -> View:
        """The same version with the bundles of a newer bundles revision."""
        catalog = self.catalog
        if catalog is not None:
            catalog = msgspec.structs.replace(catalog, bundles={sb.bundle.id: sb.bundle for sb in stored})
        summary = self.summary
        if summary is not None:
            summary = msgspec.structs.replace(summary, bundles=len(stored))
        return View(
            version=self.version,
            bundle_rev=bundle_rev,
            catalog=catalog,
            versions={sb.bundle.id: sb.version for sb in stored},
            tag=self.tag,
            summary=summary,
            totals=self.totals,
            children=self.children,
            item_counts=self.item_counts,
            below=self.below,
            chains=self.chains,
            regions_below=self.regions_below,
            counted=self.counted,
            lean=self.lean,
        )


def load_version(
    store: Store,
    version: int,
    bundle_rev: int,
    local_in_view: int = LOCAL_IN_VIEW,
    previous: View | None = None,
) -> View:
    """A version's small records, read once per version (a few thousand rows at national scale;
    the townships, villages and service points too while they are at most `local_in_view`) —
    or, when a region's partial submission made it right after the `previous` view's, that
    view's, which the submission could not change."""
    stored = store.bundles()
    if version == 0:
        return View.empty(bundle_rev)
    kept = (
        previous is not None
        and previous.catalog is not None
        and previous.version == version - 1
        and store.submitted_region(version) is not None
    )
    if kept:
        assert previous is not None and previous.catalog is not None
        catalog, whole, kids = previous.catalog, previous.whole, previous.children
    else:
        whole = not store.local_exceeds(version, local_in_view)
        catalog = store.dictionaries(version, local=whole)
        kids = children(catalog.regions)
    counts = store.item_counts(version)
    summary = s.CatalogSummary(
        version=catalog.header.version,
        title=catalog.header.title,
        regions=len(catalog.regions),
        materials=len(catalog.materials),
        fields=len(catalog.fields),
        items=len(catalog.items),
        implementations=sum(counts.values()),
        bundles=0,
    )
    view = View(
        version=version,
        bundle_rev=bundle_rev,
        catalog=catalog,
        versions={},
        tag=store.tag(version) or str(version),
        summary=summary,
        totals=store.finding_totals(version),
        children=kids,
        item_counts=counts,
        below=None if whole else functools.partial(store.region_chain, version),
        regions_below=None if whole else lambda: store.local_count(version)[0],
        counted=previous.counted if kept and previous is not None else [],
        lean=None if whole else store,
    )
    return view.with_bundles(stored, bundle_rev)


class HeadsProbe:
    """`store.heads()` through one DBAPI connection held for the purpose: the check every
    request makes costs microseconds on SQLite (read on the event loop) and one round trip on
    PostgreSQL — off the event loop, within `limits.quick` (a hung server must not stop the
    loop; the store's gate then answers at once until it tries the server again) — instead of
    a pooled SQLAlchemy checkout. On any error the connection is dropped and the store answers;
    the next call opens a new one."""

    def __init__(self, store: Store):
        from catalog.store.schema import StateRow

        self.store = store
        self.sql = f"SELECT id, counter FROM {StateRow.__tablename__}"
        self.local = store.url.startswith("sqlite")
        self._busy = threading.Lock()
        self._raw: Any = None
        self._conn: Any = None

    async def heads(self) -> tuple[int, int]:
        if self.local:
            return self()
        return await anyio.to_thread.run_sync(self._bounded)

    def _bounded(self) -> tuple[int, int]:
        with self.store.quick():
            if not self._busy.acquire(blocking=False):  # another request's probe is out: the pool
                return self.store.heads()
            try:
                return self()
            finally:
                self._busy.release()

    def __call__(self) -> tuple[int, int]:
        try:
            if self._conn is None:
                self._raw = self.store.engine.raw_connection()
                self._conn = self._raw.driver_connection
                if hasattr(self._conn, "autocommit") and not self.local:
                    self._conn.autocommit = True  # psycopg: no transaction left open between probes
            cursor = self._conn.cursor()
            try:
                cursor.execute(self.sql)
                rows = dict(cursor.fetchall())
            finally:
                cursor.close()
            return int(rows.get(1, 0)), int(rows.get(2, 0))
        except Exception:  # noqa: BLE001 - a broken probe must not break the request
            self.close()
            return self.store.heads()

    def close(self) -> None:
        raw, self._raw, self._conn = self._raw, None, None
        if raw is not None:
            try:
                raw.invalidate()
            except Exception:
                log.debug("closing the heads probe failed", exc_info=True)


class Views:
    """The view of the newest version, reloaded when the heads move (see the module's text)."""

    def __init__(
        self,
        store: Store,
        cache: CacheStore | None = None,
        heads: Heads | None = None,
        local_in_view: int = LOCAL_IN_VIEW,
    ):
        self.store = store
        self.heads = heads
        """The watched heads; None: read them on every request (commands and benchmarks)."""
        self.probes = 0
        """How many times a request read the heads itself."""
        self.local_in_view = local_in_view
        self.cache = cache
        """The workflow cache, whose expired entries are tidied when the view moves."""
        self._view = View.empty()
        self._lock = asyncio.Lock()
        self.probe = HeadsProbe(store)
        self.outage = OutageLog("database")
        """The database's outages, logged once each (`api.problems`)."""

    def close(self) -> None:
        if self.heads is not None:
            self.heads.stop()
        self.probe.close()

    async def current(self, fresh: bool = False) -> tuple[int, int]:
        """The heads: as watched, or read when they must be (at start, after this process wrote,
        and when `fresh` is asked for)."""
        known = None if self.heads is None or fresh else self.heads.known()
        if known is not None:
            return known
        self.probes += 1
        if self.heads is None:
            return await self.probe.heads()
        tick = self.heads.tick()
        return self.heads.saw(await self.probe.heads(), tick)

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args)

    async def snapshot(self, fresh: bool = False) -> View:
        """`fresh`: read the heads from the database now (what `GET /health` checks)."""
        version, bundle_rev = await self.current(fresh)
        if self.outage.since is not None:
            self.outage.recovered()
        view = self._view
        if view.version == version and view.bundle_rev == bundle_rev:
            return view
        async with self._lock:
            view = self._view
            if view.version != version:
                view = await self._run(
                    load_version, self.store, version, bundle_rev, self.local_in_view, self._view
                )
                log.info("catalog version %s loaded", version)
            elif view.bundle_rev != bundle_rev:
                view = view.with_bundles(await self._run(self.store.bundles), bundle_rev)
            # Never step back: a slower load of an older state must not replace a newer one.
            if (view.version, view.bundle_rev) >= (self._view.version, self._view.bundle_rev):
                self._view = view
            await self._tidy_cache()
        return self._view

    async def _tidy_cache(self) -> None:
        delete_expired = getattr(self.cache, "delete_expired", None)
        if delete_expired is not None:
            try:
                await delete_expired()
            except Exception:
                log.debug("tidying the workflow cache failed", exc_info=True)

    async def summary(self, view: View) -> s.CatalogSummary | None:
        """The view's catalog summary, a lean view's regions counted (off the event loop, once)."""
        if view.summary is None or view.regions_below is None:
            return view.summary
        if not view.counted:
            view.counted.append(await self._run(view.regions_below))
        return msgspec.structs.replace(view.summary, regions=view.summary.regions + view.counted[0])

    async def locate(self, view: View, region: str) -> None:
        """Read, off the event loop, the chain of a region the view does not hold (so that
        `view.knows` and `view.path` answer from memory)."""
        if not view.whole and view.catalog is not None and region not in view.catalog.regions:
            await self._run(view.chain_below, region)

    async def slice(self, view: View, items: Sequence[str], regions: Iterable[str] | None) -> Catalog:
        """What bundling `items` needs: the small records, and the items' implementations in
        `regions` (an applicant's region chain; None: every region) — read through an index;
        for a view that leaves them out, also the chain's own regions and service points."""
        chain = None if regions is None else list(regions)
        below = view.chain_below(chain[0]) if chain else ()
        return await self._run(
            slice_of, self.store, view.require(), view.version, items, chain, view.whole, below
        )


def slice_of(
    store: Store,
    catalog: Catalog,
    version: int,
    items: Sequence[str],
    regions: Iterable[str] | None,
    whole: bool = True,
    below: Sequence[Region] = (),
) -> Catalog:
    """`Views.slice` on this thread (for work already off the event loop, and the command line):
    `catalog`, version `version`'s small records, with `items`' implementations in `regions`;
    unless the catalog is `whole`, with the regions `below` it (the chain's) and the service
    points standing in `regions`."""
    wanted = [code for code in dict.fromkeys(items) if code in catalog.items]
    impls: list[Implementation] = []
    where = None if regions is None else list(regions)
    if wanted and where != []:
        impls = store.implementations(version, regions=where, items=wanted)
    if whole or where is None:
        return msgspec.structs.replace(catalog, implementations={i.code: i for i in impls})
    return msgspec.structs.replace(
        catalog,
        implementations={i.code: i for i in impls},
        regions={**catalog.regions, **{r.code: r for r in below}},
        service_points=store.service_points_in(version, where),
    )


def etag_digest(*parts: object) -> str:
    """A short digest of `parts`, for an ETag naming a body's content."""
    h = hashlib.blake2b(digest_size=12)
    for part in parts:
        h.update(str(part).encode())
        h.update(b"\x1f")
    return h.hexdigest()
