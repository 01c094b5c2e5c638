"""Reviewers' pages of submissions (§6): the list and the upload of a region's list (held as
pending), the region's list as a sheet to fill in, one submission — its findings in the item
comparison, its diff — and its approval or rejection.

| page | URL |
|---|---|
| submissions, and the upload of a region's list (held as pending) | `/pages/submissions` |
| a region's list as a sheet to fill in (.xlsx or .csv) | `/pages/submissions/sheet?region=&format=` |
| one submission: its findings in the item comparison, its diff, approve / reject | `/pages/submissions/{id}` |
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from api.problems import ProblemException, status_of
from api.routes.sheets import disposition, sheet_stream
from api.services.errors import ServiceError
from api.services.lifecycle import submission_out
from api.view import View, Views
from catalog import scratch
from catalog.findings import FOUR_SAME_RULES
from catalog.model import Catalog, Implementation, record_decoder, requirements_of
from catalog.sheet import format_of
from catalog.store import Store

from .browse import ROW_OF_RULE, reduced, requirement_views
from .changes import Namer, change_lines, changed_rows, submitted_records
from .data import region_options, require_role, signed_in
from .handlers import Publishing, Snap, StoreDep, ViewsDep, done_or_redrawn, same_origin
from .lifecycle import PAGE_SIZE, _caller, _globals, _lifecycle, _stored
from .render import html

MAX_ITEMS = 20
"""Items compared side by side on a submission's page (those with findings first)."""
MAX_COLUMNS = 30
MAX_FINDINGS_NAMED = 1000
"""Findings whose record the submission's page names (as many as the API lists)."""
NOT_OURS = "请求来源不是本站页面。"


class SubmissionPagesController(Controller):
    path = "/pages/submissions"
    guards = [signed_in("reviewer")]

    @get("/", name="pages:submissions")
    async def submissions(self, request: Request, snap: Snap) -> Response[str]:
        return await self._submissions_page(request, snap)

    @get("/sheet", name="pages:sheet")
    async def sheet(
        self,
        request: Request,
        snap: Snap,
        publishing: Publishing,
        region: FromQuery[str] = "",
        format: FromQuery[str] = "xlsx",
    ) -> Response:
        """A region's implementation list as a sheet to fill in (the API's download, for a page)."""
        require_role(request, "reviewer")
        catalog = snap.require()
        if region not in catalog.regions or format not in ("xlsx", "csv"):
            return await self._submissions_page(
                request, snap, error="请选择要下载的区划和格式。", status_code=422
            )
        fh = await publishing.sheet_file(snap, region, format)
        return sheet_stream(fh, format, {"Content-Disposition": disposition(region, snap.version, format)})

    async def _submissions_page(
        self,
        request: Request,
        snap: View,
        *,
        error: str = "",
        status_code: int = 200,
        findings: list[Any] | None = None,
        region: str = "",
    ) -> Response[str]:
        user = require_role(request, "reviewer")
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
                snap=snap,
                listed=listed,
                regions=options,
                region=region or user.region or "",
                error=error,
                sheet_findings=findings or [],
                limit=request.app.state.settings.max_pending_body,
            ),
        )

    @post("/", name="pages:submit", request_max_body_size=None, status_code=303)
    async def submit(self, request: Request, snap: Snap) -> Response[str]:
        user = require_role(request, "reviewer")
        limit = request.app.state.settings.max_pending_body
        length = request.headers.get("content-length", "")
        if not same_origin(request):
            return await self._submissions_page(request, snap, error=NOT_OURS, status_code=403)
        if not length.isdigit() or int(length) > limit + 65536:
            return await self._submissions_page(
                request, snap, error=f"文件过大：最多 {limit // (1 << 20)} MB。", status_code=413
            )
        form = await request.form()
        upload = form.get("file")
        region = str(form.get("region", "")) or None
        note = str(form.get("note", ""))[:2000]
        if not isinstance(upload, UploadFile):
            return await self._submissions_page(
                request, snap, error="请选择要上传的实施清单文件。", status_code=422
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
                snap,
                error=_problem_text(exc),
                status_code=_status(exc),
                findings=exc.errors if exc.code == "INVALID_SHEET" else None,
                region=region or "",
            )
        finally:
            os.unlink(name)
        return Redirect(f"/pages/submissions/{held.id}", status_code=303)  # type: ignore[return-value]

    @get("/{sid:int}", name="pages:submission")
    async def submission(
        self,
        request: Request,
        snap: Snap,
        views: ViewsDep,
        store: StoreDep,
        sid: FromPath[int],
        done: FromQuery[str] = "",
    ) -> Response[str]:
        return await self._submission_page(request, snap, views, store, sid, done=done)

    async def _submission_page(
        self,
        request: Request,
        snap: View,
        views: Views,
        store: Store,
        sid: int,
        *,
        done: str = "",
        error: str = "",
        status_code: int = 200,
    ) -> Response[str]:
        user = require_role(request, "reviewer")
        lifecycle = _lifecycle(request)
        held, check = await lifecycle.held(_caller(user), sid)
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
                title=f"提交 #{sid}",
                snap=snap,
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

    @post(["/{sid:int}/approve", "/{sid:int}/reject"], name="pages:decide", status_code=303)
    async def decide(
        self, request: Request, snap: Snap, views: ViewsDep, store: StoreDep, sid: FromPath[int]
    ) -> Response[str]:
        decision = "approved" if request.url.path.endswith("/approve") else "rejected"
        return await self._decide(request, snap, views, store, sid, decision)

    async def _decide(
        self, request: Request, snap: View, views: Views, store: Store, sid: int, decision: str
    ) -> Response[str]:
        """Approve or reject a held submission; refused, its page again with why."""
        user = require_role(request, "reviewer")

        async def again(error: str, status_code: int) -> Response[str]:
            return await self._submission_page(
                request, snap, views, store, sid, error=error, status_code=status_code
            )

        if not same_origin(request):
            return await again(NOT_OURS, 403)
        form = await request.form()
        lifecycle = _lifecycle(request)
        work: Awaitable[object]
        if decision == "approved":
            override = user.role == "admin" and form.get("override") == "1"
            work = lifecycle.approve(_caller(user), sid, override=override)
        else:
            reason = str(form.get("reason", "")).strip()[:2000]
            if not reason:
                return await again("请填写驳回理由。", 422)
            work = lifecycle.reject(_caller(user), sid, reason)
        return await done_or_redrawn(  # type: ignore[return-value]
            work,
            f"/pages/submissions/{sid}?done={decision}",
            lambda exc: again(_problem_text(exc), _status(exc)),
            (ProblemException, ServiceError),
        )


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
