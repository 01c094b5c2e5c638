"""The agencies' pages of cases (§7.2, §7.3): a signed-in agency's task queue with the events its
tasks' states allow, and the rectifications (整改) agencies answer and reviewers close or reopen.

| page | URL | who |
|---|---|---|
| task queue: state filter, cursor paging, each task's form fields and materials, its events | `/pages/agency/tasks?state=&after=` (admin: `&agency=USCC`), POST `/pages/agency/tasks/{id}/events` | agency (admin) |
| rectifications, overdue marked | `/pages/rectifications?state=&overdue=`, POST `/pages/rectifications/{id}/{answer,close,reopen}` | agency answers; reviewer of the region closes, reopens; admin |

Every event form carries an idempotency key made when the page is drawn, so a form sent twice
(a reload, a double click) acts once — the service answers the first answer again.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from api.services.cases import Who
from api.view import View
from casework import AnswerIn, CaseError, EventIn
from casework.machine import ALLOWED, STATE_WORDS
from casework.rating import RECTIFICATION_MOVES, RECTIFICATION_WORDS, SCORE_WORDS

from .cases import MARK_WORDS, STATE_PILLS
from .data import User, current_user, require_role, signed_in
from .handlers import Snap, caller_of, case_status, cases_of, done_or_redrawn, faults_by_place, known, named
from .render import html

PAGE_SIZE = 20
EVENT_WORDS = {
    "accept": "受理",
    "return": "退回补正",
    "resubmit": "补正材料已收到，继续办理",
    "approve": "办结",
    "reject": "不予受理",
}
DONE_WORDS = {
    "accept": "已受理",
    "return": "已退回补正",
    "resubmit": "已继续办理",
    "approve": "已办结",
    "reject": "已不予受理",
    "answer": "已答复",
    "close": "已办结整改",
    "reopen": "已退回重新整改",
}
RECTIFIERS = frozenset({"agency", "reviewer", "admin"})


class AgencyPagesController(Controller):
    path = "/pages/agency"
    guards = [signed_in("agency")]

    @get("/tasks", name="pages:agency-tasks")
    async def tasks(
        self,
        request: Request,
        snap: Snap,
        task_state: Annotated[str, QueryParameter(name="state")] = "",
        after: FromQuery[str] = "",
        agency: FromQuery[str] = "",
        done: FromQuery[str] = "",
    ) -> Response[str]:
        return await self._queue(request, snap, task_state, after, agency, done, None, None, 200)

    @post("/tasks/{task_id:str}/events", name="pages:agency-event", status_code=303)
    async def event(self, request: Request, snap: Snap, task_id: FromPath[str]) -> Response:
        user = current_user(request)
        data = await request.form()
        values = {k: str(v) for k, v in data.items()}
        outputs = {k[2:]: v.strip() for k, v in values.items() if k.startswith("o.")}
        missing = [str(m) for m in data.getall("missing")] if "missing" in data else []
        event = values.get("event", "")
        state, after, agency = values.get("state", ""), values.get("after", ""), values.get("agency", "")

        async def again(exc: CaseError, status: int | None = None) -> Response:
            return await self._queue(
                request, snap, state, after, agency, "", task_id, exc, status or case_status(exc)
            )

        if event not in ALLOWED:
            return await again(CaseError("请选择要办理的操作。"), 422)
        body = EventIn(
            event=event,  # type: ignore[arg-type]
            key=values.get("key", ""),
            note=values.get("note", "").strip(),
            outputs=outputs,
            missing=missing,
        )
        query = named(state=state, after=after, agency=agency)
        target = "/pages/agency/tasks?" + urlencode({**query, "done": event})
        return await done_or_redrawn(
            cases_of(request).event(task_id, body, _who(user)), target, again, CaseError
        )

    async def _queue(
        self,
        request: Request,
        snap: View,
        state: str,
        after: str,
        agency: str,
        done: str,
        failed_task: str | None,
        error: CaseError | None,
        status: int,
    ) -> Response[str]:
        user = current_user(request)
        assert user is not None
        catalog = snap.require()
        state = known(state, STATE_WORDS)
        uscc = user.agency if user.role == "agency" else agency.strip()
        queue, problem = None, None
        if uscc:
            try:
                queue = await cases_of(request).queue(
                    uscc, _who(user), state=state or None, limit=PAGE_SIZE, after=after or None
                )
            except CaseError as exc:
                problem, status = exc.message, case_status(exc)
        keep = named(state=state, agency=agency if user.role != "agency" else "")
        agency_name = next((t.agency_name for t in queue.tasks), "") if queue else ""
        return html(
            request,
            "agency_tasks.html",
            snap=snap,
            queue=queue,
            problem=problem,
            state=state,
            after=after,
            agency=agency if user.role != "agency" else "",
            ask_agency=user.role != "agency",
            agency_name=agency_name,
            done=DONE_WORDS.get(done, ""),
            failed_task=failed_task,
            error=error,
            errors=faults_by_place(error),
            state_words=STATE_WORDS,
            state_pills=STATE_PILLS,
            mark_words=MARK_WORDS,
            event_words=EVENT_WORDS,
            allowed={e: sources for e, (sources, _) in ALLOWED.items()},
            field_label=lambda f: catalog.fields[f].label if f in catalog.fields else "其他信息",
            material_name=lambda m: catalog.materials[m].name if m in catalog.materials else "其他材料",
            outputs_of=lambda item: catalog.items[item].outputs if item in catalog.items else [],
            new_key=lambda: secrets.token_urlsafe(12),
            next_href="/pages/agency/tasks?" + urlencode({**keep, "after": queue.next})
            if queue and queue.next
            else None,
            first_href="/pages/agency/tasks?" + urlencode(keep) if after else None,
            status_code=status,
        )


def _who(user: User | None) -> Who:
    return Who(caller=caller_of(user))


def rectifier(request: Request) -> User:
    return require_role(request, "reviewer", RECTIFIERS, sign_in_as="agency")


class RectificationPagesController(Controller):
    path = "/pages/rectifications"

    @get("/", name="pages:rectifications")
    async def listing(
        self,
        request: Request,
        snap: Snap,
        rect_state: Annotated[str, QueryParameter(name="state")] = "",
        overdue: FromQuery[str] = "",
        done: FromQuery[str] = "",
    ) -> Response[str]:
        return await self._list(request, snap, rect_state, overdue, done, None, None, 200)

    @post("/{rid:int}/{action:str}", name="pages:rectification-move", status_code=303)
    async def move(self, request: Request, snap: Snap, rid: FromPath[int], action: FromPath[str]) -> Response:
        user = rectifier(request)
        data = await request.form()
        values = {k: str(v) for k, v in data.items()}
        state, overdue = values.get("state", ""), values.get("overdue", "")

        async def again(exc: CaseError, status: int | None = None) -> Response:
            return await self._list(request, snap, state, overdue, "", rid, exc, status or case_status(exc))

        if action not in RECTIFICATION_MOVES:
            return await again(CaseError("没有这个操作。"), 404)
        body = None
        if action == "answer":
            body = AnswerIn(
                finding=values.get("finding", "").strip(), action=values.get("action", "").strip()
            )
        query = named(state=state, overdue=overdue)
        target = "/pages/rectifications?" + urlencode({**query, "done": action})
        return await done_or_redrawn(
            cases_of(request).rectify(rid, action, _who(user), body), target, again, CaseError
        )

    async def _list(
        self,
        request: Request,
        snap: View,
        state: str,
        overdue: str,
        done: str,
        failed: int | None,
        error: CaseError | None,
        status: int,
    ) -> Response[str]:
        user = rectifier(request)
        catalog = snap.require()
        state = known(state, RECTIFICATION_WORDS)
        late = {"yes": True, "no": False}.get(overdue)
        service = cases_of(request)
        found, labels, problem = [], {}, None
        try:
            found = (
                await service.rectifications(
                    _who(user), state=state or None, region=None, agency=None, overdue=late
                )
            ).rectifications
            labels = await service.rectification_labels(found)
        except CaseError as exc:
            problem, status = exc.message, case_status(exc)
        return html(
            request,
            "rectifications.html",
            snap=snap,
            found=found,
            labels=labels,
            problem=problem,
            state=state,
            overdue=overdue if late is not None else "",
            done=DONE_WORDS.get(done, ""),
            failed=failed,
            error=error,
            errors=faults_by_place(error),
            words=RECTIFICATION_WORDS,
            score_words=SCORE_WORDS,
            can_answer=user.role in ("agency", "admin"),
            can_decide=user.role in ("reviewer", "admin"),
            region_name=lambda code: catalog.regions[code].name if code in catalog.regions else "",
            status_code=status,
        )
