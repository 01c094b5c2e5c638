"""The applicant's status page (§7): a case number and access code, POSTed and kept in a
30-minute cookie, open the case's tasks by stage, the 补正 form and the rating (好差评) form.

The access code never travels in a URL: the status form POSTs it, and the page keeps it in an
HttpOnly, SameSite=Strict cookie scoped to `/pages/cases` for 30 minutes.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, FormMultiDict
from litestar.params import FromQuery
from litestar.response import Redirect

from api.services.cases import Who
from api.view import View
from casework import CaseError, EventIn, RatingIn
from casework.machine import STATE_WORDS
from casework.rating import SCORE_WORDS

from .cases import CASE_WORDS, STATE_PILLS, stages_of
from .handlers import Snap, case_status, cases_of, done_or_redrawn, faults_by_place, page_cookie
from .render import html, said

CASE_COOKIE = "onething_case"
COOKIE_PATH = "/pages/cases"
COOKIE_AGE = 1800


class CaseStatusPagesController(Controller):
    path = "/pages/cases/status"

    @get("/", name="pages:case-status")
    async def status(self, request: Request, snap: Snap, case: FromQuery[str] = "") -> Response[str]:
        held = _held(request)
        if held is not None and (not case or case == held[0]):
            return await self._status(request, snap, held, None, 200)
        return await self._ask(request, snap, case, None, 200)

    @post("/", name="pages:case-lookup", status_code=303)
    async def lookup(self, request: Request, snap: Snap) -> Response:
        data = await request.form()
        case_id = str(data.get("case", "")).strip()
        access = str(data.get("access", "")).strip()
        if not case_id or not access:
            return await self._ask(request, snap, case_id, "请填写办件编号和查询码。", 422)
        try:
            await cases_of(request).read(case_id, Who(access=access))
        except CaseError as exc:
            status = case_status(exc)
            why = "办件编号或查询码不正确，请核对受理回执。" if status in (403, 404) else said(exc.message)
            return await self._ask(request, snap, case_id, why, status)
        cookie = page_cookie(
            request,
            CASE_COOKIE,
            f"{case_id}.{access}",
            path=COOKIE_PATH,
            samesite="strict",
            max_age=COOKIE_AGE,
        )
        return Redirect("/pages/cases/status", status_code=303, cookies=[cookie])

    @post("/forget", name="pages:case-forget", status_code=303)
    async def forget(self) -> Response:
        gone = Cookie(
            key=CASE_COOKIE, value="", max_age=0, path=COOKIE_PATH, httponly=True, samesite="strict"
        )
        return Redirect("/pages/cases/status", status_code=303, cookies=[gone])

    @post("/rating", name="pages:case-rate", status_code=303)
    async def rate(self, request: Request, snap: Snap) -> Response:
        def rating(held: tuple[str, str], data: FormMultiDict) -> Awaitable[object]:
            try:
                score = int(str(data.get("score", "")))
            except ValueError:
                score = 0
            tasks = {k[2:]: int(str(v)) for k, v in data.items() if k.startswith("t.") and str(v).isdigit()}
            body = RatingIn(score=score, comment=str(data.get("comment", "")).strip(), tasks=tasks)
            return cases_of(request).rate(held[0], body, Who(access=held[1]))

        return await self._act(request, snap, rating, "/pages/cases/status#rating")

    @post("/resubmit", name="pages:case-resubmit", status_code=303)
    async def resubmit(self, request: Request, snap: Snap) -> Response:
        def resubmitted(held: tuple[str, str], data: FormMultiDict) -> Awaitable[object]:
            event = EventIn(event="resubmit", key=str(data.get("key", "")))
            return cases_of(request).event(str(data.get("task", "")), event, Who(access=held[1]))

        return await self._act(request, snap, resubmitted, "/pages/cases/status")

    async def _act(
        self,
        request: Request,
        snap: View,
        work: Callable[[tuple[str, str], FormMultiDict], Awaitable[object]],
        target: str,
    ) -> Response:
        """A form of the status page: the held case's, else the lookup form again."""
        held = _held(request)
        if held is None:
            return await self._ask(request, snap, "", "请先输入办件编号和查询码。", 401)

        async def again(exc: CaseError) -> Response:
            return await self._status(request, snap, held, exc, case_status(exc))

        return await done_or_redrawn(work(held, await request.form()), target, again, CaseError)

    async def _ask(
        self, request: Request, snap: View, case_id: str, error: str | None, status: int
    ) -> Response[str]:
        return _page(request, snap, status, case=None, case_id=case_id, error=error)

    async def _status(
        self, request: Request, snap: View, held: tuple[str, str], error: CaseError | None, status: int
    ) -> Response[str]:
        service = cases_of(request)
        who = Who(access=held[1])
        try:
            case = await service.read(held[0], who)
            rating = await service.rating(held[0], who)
        except CaseError as exc:
            gone = Cookie(key=CASE_COOKIE, value="", max_age=0, path=COOKIE_PATH)
            response = await self._ask(request, snap, held[0], said(exc.message), case_status(exc))
            response.cookies.append(gone)
            return response
        catalog = snap.require()
        return _page(
            request,
            snap,
            status,
            case=case,
            case_id=case.id,
            bundle_name=catalog.bundles[case.bundle].name if case.bundle in catalog.bundles else "",
            region_name=catalog.regions[case.region].name if case.region in catalog.regions else "",
            stages=stages_of(case.tasks),
            done_count=sum(1 for t in case.tasks if t.state == "done"),
            state_words=STATE_WORDS,
            state_pills=STATE_PILLS,
            case_words=CASE_WORDS,
            score_words=SCORE_WORDS,
            task_names={t.id: t.name for t in case.tasks},
            rating=rating,
            error=error,
            errors=faults_by_place(error),
            new_key=lambda: secrets.token_urlsafe(12),
        )


def _page(request: Request, snap: View, status: int, **context: Any) -> Response[str]:
    return html(
        request,
        "case_status.html",
        snap=snap,
        status_code=status,
        **context,
    )


def _held(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(CASE_COOKIE, "")
    case_id, _, access = raw.partition(".")
    if not case_id or not access or len(raw) > 300:
        return None
    return case_id, access
