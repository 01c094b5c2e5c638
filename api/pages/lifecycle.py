"""Reviewers' pages of the catalog's lifecycle (§6), all without JavaScript:

| page | URL |
|---|---|
| version history | `/pages/versions` |
| what changed between two versions, field by field | `/pages/versions/{a}/diff/{b}?kind=&page=` |
| the needs-review queue, the item's change beside each implementation | `/pages/review-queue?region=&rule=&item=&page=` |
| submissions, and the upload of a region's list (held as pending) | `/pages/submissions` |
| a region's list as a sheet to fill in (.xlsx or .csv) | `/pages/submissions/sheet?region=&format=` |
| one submission: its findings in the item comparison, its diff, approve / reject | `/pages/submissions/{id}` |

Each page asks what its JSON twin asks (a reviewer; a region-scoped token acts and sees only
within its region) through the same `LifecycleService`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, Parameter
from litestar.response import Redirect

from api.problems import ProblemException, status_of
from api.services.errors import ServiceError
from api.services.lifecycle import LifecycleService
from api.services.publishing import PublishingService
from api.view import Views
from catalog import scratch
from catalog.findings import FOUR_SAME_RULES, RULES
from catalog.model import Catalog, Implementation, record_decoder, requirements_of
from catalog.sheet import format_of
from catalog.store import Caller, Store
from catalog.words import FIELD_LABELS

from .browse import ROW_OF_RULE, reduced, requirement_views
from .changes import Namer, change_lines, changed_rows, submitted_records
from .data import User, region_options, require_role, signed_in
from .designer import _same_origin
from .render import html

PAGE_SIZE = 100
MAX_ITEMS = 20
"""Items compared side by side on a submission's page (those with findings first)."""
MAX_COLUMNS = 30
MAX_FINDINGS_NAMED = 1000
"""Findings whose record the submission's page names (as many as the API lists)."""
MAX_NAMED = 5000
"""Stored implementations a page reads to name records (beyond: by code)."""
CHANGE_NAMES = {"added": "新增", "removed": "删除", "changed": "修改"}
STATE_NAMES = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}


def _caller(user: User) -> Caller:
    return Caller(name=user.name, role=user.role, region=user.region)


def _lifecycle(request: Request) -> LifecycleService:
    return request.app.state.lifecycle  # type: ignore[no-any-return]


def _globals(**context: Any) -> dict[str, Any]:
    return {"field_names": FIELD_LABELS, "change_names": CHANGE_NAMES, "state_names": STATE_NAMES, **context}


class LifecyclePagesController(Controller):
    path = "/pages"
    guards = [signed_in("reviewer")]

    @get("/versions", name="pages:versions")
    async def versions(self, request: Request, views: NamedDependency[Views]) -> Response[str]:
        snap = await views.snapshot()
        listed = await _lifecycle(request).versions()
        return html(
            request,
            "versions.html",
            **_globals(
                page="versions", title="版本历史", snap=snap, versions=list(reversed(listed.versions))
            ),
        )

    @get("/versions/{a:int}/diff/{b:int}", name="pages:diff")
    async def diff(
        self,
        request: Request,
        views: NamedDependency[Views],
        store: NamedDependency[Store],
        a: FromPath[int],
        b: FromPath[int],
        kind: FromQuery[str] = "",
        page: int = Parameter(default=1, ge=1, le=1_000_000),
    ) -> Response[str]:
        snap = await views.snapshot()
        shown = await _lifecycle(request).diff(
            a, b, kind=kind or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        codes = {e.key for e in shown.entries if e.kind == "implementation"}
        namer = Namer(snap.require(), {}, await _stored(views, store, [b, a], codes))
        return html(
            request,
            "diff.html",
            **_globals(
                page="versions",
                title=f"版本 {a} → {b} 的变化",
                snap=snap,
                catalog=snap.catalog,
                diff=shown,
                namer=namer,
                record_names={e.key: namer.where(e.kind, e.key) for e in shown.entries if e.key},
                kind=kind,
                page_number=page,
                pages=max(1, -(-shown.total // PAGE_SIZE)),
                query=lambda **kw: urlencode({**({"kind": kind} if kind else {}), **kw}),
            ),
        )

    @get("/review-queue", name="pages:review-queue")
    async def review_queue(
        self,
        request: Request,
        views: NamedDependency[Views],
        store: NamedDependency[Store],
        region: FromQuery[str] = "",
        rule: FromQuery[str] = "",
        item: FromQuery[str] = "",
        page: int = Parameter(default=1, ge=1, le=1_000_000),
    ) -> Response[str]:
        user = require_role(request, "reviewer")
        snap = await views.snapshot()
        catalog = snap.require()
        region = region if region in catalog.regions else (user.region or "")
        rule = rule if rule in RULES else ""
        item = item if item in catalog.items else ""
        queue = await _lifecycle(request).review(
            _caller(user),
            region=region or None,
            rule=rule or None,
            item=item or None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        codes = [f.key for f in queue.needs_review if f.kind == "implementation"]
        impls = (
            {i.code: i for i in await views._run(lambda: store.implementations(snap.version, codes=codes))}
            if codes
            else {}
        )
        filters = {k: v for k, v in (("region", region), ("rule", rule), ("item", item)) if v}
        return html(
            request,
            "review_queue.html",
            **_globals(
                page="versions",
                title="待复核清单",
                snap=snap,
                catalog=catalog,
                queue=queue,
                impls=impls,
                region=region,
                rule=rule,
                item=item,
                regions=region_options(catalog, snap.children),
                rules=sorted(RULES),
                page_number=page,
                pages=max(1, -(-queue.total // PAGE_SIZE)),
                query=lambda **kw: urlencode({**filters, **kw}),
            ),
        )

    @get("/submissions", name="pages:submissions")
    async def submissions(self, request: Request, views: NamedDependency[Views]) -> Response[str]:
        return await self._submissions_page(request, views)

    @get("/submissions/sheet", name="pages:sheet")
    async def sheet(
        self,
        request: Request,
        views: NamedDependency[Views],
        publishing: NamedDependency[PublishingService],
        region: FromQuery[str] = "",
        format: FromQuery[str] = "xlsx",
    ) -> Response:
        """A region's implementation list as a sheet to fill in (the API's download, for a page)."""
        from api.routes.sheets import disposition, sheet_stream

        require_role(request, "reviewer")
        snap = await views.snapshot()
        catalog = snap.require()
        if region not in catalog.regions or format not in ("xlsx", "csv"):
            return await self._submissions_page(
                request, views, error="请选择要下载的区划和格式。", status_code=422
            )
        fh = await publishing.sheet_file(snap, region, format)
        return sheet_stream(fh, format, {"Content-Disposition": disposition(region, snap.version, format)})

    async def _submissions_page(
        self,
        request: Request,
        views: NamedDependency[Views],
        *,
        error: str = "",
        status_code: int = 200,
        findings: list[Any] | None = None,
        region: str = "",
    ) -> Response[str]:
        user = require_role(request, "reviewer")
        snap = await views.snapshot()
        catalog = snap.require()
        listed = await _lifecycle(request).submissions(
            _caller(user), state=None, region=None, limit=PAGE_SIZE, offset=0
        )
        options = region_options(catalog, snap.children)
        if user.region is not None:
            mine = snap.subtree(user.region)
            options = [(c, n) for c, n in options if c in mine]
        return html(
            request,
            "submissions.html",
            status_code=status_code,
            **_globals(
                page="submissions",
                title="提交与审批",
                snap=snap,
                catalog=catalog,
                listed=listed,
                regions=options,
                region=region or user.region or "",
                error=error,
                sheet_findings=findings or [],
                limit=request.app.state.settings.max_pending_body,
            ),
        )

    @post("/submissions", name="pages:submit", request_max_body_size=None, status_code=303)
    async def submit(self, request: Request, views: NamedDependency[Views]) -> Response[str]:
        user = require_role(request, "reviewer")
        limit = request.app.state.settings.max_pending_body
        length = request.headers.get("content-length", "")
        if not _same_origin(request):
            return await self._submissions_page(
                request, views, error="请求来源不是本站页面。", status_code=403
            )
        if not length.isdigit() or int(length) > limit + 65536:
            return await self._submissions_page(
                request, views, error=f"文件过大：最多 {limit // (1 << 20)} MB。", status_code=413
            )
        form = await request.form()
        upload = form.get("file")
        region = str(form.get("region", "")) or None
        note = str(form.get("note", ""))[:2000]
        if not isinstance(upload, UploadFile):
            return await self._submissions_page(
                request, views, error="请选择要上传的实施清单文件。", status_code=422
            )
        body = await upload.read()
        fmt = format_of(upload.filename or "") or ("xlsx" if body.startswith(b"PK\x03\x04") else None)
        fd, name = tempfile.mkstemp(prefix="page-", suffix=f".{fmt or 'jsonl'}", dir=scratch.folder())
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
            if fmt is not None:
                held = await _lifecycle(request).submit_sheet(
                    _caller(user), Path(name), fmt, region=region, note=note, max_bytes=limit
                )
            else:
                held = await _lifecycle(request).submit(
                    _caller(user), Path(name), region=region, note=note, max_bytes=limit
                )
        except (ProblemException, ServiceError) as exc:
            return await self._submissions_page(
                request,
                views,
                error=_problem_text(exc),
                status_code=_status(exc),
                findings=exc.errors if exc.code == "INVALID_SHEET" else None,
                region=region or "",
            )
        finally:
            os.unlink(name)
        return Redirect(f"/pages/submissions/{held.id}", status_code=303)  # type: ignore[return-value]

    @get("/submissions/{sid:int}", name="pages:submission")
    async def submission(
        self,
        request: Request,
        views: NamedDependency[Views],
        store: NamedDependency[Store],
        sid: FromPath[int],
        done: FromQuery[str] = "",
    ) -> Response[str]:
        return await self._submission_page(request, views, store, sid, done=done)

    async def _submission_page(
        self,
        request: Request,
        views: NamedDependency[Views],
        store: NamedDependency[Store],
        sid: int,
        *,
        done: str = "",
        error: str = "",
        status_code: int = 200,
    ) -> Response[str]:
        from api.services.lifecycle import submission_out

        user = require_role(request, "reviewer")
        lifecycle = _lifecycle(request)
        held, check = await lifecycle.held(_caller(user), sid)
        snap = await views.snapshot()
        catalog = snap.require()
        raw = await lifecycle.file(sid)
        touched = set() if check.diff is None else _touched(check.diff)
        wanted = {} if check.diff is None else _wanted(check.diff)
        submitted = submitted_records(raw, wanted) if wanted else {}
        named = {f.key for f in check.findings[:MAX_FINDINGS_NAMED] if f.kind == "implementation" and f.key}
        named |= wanted.get("implementation", set())
        named -= set(submitted.get("implementation", {}))
        namer = Namer(catalog, submitted, await _stored(views, store, [snap.version], named))
        changes, total_changes = ([], 0) if check.diff is None else change_lines(check.diff, namer)
        changed = {} if check.diff is None else check.diff.changed.get("implementation", {})
        added = set() if check.diff is None else set(check.diff.added.get("implementation", ()))
        compare = _comparison(catalog, raw, check.findings, touched)
        for group in compare:
            for col in group["columns"]:
                col["changed"] = changed_rows(changed.get(col["impl"].code) or {}, namer)
                col["added"] = col["impl"].code in added
        return html(
            request,
            "submission.html",
            status_code=status_code,
            **_globals(
                page="submissions",
                title=f"提交 #{sid}",
                snap=snap,
                catalog=catalog,
                sub=submission_out(held, check),
                compare=compare,
                changes=changes,
                total_changes=total_changes,
                record_names={
                    f.key: namer.where(f.kind, f.key)
                    for f in check.findings[:MAX_FINDINGS_NAMED]
                    if f.key and f.kind not in ("catalog", "unknown")
                },
                own=held.by == user.name,
                done=done,
                error=error,
            ),
        )

    @post("/submissions/{sid:int}/approve", name="pages:approve", status_code=303)
    async def approve(
        self,
        request: Request,
        views: NamedDependency[Views],
        store: NamedDependency[Store],
        sid: FromPath[int],
    ) -> Response[str]:
        user = require_role(request, "reviewer")
        if not _same_origin(request):
            return await self._submission_page(
                request, views, store, sid, error="请求来源不是本站页面。", status_code=403
            )
        form = await request.form()
        override = user.role == "admin" and form.get("override") == "1"
        try:
            await _lifecycle(request).approve(_caller(user), sid, override=override)
        except (ProblemException, ServiceError) as exc:
            return await self._submission_page(
                request, views, store, sid, error=_problem_text(exc), status_code=_status(exc)
            )
        return Redirect(f"/pages/submissions/{sid}?done=approved", status_code=303)  # type: ignore[return-value]

    @post("/submissions/{sid:int}/reject", name="pages:reject", status_code=303)
    async def reject(
        self,
        request: Request,
        views: NamedDependency[Views],
        store: NamedDependency[Store],
        sid: FromPath[int],
    ) -> Response[str]:
        user = require_role(request, "reviewer")
        if not _same_origin(request):
            return await self._submission_page(
                request, views, store, sid, error="请求来源不是本站页面。", status_code=403
            )
        form = await request.form()
        reason = str(form.get("reason", "")).strip()[:2000]
        if not reason:
            return await self._submission_page(
                request, views, store, sid, error="请填写驳回理由。", status_code=422
            )
        try:
            await _lifecycle(request).reject(_caller(user), sid, reason)
        except (ProblemException, ServiceError) as exc:
            return await self._submission_page(
                request, views, store, sid, error=_problem_text(exc), status_code=_status(exc)
            )
        return Redirect(f"/pages/submissions/{sid}?done=rejected", status_code=303)  # type: ignore[return-value]


def _status(exc: ProblemException | ServiceError) -> int:
    return exc.status_code if isinstance(exc, ProblemException) else status_of(exc) or 500


def _problem_text(exc: ProblemException | ServiceError) -> str:
    texts = {
        "OUT_OF_SCOPE": "超出本令牌的区划范围，未做任何更改。",
        "UNKNOWN_REGION": "目录中没有该区划。",
        "NOT_PENDING": "该提交已被审批或驳回。",
        "OWN_SUBMISSION": "这份提交是您本人提交的，不能由您自己批准：请另一位审查人员批准（四眼原则）。",
        "BODY_TOO_LARGE": "文件过大。",
        "INVALID_CATALOG": "发布被拒绝：本次提交涉及的记录存在错误（见下方校验发现），目录未做任何更改。",
        "INVALID_SHEET": "表格无法读取为实施清单（见下方所列单元格），未做任何更改，也没有保存为待审批的提交。",
    }
    return texts.get(exc.code, exc.detail)


async def _stored(
    views: NamedDependency[Views], store: NamedDependency[Store], versions: list[int], codes: set[str]
) -> dict[str, Implementation]:
    """The implementations of `codes` (at most MAX_NAMED of them) as stored in the first of
    `versions` that has each: what names them on a page."""
    wanted = sorted(codes)[:MAX_NAMED]

    def read() -> dict[str, Implementation]:
        found: dict[str, Implementation] = {}
        for version in versions:
            missing = [c for c in wanted if c not in found]
            for n in range(0, len(missing), 500):
                found.update((i.code, i) for i in store.implementations(version, codes=missing[n : n + 500]))
        return found

    return await views._run(read) if wanted else {}


def _wanted(diff: Any) -> dict[str, set[str]]:
    """The (kind, key) a diff names, by kind: the submitted records the change list reads."""
    out: dict[str, set[str]] = {}
    for part in (diff.added, diff.removed, diff.changed):
        for kind, keys in part.items():
            out.setdefault(kind, set()).update(keys)
    return out


def _touched(diff: Any) -> set[str]:
    return set(diff.added.get("implementation", ())) | set(diff.changed.get("implementation", {}))


def _comparison(catalog: Catalog, raw: bytes, findings: list[Any], touched: set[str]) -> list[dict[str, Any]]:
    """The item comparison of the item page for what the submission touches: per item, the
    basic catalog beside the submitted implementations, deviations marked by their findings."""
    by_code: dict[str, list[Any]] = {}
    for f in findings:
        if f.kind == "implementation" and f.key:
            by_code.setdefault(f.key, []).append(f)
    columns: dict[str, list[dict[str, Any]]] = {}
    for line in raw.splitlines():
        try:
            record = record_decoder.decode(line)
        except msgspec.DecodeError:
            continue  # a SCHEMA finding says so
        if not isinstance(record, Implementation) or record.item not in catalog.items:
            continue
        if record.code not in touched and record.code not in by_code:
            continue
        item = catalog.items[record.item]
        own = by_code.get(record.code, [])
        rows: dict[str, list[Any]] = {}
        for f in own:
            rows.setdefault(ROW_OF_RULE.get(f.rule, "other"), []).append(f)
        reqs = requirement_views(item, requirements_of(record, item))
        region = catalog.regions.get(record.region)
        columns.setdefault(record.item, []).append(
            {
                "impl": record,
                "region_name": region.name if region else record.region,
                "level": region.level if region else "",
                "reqs": reqs,
                "reduced": reduced(reqs),
                "findings": own,
                "rows": rows,
                "four_same": not any(f.rule in FOUR_SAME_RULES for f in own),
            }
        )
    out: list[dict[str, Any]] = []
    for code, cols in columns.items():
        cols.sort(key=lambda c: not c["findings"])
        out.append(
            {
                "item": catalog.items[code],
                "columns": cols[:MAX_COLUMNS],
                "bad": any(c["findings"] for c in cols),
            }
        )
    out.sort(key=lambda g: (not g["bad"], g["item"].code))
    return out[:MAX_ITEMS]
