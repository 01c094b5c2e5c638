"""Submissions (§6): a region's implementation list published at once, or any submission held
for approval — reviewers see its findings and its diff against the newest version, then approve
(it is published if §6 still lets it through) or reject it with a reason.

Bodies are catalog files (JSON Lines) streamed to a temporary file, as `PUT /catalog` — or a
region's sheet (`Content-Type` of `.xlsx` or `text/csv`, as `GET /regions/{code}/implementations/sheet`
gives it), read into the region's partial submission with findings at worksheet, row and column.
A region-scoped token acts only within its region's subtree; a whole catalog needs an unscoped one.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter

from catalog.sheet.read import Format as SheetFormat

from ..auth import caller_of
from ..bodies import SHEET_TYPES
from ..schemas import PublishResult
from ..schemas_lifecycle import ID, DiffPage, Rejection, SubmissionList, SubmissionOut
from ..services.errors import not_found
from ..services.lifecycle import LifecycleService, diff_page, submission_out
from ..services.publishing import PublishingService
from .catalog import NDJSON, receive_file
from .resource import Resource

NOTE = Parameter(default="", max_length=2000, description="why (kept with the version or submission)")
SHEETS = (
    " Or a region's sheet: `Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`"
    " (.xlsx) or `text/csv`, as `GET /regions/{code}/implementations/sheet` gives it; its findings carry"
    " `sheet`, `row` and `column` (and `field`, the column's label), and one it cannot read as"
    " implementations (not one of ours, merged cells, a cell of the wrong type) is 422 `INVALID_SHEET`."
)


def sheet_format(request: Request) -> SheetFormat | None:
    """`xlsx` or `csv` when the body is a region's sheet (by its media type), else None."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return SHEET_TYPES.get(media)


class RegionSubmissionController(
    Resource,
    path="/regions/{code:str}/implementations",
    tag="submissions",
    role="reviewer",
    body="ndjson",
    sheets=True,
):
    @put(
        summary="Publish a region's implementation list (reviewer within that region)",
        description="Body: the header and the implementations of the region and those under it (JSON "
        "Lines), which replace that subtree's (§6). 422 with the touched records' error findings, "
        "nothing changed; errors it does not touch flag those records for review." + SHEETS,
        request_max_body_size=None,
    )
    async def publish(
        self,
        request: Request,
        publishing: NamedDependency[PublishingService],
        lifecycle: NamedDependency[LifecycleService],
        code: FromPath[str],
        note: str = NOTE,
    ) -> PublishResult:
        caller = caller_of(request)
        await lifecycle.scope(caller, code)
        fmt = sheet_format(request)
        limit = request.app.state.settings.max_catalog_body
        path = await receive_file(request, limit, suffix=f".{fmt or 'jsonl'}")
        try:
            if fmt is not None:
                return await publishing.publish_sheet(path, fmt, by=caller.name, note=note, region=code)
            return await publishing.publish_file(path, by=caller.name, note=note, region=code)
        finally:
            path.unlink(missing_ok=True)


class SubmissionController(Resource, path="/submissions", tag="submissions", role="reviewer"):
    @post(
        summary="Hold a submission for approval: a region's list (`region`) or a whole catalog",
        description="Checked at once as publishing would (nothing is published): the answer has its "
        "findings and counts; its diff is `GET /submissions/{id}/diff`. At most "
        "`ONETHING_MAX_PENDING_BODY` bytes (64 MiB by default; 413 beyond), kept compressed."
        + SHEETS
        + " A sheet is held as its JSON Lines submission, whose line n is the sheet's row n; an .xlsx "
        "says its region itself when `region` is left out.",
        opt={"role": "reviewer", "body": "ndjson", "sheets": True},
        request_max_body_size=None,
        status_code=201,
    )
    async def submit(
        self,
        request: Request,
        lifecycle: NamedDependency[LifecycleService],
        region: str | None = Parameter(default=None, min_length=1, max_length=16),
        note: str = NOTE,
    ) -> Response[SubmissionOut]:
        caller = caller_of(request)
        fmt = sheet_format(request)
        if fmt is None or region is not None:
            await lifecycle.scope(caller, region)
        limit = request.app.state.settings.max_pending_body
        path = await receive_file(request, limit, suffix=f".{fmt or 'jsonl'}")
        try:
            if fmt is not None:
                held = await lifecycle.submit_sheet(
                    caller, path, fmt, region=region, note=note, max_bytes=limit
                )
            else:
                held = await lifecycle.submit(caller, path, region=region, note=note, max_bytes=limit)
        finally:
            path.unlink(missing_ok=True)
        return Response(held, status_code=201, headers={"Location": f"/submissions/{held.id}"})

    @get(summary="Submissions, newest first (a region-scoped token sees its subtree's)")
    async def list_submissions(
        self,
        request: Request,
        lifecycle: NamedDependency[LifecycleService],
        status: Annotated[
            str | None, QueryParameter(name="state", pattern="^(pending|approved|rejected)$")
        ] = None,
        region: str | None = Parameter(default=None, min_length=1, max_length=16),
        limit: int = Parameter(default=100, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0, le=2_147_483_647),
    ) -> SubmissionList:
        return await lifecycle.submissions(
            caller_of(request), state=status, region=region, limit=limit, offset=offset
        )

    @get("/{sid:int}", summary="One submission with its findings (checked again if the catalog moved on)")
    async def read(
        self, request: Request, lifecycle: NamedDependency[LifecycleService], sid: int = ID
    ) -> SubmissionOut:
        return submission_out(*await lifecycle.held(caller_of(request), sid))

    @get(
        "/{sid:int}/diff",
        summary="What approving it would change against the newest version, paged",
        description="404 while publishing it would be refused (nothing would change).",
    )
    async def diff(
        self,
        request: Request,
        lifecycle: NamedDependency[LifecycleService],
        sid: int = ID,
        kind: str | None = Parameter(default=None, max_length=16),
        limit: int = Parameter(default=100, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0, le=2_147_483_647),
    ) -> DiffPage:
        _, check = await lifecycle.held(caller_of(request), sid)
        if check.diff is None:
            raise not_found("diff of submission", str(sid))
        return diff_page(check.diff, kind=kind, limit=limit, offset=offset)

    @get("/{sid:int}/file", summary="The submitted file as it was sent", media_type=NDJSON)
    async def file(
        self, request: Request, lifecycle: NamedDependency[LifecycleService], sid: int = ID
    ) -> Response[bytes]:
        await lifecycle.held(caller_of(request), sid)
        body = await lifecycle.file(sid)
        return Response(body, media_type=NDJSON)

    @post(
        "/{sid:int}/approve",
        summary="Approve: publish it if §6 lets it through now (422 with the findings otherwise)",
        description="The version is published and the submission marked approved in one transaction; "
        "409 when it was decided already. Four eyes: a submission is approved by someone other than "
        "its submitter (the token's name); its submitter is 403 `OWN_SUBMISSION` (a Chinese `detail`), "
        "unless an admin sends `override=true`, which is written to the audit as `approve.override`.",
        opt={
            "role": "reviewer",
            "conflict": "the submission was approved or rejected already",
            "forbidden": "the token's role may not do this, or `OWN_SUBMISSION`: the caller submitted it "
            "(four eyes; an admin may override with `override=true`, audited)",
        },
        status_code=201,
    )
    async def approve(
        self,
        request: Request,
        lifecycle: NamedDependency[LifecycleService],
        sid: int = ID,
        override: bool = Parameter(
            default=False,
            description="an admin approving their own submission: override four eyes (audited); "
            "ignored for other roles",
        ),
    ) -> PublishResult:
        return await lifecycle.approve(caller_of(request), sid, override=override)

    @post(
        "/{sid:int}/reject",
        summary="Reject it with a reason (409 when decided already)",
        opt={"role": "reviewer", "conflict": "the submission was approved or rejected already"},
        status_code=200,
    )
    async def reject(
        self,
        request: Request,
        lifecycle: NamedDependency[LifecycleService],
        data: JSONBody[Rejection],
        sid: int = ID,
    ) -> SubmissionOut:
        return await lifecycle.reject(caller_of(request), sid, data.reason)
