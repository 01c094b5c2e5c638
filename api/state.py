"""The API's state: the store, the loaded catalog (cached by store revision) and the workflow cache.

Pages and routes get these as Litestar dependencies (see `api.app`):

- `store` — the `catalog.store.Store` (SQLite or PostgreSQL), sync; call it through
  `CatalogService` where a method exists, so reads stay cached.
- `catalog_service` — a `CatalogService`. `await catalog_service.snapshot()` returns the
  current `Snapshot` (`.catalog`, `.revision`, `.versions`, `.tag`, `.summary`, …), reloading
  from the store only when its revision moved (one cheap query per request). Workflows and
  guides: `await catalog_service.workflow(bundle_id, region)` and `.guide(...)` return a
  `Computed` (body bytes, ETag, cache hit or not) or raise `problems.ProblemException`.

Every instance sharing a database sees every write: each request compares the store's
revision (bumped by every write) with the one its snapshot was loaded at (`RevisionProbe`:
one held DBAPI connection, ~4 µs on SQLite). Workflows are cached under a key made of the
catalog's content tag, the bundle (record and version) and the region — content-addressed,
so a change to either makes a new key and the old entry ages out by TTL; nothing is ever
served stale. With Redis the computed workflows are shared between instances; a small
in-process LRU sits in front (safe for the same reason), and a cache outage only costs a
recomputation.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import msgspec

from catalog.findings import Report
from catalog.model import Bundle, Catalog, Implementation, Region, record_encoder, requirements_of

from . import schemas as s
from .problems import ErrorDetail, ProblemException

if TYPE_CHECKING:
    from litestar.stores.base import Store as CacheStore

    from bundler import Workflow
    from catalog.store import Store, StoredBundle

log = logging.getLogger("onething.api")


# Bundling error (§4) → HTTP status.
BUNDLE_ERROR_STATUS = {
    "UNKNOWN_BUNDLE": 404,
    "UNKNOWN_REGION": 422,
    "UNKNOWN_ITEM": 422,
    "NOT_IMPLEMENTED": 422,
    "CYCLE": 422,
}

_WORKFLOW = b"W"
_PROBLEM = b"P"


def _digest(*parts: object) -> str:
    h = hashlib.blake2b(digest_size=12)
    for part in parts:
        h.update(str(part).encode())
        h.update(b"\x1f")
    return h.hexdigest()


def _finding_out(f: Any) -> s.FindingOut:
    return s.FindingOut(
        rule=f.rule, severity=f.severity, kind=f.kind, key=f.key, line=f.line, message=f.message
    )


def findings_as_errors(findings: Sequence[Any]) -> list[ErrorDetail]:
    return [
        ErrorDetail(message=f.message, rule=f.rule, severity=f.severity, kind=f.kind, key=f.key, line=f.line)
        for f in findings
    ]


def catalog_tag(catalog: Catalog) -> str:
    """A content hash of the catalog without its bundles: equal catalogs, equal tags, on every instance."""
    h = hashlib.blake2b(digest_size=12)
    encode = record_encoder.encode
    for table in (catalog.regions, catalog.materials, catalog.fields, catalog.items, catalog.implementations):
        for key in sorted(table):
            h.update(encode(table[key]))
            h.update(b"\n")
    h.update(encode(catalog.header))
    return h.hexdigest()


@dataclass
class Snapshot:
    """The catalog as of one store revision, with what is derived from it (built lazily, once)."""

    revision: int
    catalog: Catalog | None
    versions: dict[str, int]
    tag: str
    summary: s.CatalogSummary | None
    children: dict[str, list[str]] = field(default_factory=dict)
    impl_count: dict[str, int] = field(default_factory=dict)
    impls_by_item: dict[str, list[Implementation]] = field(default_factory=dict)
    etags: dict[tuple[str, str, str], str] = field(default_factory=dict)
    _report: Report | None = None
    _export: bytes | None = None
    _effective: dict[str, list[s.EffectiveItem]] = field(default_factory=dict)

    @classmethod
    def empty(cls, revision: int) -> Snapshot:
        return cls(revision=revision, catalog=None, versions={}, tag="empty", summary=None)

    @classmethod
    def build(cls, revision: int, catalog: Catalog | None, stored: list[StoredBundle]) -> Snapshot:
        if catalog is None:
            return cls.empty(revision)
        # The bundles as one read gave them, with their versions (catalog() and bundles()
        # are two reads; the versions must belong to the bundles we serve).
        catalog = msgspec.structs.replace(catalog, bundles={sb.bundle.id: sb.bundle for sb in stored})
        versions = {sb.bundle.id: sb.version for sb in stored}
        children: dict[str, list[str]] = {}
        for code in sorted(catalog.regions):
            parent = catalog.regions[code].parent
            if parent is not None:
                children.setdefault(parent, []).append(code)
        impls_by_item: dict[str, list[Implementation]] = {}
        for code in sorted(catalog.implementations):
            impl = catalog.implementations[code]
            impls_by_item.setdefault(impl.item, []).append(impl)
        summary = s.CatalogSummary(
            version=catalog.header.version,
            title=catalog.header.title,
            regions=len(catalog.regions),
            materials=len(catalog.materials),
            fields=len(catalog.fields),
            items=len(catalog.items),
            implementations=len(catalog.implementations),
            bundles=len(catalog.bundles),
        )
        return cls(
            revision=revision,
            catalog=catalog,
            versions=versions,
            tag=catalog_tag(catalog),
            summary=summary,
            children=children,
            impl_count={k: len(v) for k, v in impls_by_item.items()},
            impls_by_item=impls_by_item,
        )

    # -- derived, lazily ------------------------------------------------------------------
    def require(self) -> Catalog:
        if self.catalog is None:
            raise ProblemException(
                409, "NO_CATALOG", "no catalog has been published yet (PUT /catalog as a reviewer)"
            )
        return self.catalog

    def report(self) -> Report:
        if self._report is None:
            from catalog.validate import validate

            self._report = validate(self.require())
        return self._report

    def export(self) -> bytes:
        """The catalog as JSONL, header first (§1)."""
        if self._export is None:
            catalog = self.require()
            encode = record_encoder.encode
            self._export = b"".join(encode(r) + b"\n" for r in catalog.records())
        return self._export

    def path(self, region: str) -> list[str]:
        """The region and its ancestors up to 000000: where an applicant's items are looked for."""
        catalog = self.require()
        out: list[str] = []
        code: str | None = region
        while code is not None and code in catalog.regions and code not in out:
            out.append(code)
            code = catalog.regions[code].parent
        return out

    def subtree(self, region: str) -> set[str]:
        out = {region}
        stack = [region]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child not in out:
                    out.add(child)
                    stack.append(child)
        return out

    def effective(self, region: str) -> list[s.EffectiveItem]:
        """Every item an applicant in `region` can apply for, each resolved as §4 step 1 says."""
        cached = self._effective.get(region)
        if cached is not None:
            return cached
        from bundler import BundleError
        from bundler.graph import resolve

        catalog = self.require()
        out: list[s.EffectiveItem] = []
        for code in sorted(catalog.items):
            try:
                impl = resolve(catalog, [code], region)[code]
            except BundleError:  # implemented nowhere on the region's path
                continue
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
        self._effective[region] = out
        return out

    def search(
        self,
        q: str | None = None,
        code: str | None = None,
        type_: str | None = None,
        region: str | None = None,
        owner: str | None = None,
    ) -> list[s.ItemSummary]:
        """Items whose name contains `q` (case-insensitive), whose code starts with `code`, of
        `type_`, owned by `owner`, and (with `region`) that an applicant there can apply for."""
        catalog = self.require()
        needle = q.casefold() if q else None
        effective = {e.item for e in self.effective(region)} if region else None
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
                    implementations=self.impl_count.get(item_code, 0),
                )
            )
        return out

    def item_detail(self, code: str) -> s.ItemDetail | None:
        """An item with its implementations side by side (by level, then region), each with
        what the validator found about it."""
        catalog = self.require()
        item = catalog.items.get(code)
        if item is None:
            return None
        by_key: dict[str, list[s.FindingOut]] = {}
        for f in self.report().findings:
            if f.kind == "implementation" and f.key is not None:
                by_key.setdefault(f.key, []).append(_finding_out(f))
        order = {"national": 0, "province": 1, "city": 2, "county": 3}
        views = []
        for impl in self.impls_by_item.get(code, []):
            region = catalog.regions.get(impl.region)
            level = region.level if region else "county"
            views.append(
                s.ImplementationView(
                    implementation=impl,
                    region_name=region.name if region else "",
                    level=level,
                    requirements=requirements_of(impl, item),
                    findings=by_key.get(impl.code, []),
                )
            )
        views.sort(key=lambda v: (order[v.level], v.implementation.region, v.implementation.code))
        return s.ItemDetail(item=item, implementations=views)


@dataclass
class Computed:
    """A computed (or cached) workflow or guide body."""

    body: bytes
    etag: str
    hit: bool
    status: int = 200
    media_type: str = "application/json"


class RevisionProbe:
    """`store.revision()` through one DBAPI connection held for the purpose: the check every
    request makes costs ~4 µs on SQLite and one round trip on PostgreSQL, instead of a pooled
    SQLAlchemy checkout (~120 µs, ~600 µs). Used from the event loop only. On any error the
    connection is dropped and the store answers; the next call opens a new one.
    (A candidate for `catalog.store.Store` itself.)"""

    def __init__(self, store: Store):
        from catalog.store import StateRow

        self.store = store
        self.sql = f"SELECT revision FROM {StateRow.__tablename__} WHERE id = 1"
        self._raw: Any = None
        self._conn: Any = None

    def __call__(self) -> int:
        try:
            if self._conn is None:
                self._raw = self.store.engine.raw_connection()
                self._conn = self._raw.driver_connection
                if hasattr(self._conn, "autocommit") and not self.store.url.startswith("sqlite"):
                    self._conn.autocommit = True  # psycopg: no transaction left open between probes
            cursor = self._conn.cursor()
            try:
                cursor.execute(self.sql)
                row = cursor.fetchone()
            finally:
                cursor.close()
            return int(row[0])
        except Exception:  # noqa: BLE001 - a broken probe must not break the request
            self.close()
            return self.store.revision()

    def close(self) -> None:
        raw, self._raw, self._conn = self._raw, None, None
        if raw is not None:
            try:
                raw.invalidate()
            except Exception:
                log.debug("closing the revision probe failed", exc_info=True)


class CatalogService:
    """Reads through the snapshot; writes through the store, then the next read reloads."""

    def __init__(
        self, store: Store, cache: CacheStore, *, cache_ttl: int = 86_400, cache_kind: str = "memory"
    ):
        self.store = store
        self.cache = cache
        self.cache_ttl = cache_ttl
        self.cache_kind = cache_kind
        self._snapshot = Snapshot.empty(-1)
        self._lock = asyncio.Lock()
        self.probe = RevisionProbe(store)
        self._local: OrderedDict[str, bytes] = OrderedDict()
        """Newest workflow bodies, in front of the shared cache. Keys name their content (catalog
        tag, bundle version, region), so an entry is never stale: no invalidation needed here."""

    # -- the snapshot ---------------------------------------------------------------------
    async def revision(self) -> int:
        return self.probe()

    def close(self) -> None:
        self.probe.close()

    async def snapshot(self) -> Snapshot:
        revision = await self.revision()
        if revision == self._snapshot.revision:
            return self._snapshot
        async with self._lock:
            if self._snapshot.revision != revision:
                self._snapshot = await anyio.to_thread.run_sync(self._load)
                await self._tidy_cache()
        return self._snapshot

    def _load(self) -> Snapshot:
        # Revision first: contents at least as new as the revision they are filed under.
        revision = self.store.revision()
        catalog = self.store.catalog()
        stored = self.store.bundles() if catalog is not None else []
        started = time.perf_counter()
        snap = Snapshot.build(revision, catalog, stored)
        log.info("catalog revision %s loaded in %.1f ms", revision, (time.perf_counter() - started) * 1e3)
        return snap

    async def _tidy_cache(self) -> None:
        delete_expired = getattr(self.cache, "delete_expired", None)
        if delete_expired is not None:
            await delete_expired()

    # -- workflows ------------------------------------------------------------------------
    def workflow_etag(
        self, snap: Snapshot, bundle_id: str, region: str, what: str = "workflow"
    ) -> str | None:
        """The ETag a bundle's workflow (or guide) has now, without computing it; None if unknown."""
        known = snap.etags.get((bundle_id, region, what))
        if known is not None:
            return known
        version = snap.versions.get(bundle_id)
        if version is None or snap.catalog is None or region not in snap.catalog.regions:
            return None
        # Content-addressed: the catalog's tag and the bundle record itself (its version alone
        # would let two databases sharing one Redis mix up their bundles' workflows).
        bundle = record_encoder.encode(snap.catalog.bundles[bundle_id])
        etag = f'"{what[0]}{_digest(snap.tag, bundle, version, region, what)}"'
        snap.etags[(bundle_id, region, what)] = etag  # bounded: known bundles x known regions
        return etag

    async def workflow(self, bundle_id: str, region: str, snap: Snapshot | None = None) -> Computed:
        """`snap`: the snapshot the caller already holds (one revision check per request)."""
        snap = snap or await self.snapshot()
        snap.require()
        etag = self.workflow_etag(snap, bundle_id, region)
        if etag is None:
            self._bundle_region_problem(snap, bundle_id, region)
        assert etag is not None
        from bundler import compose_bundle

        catalog = snap.require()
        return await self._workflow_through_cache(
            etag, self.cache_ttl, lambda: compose_bundle(catalog, bundle_id, region)
        )

    async def adhoc_workflow(self, items: list[str], region: str) -> Computed:
        from bundler import compose

        snap = await self.snapshot()
        catalog = snap.require()
        etag = f'"a{_digest(snap.tag, region, *items)}"'
        return await self._workflow_through_cache(
            etag, min(self.cache_ttl, 3600), lambda: compose(catalog, items, region)
        )

    async def _workflow_through_cache(self, etag: str, ttl: int, compose: Callable[[], Workflow]) -> Computed:
        """The cached workflow for this ETag, or one composed off the event loop and cached."""
        key = "wf:" + etag.strip('"')
        cached = await self._get(key)
        if cached is not None:
            return self._unpack(cached, etag, hit=True)
        packed = await anyio.to_thread.run_sync(self._pack, compose)
        await self._set(key, packed, ttl)
        return self._unpack(packed, etag, hit=False)

    async def guide(self, bundle_id: str, region: str, snap: Snapshot | None = None) -> Computed:
        snap = snap or await self.snapshot()
        etag = self.workflow_etag(snap, bundle_id, region, "guide")
        workflow = await self.workflow(bundle_id, region, snap)  # raises the bundling problem, if any
        assert etag is not None
        key = "guide:" + etag.strip('"')
        cached = await self._get(key)
        if cached is not None:
            return Computed(cached, etag, hit=True, media_type="text/html; charset=utf-8")
        body = await anyio.to_thread.run_sync(self._render_guide, snap, workflow.body)
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
    def _bundle_region_problem(snap: Snapshot, bundle_id: str, region: str) -> None:
        catalog = snap.require()
        if bundle_id not in snap.versions:
            raise ProblemException(
                404,
                "UNKNOWN_BUNDLE",
                f"no bundle {bundle_id!r}",
                errors=[ErrorDetail(message="no such bundle", kind="bundle", key=bundle_id)],
            )
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
    def _render_guide(snap: Snapshot, workflow_json: bytes) -> bytes:
        from bundler import Workflow, render_guide

        workflow = msgspec.json.decode(workflow_json, type=Workflow)
        return render_guide(workflow, snap.require()).encode()

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

    # -- reads ----------------------------------------------------------------------------
    async def bundle(self, bundle_id: str) -> s.BundleOut:
        snap = await self.snapshot()
        version = snap.versions.get(bundle_id)
        if version is None or snap.catalog is None:
            raise ProblemException(
                404,
                "UNKNOWN_BUNDLE",
                f"no bundle {bundle_id!r}",
                errors=[ErrorDetail(message="no such bundle", kind="bundle", key=bundle_id)],
            )
        return bundle_out(snap.catalog.bundles[bundle_id], version)

    # -- writes ---------------------------------------------------------------------------
    async def create_bundle(self, data: s.BundleCreate) -> s.BundleOut:
        from catalog.store import BundleExists

        bundle = Bundle(id=data.id, name=data.name, items=list(data.items), description=data.description)
        await self._check_bundle(bundle)
        try:
            stored = await anyio.to_thread.run_sync(self.store.create_bundle, bundle)
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

        bundle = Bundle(id=bundle_id, name=data.name, items=list(data.items), description=data.description)
        await self._check_bundle(bundle)
        try:
            stored = await anyio.to_thread.run_sync(self.store.replace_bundle, bundle, if_version)
        except BundleNotFound:
            raise _unknown_bundle(bundle_id) from None
        except VersionConflict as exc:
            raise _stale(bundle_id, if_version, exc.current) from None
        return bundle_out(stored.bundle, stored.version)

    async def delete_bundle(self, bundle_id: str, if_version: int) -> None:
        from catalog.store import BundleNotFound, VersionConflict

        try:
            await anyio.to_thread.run_sync(self.store.delete_bundle, bundle_id, if_version)
        except BundleNotFound:
            raise _unknown_bundle(bundle_id) from None
        except VersionConflict as exc:
            raise _stale(bundle_id, if_version, exc.current) from None

    async def current_version(self, bundle_id: str) -> int:
        stored = await anyio.to_thread.run_sync(self.store.bundle, bundle_id)
        if stored is None:
            raise _unknown_bundle(bundle_id)
        return stored.version

    async def _check_bundle(self, bundle: Bundle) -> None:
        from catalog.validate import bundle_findings

        snap = await self.snapshot()
        findings = bundle_findings(bundle, snap.require())
        errors = [f for f in findings if f.severity == "error"]
        if errors:
            raise ProblemException(
                422,
                "INVALID_BUNDLE",
                f"the bundle has {len(errors)} error finding(s)",
                errors=findings_as_errors(errors),
            )

    async def publish(self, body: bytes) -> s.PublishResult:
        """All or nothing: the file, merged with the stored bundles it does not redefine, must
        validate without an error finding; then one transaction replaces the catalog."""
        revision, _catalog, warnings = await anyio.to_thread.run_sync(self._publish, body)
        snap = await self.snapshot()
        summary = snap.summary
        assert summary is not None
        return s.PublishResult(
            revision=revision,
            catalog=summary,
            summary=s.SummaryOut(errors=0, warnings=len(warnings)),
            findings=[_finding_out(f) for f in warnings],
        )

    def _publish(self, body: bytes) -> tuple[int, Catalog, list[Any]]:
        from catalog.validate import load_bytes

        catalog, report = load_bytes(body)
        if not report.ok:
            raise _refused(report.findings, "the catalog has {n} error finding(s); nothing was published")
        revision, merged_report = self.store.publish_checked(catalog)
        if revision is None:
            assert merged_report is not None
            raise _refused(
                merged_report.findings,
                "{n} error finding(s) once the stored bundles are kept; nothing was published",
            )
        report = merged_report or report
        return revision, catalog, [f for f in report.findings if f.severity != "error"]

    @staticmethod
    def validate_upload(body: bytes) -> Report:
        from catalog.validate import load_bytes

        return load_bytes(body)[1]


def _refused(findings: Sequence[Any], message: str) -> ProblemException:
    errors = [f for f in findings if f.severity == "error"]
    return ProblemException(
        422, "INVALID_CATALOG", message.format(n=len(errors)), errors=findings_as_errors(errors)
    )


def _unknown_bundle(bundle_id: str) -> ProblemException:
    return ProblemException(
        404,
        "UNKNOWN_BUNDLE",
        f"no bundle {bundle_id!r}",
        errors=[ErrorDetail(message="no such bundle", kind="bundle", key=bundle_id)],
    )


def _stale(bundle_id: str, if_version: int, current: int) -> ProblemException:
    return ProblemException(
        412,
        "STALE_VERSION",
        f"bundle {bundle_id!r} is at version {current}, not {if_version}: read it again and retry",
        errors=[ErrorDetail(message=f"current version is {current}", field="If-Match", source="header")],
        headers={"ETag": f'"{current}"'},
    )


def bundle_out(bundle: Bundle, version: int) -> s.BundleOut:
    return s.BundleOut(
        id=bundle.id,
        name=bundle.name,
        items=list(bundle.items),
        description=bundle.description,
        version=version,
    )


def report_view(
    snap: Snapshot | None,
    report: Report,
    *,
    rule: str | None,
    severity: str | None,
    region: str | None,
    limit: int,
    offset: int,
) -> s.ValidationReport:
    """The report as a reviewer asks for it: filtered findings, one page of them, conformity rows."""
    findings = report.findings
    conformity = report.conformity
    if rule:
        findings = [f for f in findings if f.rule == rule]
    if severity:
        findings = [f for f in findings if f.severity == severity]
    if region and snap is not None:
        catalog = snap.require()
        within = snap.subtree(region)
        impls = catalog.implementations
        items = catalog.items

        def about(f: Any) -> bool:
            if f.kind == "region":
                return f.key in within
            if f.kind == "implementation":
                impl = impls.get(f.key)
                return impl is not None and impl.region in within
            if f.kind == "item":
                item = items.get(f.key)
                return item is not None and item.owner in within
            return False

        findings = [f for f in findings if about(f)]
        conformity = [c for c in conformity if c.region in within]
    return s.ValidationReport(
        revision=None if snap is None else snap.revision,
        catalog_version=None if snap is None or snap.catalog is None else snap.catalog.header.version,
        summary=s.SummaryOut(errors=report.summary.errors, warnings=report.summary.warnings),
        total=len(findings),
        findings=[_finding_out(f) for f in findings[offset : offset + limit]],
        conformity=[
            s.ConformityOut(
                region=c.region,
                implementations=c.implementations,
                conforming=c.conforming,
                rate=1.0 if c.implementations == 0 else round(c.conforming / c.implementations, 4),
            )
            for c in conformity
        ],
    )
