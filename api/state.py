"""The API's state: the store, a small view of the newest version, and the workflow cache.

Pages and routes get these as Litestar dependencies (see `api.app`):

- `catalog_service` — a `CatalogService`. `await catalog_service.snapshot()` returns the
  current `View`: the newest version's small records (regions, materials, fields, items,
  questions) and the bundles, loaded once per version (a few thousand rows, never the
  implementations). Everything that grows with the catalog is an indexed, paged query:
  `effective`, `search`, `item_detail`, `implementation`, `report`, `export`. Workflows and
  guides (`workflow`, `guide`, `adhoc_workflow`) read the slice they need — the bundle's
  items' implementations along one region chain — and are cached by content.
- `store` — the `catalog.store.Store` (sync; call it off the event loop).

Every instance sharing a database sees every write on its next request: each request reads
the two state counters (newest catalog version, bundles revision; one held DBAPI connection,
microseconds), and a moved counter reloads only what it counts. A publish writes a new
version in one transaction; until it commits the previous version serves, and no read waits
for it. Workflows are cached under keys that name their content (the version's tag, the
bundle record and version, the region), so an entry is never stale; with Redis they are
shared between instances, and an outage only costs recomputation. The applicant's answers
(§4 step 0) are part of a workflow's content: `answers(view, given)` checks and sorts them,
and they enter the key and the ETag. `checks` (`api.services.checks`) holds the §4.1 bundle
checks across regions, kept per version tag and bundles revision.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import msgspec

from catalog.findings import Conformity, Finding, Report
from catalog.model import Bundle, Catalog, Implementation, Region, record_encoder, requirements_of
from catalog.tree import children, lineage, subtree

from . import schemas as s
from .problems import ErrorDetail, OutageLog, ProblemException
from .services.checks import ChecksService

if TYPE_CHECKING:
    from litestar.stores.base import Store as CacheStore

    from bundler import Workflow
    from catalog.store import Store
    from catalog.store.reads import Placement

log = logging.getLogger("onething.api")


# Bundling error (§4) → HTTP status.
BUNDLE_ERROR_STATUS = {
    "UNKNOWN_BUNDLE": 404,
    "UNKNOWN_REGION": 422,
    "UNKNOWN_ITEM": 422,
    "NOT_IMPLEMENTED": 422,
    "CYCLE": 422,
    "UNKNOWN_ANSWER": 422,
}

Answers = tuple[tuple[str, str], ...]
"""An applicant's answers, normalised: (question, answer) pairs sorted by question."""

_WORKFLOW = b"W"
_PROBLEM = b"P"
LEVEL_ORDER = {"national": 0, "province": 1, "city": 2, "county": 3}


def _code_tag() -> str:
    """A digest of the bundler's code and templates: a workflow or guide cached by a release
    whose bundling or rendering differs is not served by this one (Redis outlives deploys)."""
    import bundler

    h = hashlib.blake2b(digest_size=6)
    root = Path(bundler.__file__).parent
    for path in sorted([*root.glob("*.py"), *root.glob("templates/*.html")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


CODE_TAG = _code_tag()


def _digest(*parts: object) -> str:
    h = hashlib.blake2b(digest_size=12)
    for part in parts:
        h.update(str(part).encode())
        h.update(b"\x1f")
    return h.hexdigest()


def finding_out(f: Any) -> s.FindingOut:
    return s.FindingOut(
        rule=f.rule,
        severity=f.severity,
        kind=f.kind,
        key=f.key,
        line=f.line,
        message=f.message,
        sheet=getattr(f, "sheet", None),
        row=getattr(f, "row", None),
        column=getattr(f, "column", None),
        label=getattr(f, "label", None),
    )


def findings_as_errors(findings: Sequence[Any]) -> list[ErrorDetail]:
    """Findings as a problem's `errors` (a sheet's with their worksheet, row, column and label)."""
    return [
        ErrorDetail(
            message=f.message,
            rule=f.rule,
            severity=f.severity,
            kind=f.kind,
            key=f.key,
            line=f.line,
            field=getattr(f, "label", None),
            sheet=getattr(f, "sheet", None),
            row=getattr(f, "row", None),
            column=getattr(f, "column", None),
        )
        for f in findings
    ]


def conformity_out(rows: Sequence[Conformity]) -> list[s.ConformityOut]:
    return [
        s.ConformityOut(
            region=c.region,
            implementations=c.implementations,
            conforming=c.conforming,
            rate=1.0 if c.implementations == 0 else round(c.conforming / c.implementations, 4),
        )
        for c in rows
    ]


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
    effective_cache: OrderedDict[str, list[s.EffectiveItem]] = field(default_factory=OrderedDict)
    search_index: Any = None
    """The pages' `catalog.search.SearchIndex` of this version and bundles revision, built on first use."""

    @property
    def revision(self) -> int:
        """The catalog version this view shows (what workflow documents call `revision`)."""
        return self.version

    @classmethod
    def empty(cls, bundle_rev: int = -1) -> View:
        return cls(version=0, bundle_rev=bundle_rev, catalog=None, versions={}, tag="empty", summary=None)

    def require(self) -> Catalog:
        if self.catalog is None:
            raise ProblemException(
                409, "NO_CATALOG", "no catalog has been published yet (PUT /catalog as a reviewer)"
            )
        return self.catalog

    def path(self, region: str) -> list[str]:
        """The region and its ancestors up to 000000: where an applicant's items are looked for."""
        return lineage(self.require().regions, region)

    def subtree(self, region: str) -> frozenset[str]:
        return subtree(self.require().regions, region, self.children)

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
        )


def _load_version(store: Store, version: int, bundle_rev: int) -> View:
    """A version's small records, read once per version (a few thousand rows at national scale)."""
    stored = store.bundles()
    if version == 0:
        return View.empty(bundle_rev)
    catalog = store.dictionaries(version)
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
        children=children(catalog.regions),
        item_counts=counts,
    )
    return view.with_bundles(stored, bundle_rev)


@dataclass
class Computed:
    """A computed (or cached) workflow or guide body."""

    body: bytes
    etag: str
    hit: bool
    status: int = 200
    media_type: str = "application/json"


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


class CatalogService:
    """Reads through the view and indexed store queries; writes through the store."""

    EFFECTIVE_REGIONS = 64
    """Regions whose effective items a view keeps (each a few thousand rows at most)."""

    def __init__(
        self, store: Store, cache: CacheStore, *, cache_ttl: int = 86_400, cache_kind: str = "memory"
    ):
        self.store = store
        self.cache = cache
        self.cache_ttl = cache_ttl
        self.cache_kind = cache_kind
        self._view = View.empty()
        self._lock = asyncio.Lock()
        self.probe = HeadsProbe(store)
        self.outage = OutageLog("database")
        """The database's outages, logged once each (`api.problems`)."""
        self.checks = ChecksService(store, self._run)
        """The bundle checks of §4.1 across regions (`GET /bundles?region=`, `/checks`)."""
        self._local: OrderedDict[str, bytes] = OrderedDict()
        """Newest workflow bodies, in front of the shared cache. Keys name their content (version
        tag, bundle version, region), so an entry is never stale: no invalidation needed here."""

    def close(self) -> None:
        self.probe.close()

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args)

    # -- the view ---------------------------------------------------------------------------
    async def snapshot(self) -> View:
        version, bundle_rev = await self.probe.heads()
        if self.outage.since is not None:
            self.outage.recovered()
        view = self._view
        if view.version == version and view.bundle_rev == bundle_rev:
            return view
        async with self._lock:
            view = self._view
            if view.version != version:
                view = await self._run(_load_version, self.store, version, bundle_rev)
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

    # -- indexed reads ------------------------------------------------------------------------
    async def effective(self, view: View, region: str) -> list[s.EffectiveItem]:
        """Every item an applicant in `region` can apply for, each resolved as §4 step 1 says."""
        cached = view.effective_cache.get(region)
        if cached is not None:
            view.effective_cache.move_to_end(region)
            return cached
        catalog = view.require()
        path = view.path(region)
        store, version = self.store, view.version
        # Read and resolved off the event loop: thousands of rows on a county's path, which would
        # hold every other request for as long (issue 18, point 7).
        out = await self._run(
            lambda: _effective_items(catalog, path, store.placements(version, path))
        )
        view.effective_cache[region] = out
        while len(view.effective_cache) > self.EFFECTIVE_REGIONS:
            view.effective_cache.popitem(last=False)
        return out

    async def search(
        self,
        view: View,
        q: str | None = None,
        code: str | None = None,
        type_: str | None = None,
        region: str | None = None,
        owner: str | None = None,
    ) -> list[s.ItemSummary]:
        """Items whose name contains `q` (case-insensitive), whose code starts with `code`, of
        `type_`, owned by `owner`, and (with `region`) that an applicant there can apply for."""
        catalog = view.require()
        needle = q.casefold() if q else None
        effective = {e.item for e in await self.effective(view, region)} if region else None
        out = []
        for item_code in sorted(catalog.items):
            item = catalog.items[item_code]
            if code and not item_code.startswith(code):
                continue
            if type_ and item.type != type_:
                continue
            if owner and item.owner != owner:
                continue
            if needle and needle not in item.name.casefold():
                continue
            if effective is not None and item_code not in effective:
                continue
            out.append(
                s.ItemSummary(
                    code=item.code,
                    name=item.name,
                    type=item.type,
                    owner=item.owner,
                    main=item.main,
                    levels=list(item.levels),
                    statutory_days=item.statutory_days,
                    implementations=view.item_counts.get(item_code, 0),
                )
            )
        return out

    async def item_detail(
        self, view: View, code: str, limit: int = 100, offset: int = 0, *, flagged_first: bool = False
    ) -> s.ItemDetail | None:
        """An item with one page of its implementations side by side (national first, then by
        region), each with what the validator found about it. `flagged_first`: the page starts
        with the implementations that have findings (what a reviewer came for), then the rest."""
        catalog = view.require()
        item = catalog.items.get(code)
        if item is None:
            return None
        store, version = self.store, view.version

        def read() -> tuple[int, list[Implementation], list[Finding]]:
            total, rows = store.item_implementations(version, code, limit=limit, offset=offset)
            page = [impl for impl, _ in rows]
            if flagged_first:
                flagged = store.findings(version, kind="implementation", item=code, limit=1000)[1]
                codes = list(dict.fromkeys(f.key for f in flagged if f.key))[:limit]
                first = store.implementations(version, codes=codes) if codes else []
                page = (first + [i for i in page if i.code not in set(codes)])[:limit]
            keys = [impl.code for impl in page]
            found = store.findings(version, kind="implementation", keys=keys, limit=1000)[1] if keys else []
            return total, page, found

        total, page, found = await self._run(read)
        by_key: dict[str, list[s.FindingOut]] = {}
        for f in found:
            by_key.setdefault(f.key or "", []).append(finding_out(f))
        views = []
        for impl in page:
            region = catalog.regions.get(impl.region)
            views.append(
                s.ImplementationView(
                    implementation=impl,
                    region_name=region.name if region else "",
                    level=region.level if region else "county",
                    requirements=requirements_of(impl, item),
                    findings=by_key.get(impl.code, []),
                )
            )
        return s.ItemDetail(item=item, total=total, limit=limit, offset=offset, implementations=views)

    async def implementation(
        self, view: View, code: str
    ) -> tuple[Implementation, int | None, list[Finding]] | None:
        def read() -> tuple[Implementation, int | None, list[Finding]] | None:
            found = self.store.implementation(view.version, code)
            if found is None:
                return None
            findings = self.store.findings(view.version, kind="implementation", keys=[code])[1]
            return found[0], found[1], findings

        view.require()
        return await self._run(read)

    async def findings(self, view: View, **filters: Any) -> tuple[int, list[Finding]]:
        """One page of the version's findings (filters as `catalog.store.reads.findings`)."""
        view.require()
        return await self._run(lambda: self.store.findings(view.version, **filters))

    async def report(
        self,
        view: View,
        *,
        rule: str | None = None,
        severity: str | None = None,
        region: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> s.ValidationReport:
        """The version's stored report as a reviewer asks for it: filtered, paged, with conformity."""
        catalog = view.require()
        prefix = None
        if region is not None:
            prefix = subtree_prefix(catalog, region)

        def read() -> tuple[int, list[Finding], list[Conformity]]:
            total, page = self.store.findings(
                view.version, rule=rule, severity=severity, region_prefix=prefix, limit=limit, offset=offset
            )
            return total, page, self.store.conformity(view.version)

        total, page, conformity = await self._run(read)
        if region is not None:
            within = view.subtree(region)
            conformity = [c for c in conformity if c.region in within]
        errors, warnings = view.totals
        return s.ValidationReport(
            revision=view.version,
            catalog_version=catalog.header.version,
            summary=s.SummaryOut(errors=errors, warnings=warnings),
            total=total,
            findings=[finding_out(f) for f in page],
            conformity=conformity_out(conformity),
        )

    async def rule_counts(self, view: View) -> dict[str, int]:
        view.require()
        return await self._run(self.store.rule_counts, view.version)

    async def conformity(self, view: View) -> list[Conformity]:
        view.require()
        return await self._run(self.store.conformity, view.version)

    def export(self, view: View) -> Iterator[bytes]:
        """The version as JSONL, streamed from the store (iterated off the event loop)."""
        view.require()
        return self.store.export(view.version)

    # -- workflows ------------------------------------------------------------------------
    def answers(self, view: View, given: Mapping[str, str], source: str = "query") -> Answers:
        """The applicant's answers, each to a question of the catalog with one of its answers
        (the bundler's rule), sorted: what cache keys and ETags are made of. 422 UNKNOWN_ANSWER
        naming the first that is not, in words a clerk reads."""
        from bundler import BundleError, checked_answers

        catalog = view.require()
        for question, answer in given.items():
            try:
                checked_answers(catalog, {question: answer})
            except BundleError:
                raise unknown_answer(catalog, question, answer, source) from None
        return tuple(sorted(given.items()))

    def workflow_etag(
        self, view: View, bundle_id: str, region: str, what: str = "workflow", answers: Answers = ()
    ) -> str | None:
        """The ETag a bundle's workflow (or guide) has now, without computing it; None if unknown."""
        known = view.etags.get((bundle_id, region, what, answers))
        if known is not None:
            return known
        version = view.versions.get(bundle_id)
        if version is None or view.catalog is None or region not in view.catalog.regions:
            return None
        # Content-addressed: the version's tag, the bundle record itself and the situation.
        bundle = record_encoder.encode(view.catalog.bundles[bundle_id])
        etag = f'"{what[0]}{_digest(CODE_TAG, view.tag, bundle, version, region, what, *_flat(answers))}"'
        if len(view.etags) < 100_000:
            view.etags[(bundle_id, region, what, answers)] = etag
        return etag

    async def slice(self, view: View, items: Sequence[str], region: str) -> Catalog:
        """What bundling `items` for an applicant of `region` needs: the small records, and the
        items' implementations along the region's chain — a few rows, read through an index."""
        catalog = view.require()
        path = view.path(region)
        wanted = [code for code in dict.fromkeys(items) if code in catalog.items]
        impls: list[Implementation] = []
        if path and wanted:
            impls = await self._run(
                lambda: self.store.implementations(view.version, regions=path, items=wanted)
            )
        return msgspec.structs.replace(catalog, implementations={i.code: i for i in impls})

    async def workflow(
        self, bundle_id: str, region: str, view: View | None = None, answers: Answers = ()
    ) -> Computed:
        """`view`: the view the caller already holds (one heads check per request); `answers`:
        as `answers()` returns them."""
        view = view or await self.snapshot()
        view.require()
        etag = self.workflow_etag(view, bundle_id, region, "workflow", answers)
        if etag is None:
            self._bundle_region_problem(view, bundle_id, region)
        assert etag is not None
        from bundler import compose_bundle

        bundle = view.require().bundles[bundle_id]
        given = dict(answers)

        async def compose() -> Callable[[], Workflow]:
            part = await self.slice(view, bundle.items, region)
            return lambda: _with_revision(
                compose_bundle(part, bundle_id, region, answers=given), view.version
            )

        return await self._workflow_through_cache(etag, self.cache_ttl, compose)

    async def adhoc_workflow(
        self, items: list[str], region: str, answers: Mapping[str, str] | None = None
    ) -> Computed:
        from bundler import compose

        view = await self.snapshot()
        normalised = self.answers(view, answers or {}, "body")
        given = dict(normalised)
        etag = f'"a{_digest(CODE_TAG, view.tag, region, *items, "answers", *_flat(normalised))}"'

        async def composing() -> Callable[[], Workflow]:
            part = await self.slice(view, items, region)
            return lambda: _with_revision(compose(part, items, region, answers=given), view.version)

        return await self._workflow_through_cache(etag, min(self.cache_ttl, 3600), composing)

    async def _workflow_through_cache(self, etag: str, ttl: int, prepare: Callable[[], Any]) -> Computed:
        """The cached workflow for this ETag, or one composed off the event loop and cached."""
        key = "wf:" + etag.strip('"')
        cached = await self._get(key)
        if cached is not None:
            return self._unpack(cached, etag, hit=True)
        compose = await prepare()
        packed = await self._run(self._pack, compose)
        await self._set(key, packed, ttl)
        return self._unpack(packed, etag, hit=False)

    async def guide(
        self, bundle_id: str, region: str, view: View | None = None, answers: Answers = ()
    ) -> Computed:
        view = view or await self.snapshot()
        etag = self.workflow_etag(view, bundle_id, region, "guide", answers)
        # raises the bundling problem, if any
        workflow = await self.workflow(bundle_id, region, view, answers)
        assert etag is not None
        key = "guide:" + etag.strip('"')
        cached = await self._get(key)
        if cached is not None:
            return Computed(cached, etag, hit=True, media_type="text/html; charset=utf-8")
        part = await self.slice(view, view.require().bundles[bundle_id].items, region)
        body = await self._run(_render_guide, part, workflow.body)
        await self._set(key, body, self.cache_ttl)
        return Computed(body, etag, hit=False, media_type="text/html; charset=utf-8")

    LOCAL_ENTRIES = 512

    async def _get(self, key: str) -> bytes | None:
        body = self._local.get(key)
        if body is not None:
            self._local.move_to_end(key)
            return body
        try:
            body = await self.cache.get(key)
        except Exception:  # a cache outage costs a recomputation, never a 500
            log.warning("workflow cache unavailable (get %s)", key, exc_info=True)
            return None
        if body is not None:
            self._remember(key, body)
        return body

    async def _set(self, key: str, body: bytes, ttl: int) -> None:
        self._remember(key, body)
        try:
            await self.cache.set(key, body, expires_in=ttl)
        except Exception:  # as above
            log.warning("workflow cache unavailable (set %s)", key, exc_info=True)

    def _remember(self, key: str, body: bytes) -> None:
        self._local[key] = body
        if len(self._local) > self.LOCAL_ENTRIES:
            self._local.popitem(last=False)

    @staticmethod
    def _bundle_region_problem(view: View, bundle_id: str, region: str) -> None:
        catalog = view.require()
        if bundle_id not in view.versions:
            raise _unknown_bundle(bundle_id)
        if region not in catalog.regions:
            raise ProblemException(
                422,
                "UNKNOWN_REGION",
                f"no region {region!r} in the catalog",
                errors=[ErrorDetail(message="no such region", field="region", source="query", key=region)],
            )

    @staticmethod
    def _pack(compose: Callable[[], Workflow]) -> bytes:
        """The composed workflow, or the bundling problem, as the bytes the cache keeps."""
        from bundler import BundleError

        try:
            workflow = compose()
        except BundleError as exc:
            return _PROBLEM + msgspec.json.encode(exc.problem)
        return _WORKFLOW + msgspec.json.encode(workflow)

    @staticmethod
    def _unpack(packed: bytes, etag: str, hit: bool) -> Computed:
        if packed[:1] == _PROBLEM:
            error = msgspec.json.decode(packed[1:])
            code = str(error.get("error", "BUNDLE_ERROR"))
            items = [str(i) for i in error.get("items", [])]
            raise ProblemException(
                BUNDLE_ERROR_STATUS.get(code, 422),
                code,
                str(error.get("message", "")),
                items=items,
                errors=[
                    ErrorDetail(message=str(error.get("message", "")), kind="item", key=i) for i in items
                ],
            )
        return Computed(packed[1:], etag, hit)

    # -- bundles --------------------------------------------------------------------------
    async def bundle(self, bundle_id: str) -> s.BundleOut:
        view = await self.snapshot()
        version = view.versions.get(bundle_id)
        if version is None or view.catalog is None:
            raise _unknown_bundle(bundle_id)
        return bundle_out(view.catalog.bundles[bundle_id], version)

    async def create_bundle(self, data: s.BundleCreate) -> s.BundleOut:
        from catalog.store import BundleExists

        bundle = bundle_of(data.id, data)
        check = await self._bundle_check()
        try:
            stored = await self._run(self.store.create_bundle, bundle, check)
        except BundleExists:
            raise ProblemException(
                409,
                "BUNDLE_EXISTS",
                f"bundle {bundle.id!r} exists; replace it with PUT and If-Match",
                errors=[
                    ErrorDetail(message="id taken", field="id", source="body", kind="bundle", key=bundle.id)
                ],
            ) from None
        return bundle_out(stored.bundle, stored.version)

    async def replace_bundle(self, bundle_id: str, data: s.BundleReplace, if_version: int) -> s.BundleOut:
        from catalog.store import BundleNotFound, VersionConflict

        bundle = bundle_of(bundle_id, data)
        check = await self._bundle_check()
        try:
            stored = await self._run(self.store.replace_bundle, bundle, if_version, check)
        except BundleNotFound:
            raise _unknown_bundle(bundle_id) from None
        except VersionConflict as exc:
            raise _stale(bundle_id, if_version, exc.current, await self._bundle_name(bundle_id)) from None
        return bundle_out(stored.bundle, stored.version)

    async def delete_bundle(self, bundle_id: str, if_version: int) -> None:
        from catalog.store import BundleNotFound, VersionConflict

        try:
            await self._run(self.store.delete_bundle, bundle_id, if_version)
        except BundleNotFound:
            raise _unknown_bundle(bundle_id) from None
        except VersionConflict as exc:
            raise _stale(bundle_id, if_version, exc.current, await self._bundle_name(bundle_id)) from None

    async def _bundle_name(self, bundle_id: str) -> str | None:
        """The stored bundle's name (for a message), or None when it is gone."""
        stored = await self._run(self.store.bundle, bundle_id)
        return None if stored is None else stored.bundle.name

    async def current_version(self, bundle_id: str) -> int:
        stored = await self._run(self.store.bundle, bundle_id)
        if stored is None:
            raise _unknown_bundle(bundle_id)
        return stored.version

    async def _bundle_check(self) -> Callable[[Bundle], None]:
        """The check a bundle write runs inside its transaction: BUNDLE and UNKNOWN_REF against
        the newest version as it stands then (a publish finishing meanwhile is waited for)."""
        from catalog.validate import bundle_findings

        view = await self.snapshot()
        view.require()
        store = self.store

        def check(bundle: Bundle) -> None:
            current = view
            newest = store.heads()[0]
            catalog = current.catalog if newest == current.version else store.dictionaries(newest)
            assert catalog is not None
            errors = [f for f in bundle_findings(bundle, catalog) if f.severity == "error"]
            if errors:
                raise ProblemException(
                    422,
                    "INVALID_BUNDLE",
                    f"the bundle has {len(errors)} error finding(s)",
                    errors=findings_as_errors(errors),
                )

        return check

    # -- publishing -----------------------------------------------------------------------
    async def publish_file(
        self, path: Path, *, by: str, note: str = "", region: str | None = None, take_bundles: bool = False
    ) -> s.PublishResult:
        """A whole catalog file, or a region's partial one, as the next version: 422 with the
        touched records' error findings (nothing changed) or the new version with its warnings."""
        return await self.published(
            lambda: self.store.publish_file(path, by=by, note=note, region=region, take_bundles=take_bundles)
        )

    async def publish_sheet(
        self, path: Path, fmt: str, *, by: str, note: str = "", region: str | None = None
    ) -> s.PublishResult:
        """A region's sheet (`catalog.sheet`) as its partial submission: 422 with the findings at
        worksheet, row and column (nothing changed), or the new version."""
        from catalog.store.sheets import publish_sheet

        def publish() -> Any:
            published, sheet = publish_sheet(self.store, path, fmt, by=by, note=note, region=region)  # type: ignore[arg-type]
            report = msgspec.structs.replace(
                published.report, findings=sheet.origin.locate_all(published.report.findings)
            )
            return msgspec.structs.replace(published, report=report)

        return await self.published(publish)

    async def sheet_file(self, view: View, region: str, fmt: str) -> Any:
        """`region`'s sheet of the view's version in a temporary file, opened for reading and
        already unlinked (it goes when the handle is closed); written off the event loop."""
        import tempfile

        from catalog import scratch
        from catalog.sheet import TooManyRows
        from catalog.store.sheets import export_sheet

        def written() -> Any:
            fh = tempfile.TemporaryFile(prefix="sheet-", dir=scratch.folder())  # noqa: SIM115 - the response closes it
            try:
                export_sheet(self.store, fh, fmt, region, view.version, catalog=view.catalog)  # type: ignore[arg-type]
            except BaseException:
                fh.close()
                raise
            fh.seek(0)
            return fh

        try:
            return await self._run(written)
        except TooManyRows as exc:
            raise ProblemException(
                422,
                "TOO_MANY_ROWS",
                f"region {region}'s list has {exc.rows:,} rows, more than an Excel worksheet holds: ask for format=csv",
                errors=[ErrorDetail(message=str(exc), field="format", source="query")],
            ) from None

    async def published(self, publish: Callable[[], Any]) -> s.PublishResult:
        """Run a store publish (off the event loop) and answer as `PUT /catalog` does."""
        from catalog.store import Refused, SheetRefused

        try:
            with responsive():
                published = await self._run(publish)
        except SheetRefused as exc:
            raise _refused(
                exc.findings,
                "the sheet cannot be read as implementations ({n} finding(s)); nothing was published",
                code="INVALID_SHEET",
            ) from None
        except Refused as exc:
            raise _refused(exc.findings, "{n} error finding(s); nothing was published") from None
        view = await self.snapshot()
        summary = view.summary
        assert summary is not None
        report = published.report
        return s.PublishResult(
            revision=published.version,
            added=published.added,
            changed=published.changed,
            removed=published.removed,
            catalog=summary,
            summary=s.SummaryOut(errors=0, warnings=report.summary.warnings),
            findings=[finding_out(f) for f in report.findings if f.severity != "error"][:1000],
            needs_review=published.needs_review,
            kept_bundles=[s.KeptBundleOut(k.id, k.name, k.message) for k in published.kept],
        )

    @staticmethod
    def validate_upload(path: Path) -> Report:
        from catalog.validate import validate_file

        return validate_file(path)


_publishing = 0
_interval = 0.005


@contextmanager
def responsive(interval: float = 0.0005) -> Iterator[None]:
    """While a publish runs in this process, its thread hands the GIL over every `interval`
    seconds instead of every 5 ms: a read needs it a few dozen times between the network and
    its answer, and waited up to the whole interval each time a publish's Python held it."""
    global _publishing, _interval
    if _publishing == 0:
        _interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, _interval))
    _publishing += 1
    try:
        yield
    finally:
        _publishing -= 1
        if _publishing == 0:
            sys.setswitchinterval(_interval)


def _effective_items(catalog: Catalog, path: Sequence[str], impls: Sequence[Placement]) -> list[s.EffectiveItem]:
    """§4 step 1 for every item on the path (the region first, then its ancestors): each item's
    implementation in the nearest region that has one, the smallest code among several there
    (as `bundler.graph.resolve`, in one pass over the rows rather than an index of them)."""
    rank = {region: k for k, region in enumerate(path)}
    nearest: dict[str, tuple[int, str, Placement]] = {}
    items = catalog.items
    for impl in impls:
        if impl.item not in items:
            continue
        key = (rank.get(impl.region, len(rank)), impl.code, impl)
        held = nearest.get(impl.item)
        if held is None or key[:2] < held[:2]:
            nearest[impl.item] = key
    codes = sorted(nearest)
    resolved = {code: nearest[code][2] for code in codes}
    out = []
    for code in codes:
        impl = resolved[code]
        item = catalog.items[code]
        where: Region | None = catalog.regions.get(impl.region)
        out.append(
            s.EffectiveItem(
                item=code,
                name=item.name,
                type=item.type,
                implementation=impl.code,
                region=impl.region,
                level=where.level if where else "national",
                agency=impl.agency,
                promised_days=impl.promised_days,
                visits=impl.visits,
                online_depth=impl.online_depth,
                fee=float(impl.fee),
            )
        )
    return out


def subtree_prefix(catalog: Catalog, region: str) -> str:
    """The code prefix every region under `region` shares (GB/T 2260: a province PP0000 holds
    PP…, a city PPCC00 holds PPCC…; REGION_PARENT keeps published trees that way)."""
    found = catalog.regions.get(region)
    if found is None or found.level == "national":
        return ""
    if found.level == "province":
        return region[:2]
    if found.level == "city":
        return region[:4]
    return region


def _flat(answers: Answers) -> list[str]:
    return [f"{question}={answer}" for question, answer in answers]


def unknown_answer(catalog: Catalog, question: str, answer: str, source: str) -> ProblemException:
    """UNKNOWN_ANSWER (§4) as a problem whose detail a clerk reads: which question or answer is
    not in the catalog, and what the question offers."""
    defined = catalog.questions.get(question)
    if defined is None:
        detail = f"目录中没有情形问题“{question}”"
    else:
        offered = "、".join(f"{a}（{text}）" for a, text in defined.answers.items())
        detail = f"情形问题“{defined.text}”（{question}）没有答案“{answer}”，可选：{offered}"
    return ProblemException(
        422,
        "UNKNOWN_ANSWER",
        detail,
        errors=[ErrorDetail(message=detail, field="answers", source=source, kind="question", key=question)],
    )


def _with_revision(workflow: Workflow, version: int) -> Workflow:
    return msgspec.structs.replace(workflow, revision=version)


def _render_guide(catalog: Catalog, workflow_json: bytes) -> bytes:
    from bundler import Workflow, render_guide

    workflow = msgspec.json.decode(workflow_json, type=Workflow)
    return render_guide(workflow, catalog).encode()


def _refused(findings: Sequence[Any], message: str, code: str = "INVALID_CATALOG") -> ProblemException:
    errors = [f for f in findings if f.severity == "error"]
    return ProblemException(
        422, code, message.format(n=len(errors)), errors=findings_as_errors(errors[:1000])
    )


def _unknown_bundle(bundle_id: str) -> ProblemException:
    return ProblemException(
        404,
        "UNKNOWN_BUNDLE",
        f"no bundle {bundle_id!r}",
        errors=[ErrorDetail(message="no such bundle", kind="bundle", key=bundle_id)],
    )


def _stale(bundle_id: str, if_version: int, current: int, name: str | None = None) -> ProblemException:
    """A write based on a version that is no longer the bundle's: said in Chinese, by its name."""
    what = f"一件事“{name}”" if name else f"一件事 {bundle_id}"
    return ProblemException(
        412,
        "STALE_VERSION",
        f"{what}已被他人修改，现在是第 {current} 版，不是您读取时的第 {if_version} 版："
        "请重新读取后再修改，以免覆盖他人的更改。",
        errors=[ErrorDetail(message=f"当前是第 {current} 版", field="If-Match", source="header")],
        headers={"ETag": f'"{current}"'},
    )


def bundle_of(bundle_id: str, data: s.BundleCreate | s.BundleReplace) -> Bundle:
    """A designer's bundle as §1's record."""
    return Bundle(
        id=bundle_id,
        name=data.name,
        items=list(data.items),
        description=data.description,
        regions=data.regions,
        window=data.window,
        target_days=data.target_days,
        when=data.when,
    )


def bundle_out(bundle: Bundle, version: int) -> s.BundleOut:
    return s.BundleOut(
        id=bundle.id,
        name=bundle.name,
        items=list(bundle.items),
        description=bundle.description,
        version=version,
        regions=None if bundle.regions is None else list(bundle.regions),
        window=bundle.window,
        target_days=bundle.target_days,
        when=bundle.when,
    )


def report_view(
    report: Report, *, rule: str | None, severity: str | None, limit: int, offset: int
) -> s.ValidationReport:
    """An uploaded file's report (not published) as a reviewer asks for it: filtered, one page."""
    findings = report.findings
    if rule:
        findings = [f for f in findings if f.rule == rule]
    if severity:
        findings = [f for f in findings if f.severity == severity]
    return s.ValidationReport(
        revision=None,
        catalog_version=None,
        summary=s.SummaryOut(errors=report.summary.errors, warnings=report.summary.warnings),
        total=len(findings),
        findings=[finding_out(f) for f in findings[offset : offset + limit]],
        conformity=conformity_out(report.conformity),
    )
