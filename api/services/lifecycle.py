"""The lifecycle of §6 for the API and the pages: versions and diffs, the needs-review queue,
submissions held for approval, the audit — and the region scope of the caller's token.

Every rule of §6 stays in the store (`catalog.store`): this service checks who may act where
(a scoped token within its region's subtree, as the newest version has it; whole catalogs
only unscoped), pages what can be long, and turns the store's answers into API bodies.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.exceptions import ValidationException

from .. import schemas_lifecycle as sl
from ..lru import MISSING, BoundedLRU
from ..schemas import ErrorDetail, PublishResult, finding_out
from ..view import View, Views
from .base import StoreService
from .errors import NotPending, OutOfScope, OwnSubmission, TooLarge, UnknownRegion, not_found
from .errors import refused as _refused
from .publishing import PublishingService

if TYPE_CHECKING:
    from catalog.sheet.read import Format as SheetFormat
    from catalog.store import Caller, Check, Store, Submission
    from catalog.store.reads import Diff

MAX_FINDINGS = 1000
DIFF_CACHE = 8


class LifecycleService(StoreService):
    def __init__(self, views: Views, publishing: PublishingService, store: Store):
        super().__init__(views, store)
        self.publishing = publishing
        self._diffs: BoundedLRU[tuple[int, int], dict[str, dict[str, int]]] = BoundedLRU(DIFF_CACHE)

    # -- scope -----------------------------------------------------------------------------
    async def scope(self, caller: Caller, region: str | None) -> View:
        """OutOfScope unless the caller may act on `region` (None: the whole catalog, unscoped
        only); UnknownRegion for a region the newest version does not have."""
        snap = await self.views.snapshot()
        catalog = snap.require()
        if region is None:
            if caller.region is not None:
                raise OutOfScope(
                    f"整个目录只能由不限区划的令牌提交；本令牌只能在{_region_name(catalog, caller.region)}范围内操作。"
                )
            return snap
        await self.views.locate(snap, region)  # a township or village: its chain, by key
        if not snap.knows(region):
            raise UnknownRegion(
                f"最新版本的目录中没有区划 {region}。",
                errors=[ErrorDetail(message="目录中没有该区划", kind="region", key=region)],
            )
        within(caller, region, snap)
        return snap

    async def visible_regions(self, caller: Caller, region: str | None) -> list[str] | None:
        """The regions a listing shows: `region`'s subtree (within the caller's), the caller's
        subtree, or None (everything) for an unscoped caller without a filter."""
        if region is None and caller.region is None:
            return None
        root = region or caller.region
        snap = await self.scope(caller, root)
        return await self._run(lambda: sorted(snap.within(root, points=False)[0]))

    async def bundle_in_scope(self, caller: Caller, regions: list[str] | None) -> None:
        """A region-scoped designer writes only bundles offered within its region: `regions`
        named, each inside its subtree (OutOfScope otherwise)."""
        if caller.region is None:
            return
        if not regions:
            raise OutOfScope(
                f"本令牌只能在区划 {caller.region} 范围内操作：它保存的一件事须写明提供区划（regions）。"
            )
        snap = await self.views.snapshot()
        snap.require()
        for region in regions:
            await self.views.locate(snap, region)
            within(caller, region, snap)

    async def stored_bundle_in_scope(self, caller: Caller, bundle_id: str) -> None:
        """The stored bundle a scoped designer replaces or deletes is offered within its region."""
        if caller.region is None:
            return
        stored = await self._run(self.store.bundle, bundle_id)
        if stored is not None:
            await self.bundle_in_scope(
                caller, None if stored.bundle.regions is None else list(stored.bundle.regions)
            )

    # -- versions and diffs -------------------------------------------------------------------
    async def versions(self) -> sl.VersionList:
        rows = await self._run(self.store.versions)
        return sl.VersionList(versions=msgspec.convert(rows, list[sl.VersionOut], from_attributes=True))

    async def diff(
        self, a: int, b: int, *, kind: str | None, limit: int, offset: int, after: str | None = None
    ) -> sl.DiffPage:
        """One page of what changed from version a to b: the counts (kept for the last
        DIFF_CACHE pairs asked), then only the page's records read from the store — from
        `offset`, or (`after`, a page's `next`) from the record past the one a page ended on,
        which the database finds by its key however deep the page is."""
        from catalog.store.reads import CHANGES

        newest = await self._run(self.store.revision)
        for v in (a, b):
            if not 1 <= v <= newest:
                raise not_found("version", str(v))
        counts = self._diffs.get((a, b))
        if counts is MISSING:
            counts = await self._run(self.store.diff_counts, a, b)
            self._diffs.put((a, b), counts)
        kinds = [k for k in counts if kind is None or k == kind]
        segments = [(k, change) for k in kinds for change in CHANGES if counts[k][change]]
        past: str | None = None
        if after is not None:
            at, _, past = after.partition(":")[2].partition(":")
            cursor = (after.partition(":")[0], at)
            if cursor not in segments:
                raise ValidationException("翻页位置（after）无效，请从第一页重新开始。")
            segments = segments[segments.index(cursor) :]
        entries: list[sl.DiffEntry] = []
        skip, want = (offset, limit) if past is None else (0, limit)
        for k, change in segments:
            if want == 0:
                break
            n = counts[k][change]
            if past is None and skip >= n:
                skip -= n
                continue
            found = await self._run(self.store.diff_segment, a, b, k, change, skip, want, past)
            skip, past = 0, None
            entries.extend(sl.DiffEntry(kind=k, key=key, change=change, fields=f) for key, f in found)
            want -= len(found)
        last = entries[-1] if entries and want == 0 else None
        return sl.DiffPage(
            old=a,
            new=b,
            total=sum(sum(counts[k].values()) for k in kinds),
            limit=limit,
            offset=offset,
            counts={k: sl.DiffCounts(**c) for k, c in counts.items()},
            entries=entries,
            next=None if last is None else f"{last.kind}:{last.change}:{last.key}",
        )

    async def republish(self, version: int, *, by: str, note: str) -> PublishResult:
        newest = await self._run(self.store.revision)
        if not 1 <= version <= newest:
            raise not_found("version", str(version))
        return await self.publishing.published(lambda: self.store.republish(version, by=by, note=note))

    # -- the needs-review queue ------------------------------------------------------------------
    async def review(
        self,
        caller: Caller,
        *,
        region: str | None,
        rule: str | None,
        item: str | None,
        limit: int,
        offset: int,
    ) -> sl.ReviewPage:
        regions = await self.visible_regions(caller, region)
        snap = await self.views.snapshot()
        snap.require()
        total, flags = await self._run(
            lambda: self.store.review_page(
                snap.version, regions=regions, rule=rule, item=item, limit=limit, offset=offset
            )
        )
        return sl.ReviewPage(
            version=snap.version,
            total=total,
            limit=limit,
            offset=offset,
            needs_review=[
                sl.FlagOut(
                    kind=f.kind,
                    key=f.key,
                    region=f.region,
                    findings=[finding_out(x) for x in f.findings],
                    cause=f.cause,
                )
                for f in flags
            ],
        )

    # -- submissions ------------------------------------------------------------------------
    async def submit(
        self, caller: Caller, path: Path, *, region: str | None, note: str, max_bytes: int
    ) -> sl.SubmissionOut:
        from catalog.store import SubmissionTooLarge

        await self.scope(caller, region)
        try:
            held, check = await self._run(
                lambda: self.store.submit(path, by=caller.name, note=note, region=region, max_bytes=max_bytes)
            )
        except SubmissionTooLarge as exc:
            raise too_large(exc.limit) from None
        return submission_out(held, check)

    async def submit_sheet(
        self, caller: Caller, path: Path, fmt: SheetFormat, *, region: str | None, note: str, max_bytes: int
    ) -> sl.SubmissionOut:
        """A region's sheet held for approval as its partial submission (`region`: the one its 说明
        records when not given); its findings at worksheet, row and column. InvalidCatalog
        (INVALID_SHEET) when the sheet cannot be read as implementations (nothing held)."""
        from catalog.sheet import marked_region
        from catalog.store import SheetRefused, SubmissionTooLarge

        if region is None:
            region = await self._run(marked_region, path, fmt)
        await self.scope(caller, region)
        try:
            held, check, _ = await self._run(
                lambda: self.store.submit_sheet(
                    path,
                    fmt,
                    by=caller.name,
                    note=note,
                    region=region,
                    max_bytes=max_bytes,  # type: ignore[arg-type]
                )
            )
        except SheetRefused as exc:
            raise _refused(
                exc.findings,
                "the sheet cannot be read as implementations ({n} finding(s)); nothing was held",
                code="INVALID_SHEET",
            ) from None
        except SubmissionTooLarge as exc:
            raise too_large(exc.limit) from None
        return submission_out(held, check)

    async def held(self, caller: Caller, sid: int) -> tuple[Submission, Check]:
        """A submission the caller may see (checked again if the catalog moved on since)."""
        found = await self._run(self.store.recheck, sid)
        if found is None:
            raise not_found("submission", str(sid))
        await self.scope(caller, found[0].region)
        return found

    async def file(self, sid: int) -> bytes:
        body = await self._run(self.store.submission_file, sid)
        if body is None:
            raise not_found("submission", str(sid))
        return body  # type: ignore[no-any-return]

    async def submissions(
        self, caller: Caller, *, state: str | None, region: str | None, limit: int, offset: int
    ) -> sl.SubmissionList:
        regions = await self.visible_regions(caller, region)
        total, rows = await self._run(
            lambda: self.store.submissions(state=state, regions=regions, limit=limit, offset=offset)
        )
        return sl.SubmissionList(
            total=total,
            limit=limit,
            offset=offset,
            submissions=[submission_out(s, None) for s in rows],
        )

    async def approve(self, caller: Caller, sid: int, *, override: bool = False) -> PublishResult:
        """Publish a held submission. Four eyes: its submitter (the same token name) may not
        approve it (OwnSubmission), unless an admin asks to `override` — audited."""
        from catalog import store as catalog_store

        held, _ = await self.held(caller, sid)
        admin_override = override and caller.role == "admin"
        try:
            return await self.publishing.published(
                lambda: self.store.approve(sid, by=caller.name, override=admin_override)
            )
        except catalog_store.NotPending as exc:
            raise _decided(sid, exc.state or held.state) from None
        except catalog_store.OwnSubmission:
            raise own_submission(sid, caller) from None

    async def reject(self, caller: Caller, sid: int, reason: str) -> sl.SubmissionOut:
        from catalog import store as catalog_store

        held, check = await self.held(caller, sid)
        try:
            done = await self._run(lambda: self.store.reject(sid, by=caller.name, reason=reason))
        except catalog_store.NotPending as exc:
            raise _decided(sid, exc.state or held.state) from None
        return submission_out(done, check)

    # -- the audit ----------------------------------------------------------------------------
    async def audit(self, *, action: str | None, limit: int, offset: int) -> sl.AuditPage:
        total, events = await self._run(lambda: self.store.audit(action=action, limit=limit, offset=offset))
        return sl.AuditPage(
            total=total,
            limit=limit,
            offset=offset,
            events=[sl.AuditOut(e.id, e.at, e.by, e.action, e.target, e.detail) for e in events],
        )


STATE_WORDS = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}


def _region_name(catalog: Any, code: str) -> str:
    region = catalog.regions.get(code)
    return f"{region.name}（{code}）" if region is not None else f"区划 {code} "


def within(caller: Caller, region: str, view: View) -> None:
    """OutOfScope unless `region` lies in the caller's scope: its region or under it, as the
    view's version has them (a chain below the county `Views.locate`d first)."""
    if caller.region is not None and not view.under(region, caller.region):
        raise OutOfScope(
            f"本令牌只能在区划 {caller.region} 范围内操作，{region} 不在其中。",
            detail=f"the token acts within region {caller.region}; {region} is outside it",
        )


def too_large(limit: int) -> TooLarge:
    return TooLarge(f"待审批的提交最多 {limit} 字节（{limit // (1 << 20)} MB）。")


def _decided(sid: int, state: str) -> NotPending:
    return NotPending(f"提交 #{sid} {STATE_WORDS.get(state, state)}，不能再审批。")


def own_submission(sid: int, caller: Caller) -> OwnSubmission:
    """Four eyes: the submitter cannot approve their own submission."""
    detail = (
        f"提交 #{sid} 是“{caller.name}”本人提交的，不能由提交人自己批准：请另一位审查人员批准（四眼原则）。"
    )
    if caller.role == "admin":
        detail += "管理员确需越过此规则时，可加 override=true 再次批准，此举将记入审计日志。"
    return OwnSubmission(
        detail,
        errors=[ErrorDetail(message="提交人不能批准本人的提交", kind="submission", key=str(sid))],
    )


def submission_out(held: Submission, check: Check | None) -> sl.SubmissionOut:
    """A submission with its check (`None`: the listing's short form, no findings)."""
    findings = [] if check is None else check.findings
    errors = sum(1 for f in findings if f.severity == "error")
    return sl.SubmissionOut(
        id=held.id,
        region=held.region,
        by=held.by,
        submitted_at=held.submitted_at,
        note=held.note,
        state=held.state,  # type: ignore[arg-type]
        size=held.size,
        based_on=held.based_on,
        refused=held.refused,
        added=0 if check is None else check.added,
        changed=0 if check is None else check.changed,
        removed=0 if check is None else check.removed,
        needs_review=0 if check is None else check.needs_review,
        errors=errors,
        warnings=len(findings) - errors,
        findings=[finding_out(f) for f in findings[:MAX_FINDINGS]],
        decided_by=held.decided_by,
        decided_at=held.decided_at,
        reason=held.reason,
        version=held.version,
    )


def diff_entries(diff: Diff, kind: str | None) -> tuple[dict[str, sl.DiffCounts], list[sl.DiffEntry]]:
    """A diff as counts per kind and one flat list: per kind, added, removed, then changed."""
    kinds = sorted(diff.added.keys() | diff.removed.keys() | diff.changed.keys())
    counts = {
        k: sl.DiffCounts(
            added=len(diff.added.get(k, ())),
            removed=len(diff.removed.get(k, ())),
            changed=len(diff.changed.get(k, {})),
        )
        for k in kinds
    }
    entries: list[sl.DiffEntry] = []
    for k in kinds:
        if kind is not None and k != kind:
            continue
        entries.extend(sl.DiffEntry(kind=k, key=key, change="added") for key in diff.added.get(k, ()))
        entries.extend(sl.DiffEntry(kind=k, key=key, change="removed") for key in diff.removed.get(k, ()))
        entries.extend(
            sl.DiffEntry(kind=k, key=key, change="changed", fields=fields)
            for key, fields in diff.changed.get(k, {}).items()
        )
    return counts, entries


def diff_page(diff: Diff, *, kind: str | None, limit: int, offset: int) -> sl.DiffPage:
    counts, entries = diff_entries(diff, kind)
    return sl.DiffPage(
        old=diff.old,
        new=diff.new,
        total=len(entries),
        limit=limit,
        offset=offset,
        counts=counts,
        entries=entries[offset : offset + limit],
    )
