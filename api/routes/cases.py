"""Cases (§7): hand-in, a case's state, the agencies' queues and events, ratings,
rectifications and the public figures. Thin: each handler says who asks and calls the service."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, PathParameter, QueryParameter

from casework import AnswerIn, Case, EventIn, Figures, HandIn, RatingIn, Rectification, Task
from casework.model import Queue, RatingOut, RectificationList

from ..auth import optional_caller
from ..services.cases import CaseService, Who
from .resource import Resource

Access = Annotated[
    str | None,
    HeaderParameter(
        name="X-Case-Access",
        required=False,
        max_length=200,
        description="the case's access code, given once at hand-in (the applicant)",
    ),
]
RectificationId = Annotated[int, PathParameter(ge=1, le=2**53)]
TRANSITION = "TRANSITION: the event is not allowed in the task's state (§7.2)"


async def _who(request: Request, access: str | None) -> Who:
    return Who(caller=await optional_caller(request), access=access)


class CaseController(Resource, path="/", tag="cases"):
    @post(
        "/cases",
        summary="Hand in a case (一表申请, §7.1)",
        description="By anyone (a portal, a window clerk, a kiosk). The workflow of the newest version "
        "for the region and answers is computed and the hand-in checked against it: 422 with `code` "
        "UNANSWERED, FORM, MATERIALS, CONSENT, NOT_OFFERED or a §4 code, and `errors` naming each "
        "question, field or material with its reason. 201: the case, its tasks, its due date and the "
        "one-time `access` code.",
        status_code=201,
    )
    async def hand_in(
        self, request: Request, cases: NamedDependency[CaseService], data: JSONBody[HandIn]
    ) -> Response[Case]:
        case = await cases.hand_in(data, await _who(request, None))
        return Response(case, status_code=201, headers={"Location": f"/cases/{case.id}"})

    @get(
        "/cases/{case_id:str}",
        summary="A case as it stands (the applicant, its agencies, admins; others without personal data)",
        description="`X-Case-Access` (the applicant) or a bearer token. `applicant` and `form` only for "
        "the applicant, admins, and the case's agencies (their items' fields); every such read is "
        "audited. An agency sees its own tasks only.",
        opt={"credentials": True},
    )
    async def read(
        self,
        request: Request,
        cases: NamedDependency[CaseService],
        case_id: FromPath[str],
        access: Access = None,
    ) -> Case:
        return await cases.read(case_id, await _who(request, access))

    @get(
        "/agencies/{uscc:str}/tasks",
        summary="An agency's tasks, oldest first (token role agency of that USCC, or admin)",
        opt={"role": "agency"},
    )
    async def queue(
        self,
        request: Request,
        cases: NamedDependency[CaseService],
        uscc: FromPath[str],
        task_state: Annotated[
            Literal["waiting", "ready", "accepted", "returned", "done", "rejected", "cancelled"] | None,
            QueryParameter(name="state"),
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        after: Annotated[
            str | None, QueryParameter(max_length=32, description="the `next` of the page before")
        ] = None,
    ) -> Queue:
        return await cases.queue(uscc, await _who(request, None), state=task_state, limit=limit, after=after)

    @post(
        "/tasks/{task_id:str}/events",
        summary="An event on a task: accept, return, resubmit, approve, reject (§7.2)",
        description="The agency's token (its own tasks), or for `resubmit` the applicant's "
        "`X-Case-Access`. The same `key` again answers the first answer and changes nothing. 409 "
        "TRANSITION when the task's state does not allow the event; 422 for a reject without note.",
        status_code=200,
        opt={"conflict": TRANSITION, "credentials": True},
    )
    async def event(
        self,
        request: Request,
        cases: NamedDependency[CaseService],
        task_id: FromPath[str],
        data: JSONBody[EventIn],
        access: Access = None,
    ) -> Task:
        return await cases.event(task_id, data, await _who(request, access))

    @post(
        "/cases/{case_id:str}/rating",
        summary="Rate a case once it is not open (好差评, §7.3; the applicant's X-Case-Access)",
        description="Scores 5 非常满意 … 1 非常不满意, for the case and per task. Every score of 1 or 2 "
        "opens a rectification. 409 NOT_FINAL while the case is open, RATED the second time.",
        status_code=201,
        opt={
            "conflict": "NOT_FINAL: the case is still open; RATED: it was rated before",
            "credentials": True,
        },
    )
    async def rate(
        self,
        request: Request,
        cases: NamedDependency[CaseService],
        case_id: FromPath[str],
        data: JSONBody[RatingIn],
        access: Access = None,
    ) -> RatingOut:
        return await cases.rate(case_id, data, await _who(request, access))


STEPS = {
    "answer": "The agency answers a rectification (open → answered)",
    "close": "A reviewer of its region closes a rectification (answered → closed)",
    "reopen": "A reviewer of its region sends a rectification back (answered or closed → open)",
}
"""A rectification's steps (§7): each a POST to /rectifications/{rid}/<step>, by its summary."""


def _step(action: str) -> HTTPRouteHandler:
    """The handler of one step of `STEPS`, named after it (its OpenAPI operation): `answer`
    takes the agency's answer as its body, the others no body."""
    route = post(
        f"/{{rid:int}}/{action}",
        summary=STEPS[action],
        status_code=200,
        opt={"conflict": TRANSITION, "credentials": True},
    )
    if action == "answer":

        async def with_body(
            self: Any,
            request: Request,
            cases: NamedDependency[CaseService],
            rid: RectificationId,
            data: JSONBody[AnswerIn],
        ) -> Rectification:
            return await cases.rectify(rid, action, await _who(request, None), data)

        handler: Any = with_body
    else:

        async def without(
            self: Any, request: Request, cases: NamedDependency[CaseService], rid: RectificationId
        ) -> Rectification:
            return await cases.rectify(rid, action, await _who(request, None))

        handler = without
    handler.__name__ = handler.__qualname__ = action
    return route(handler)


class RectificationController(Resource, path="/rectifications", tag="cases", credentials=True):
    @get(
        summary="Rectifications (整改): an agency its own, a reviewer its region's, an admin all",
    )
    async def listing(
        self,
        request: Request,
        cases: NamedDependency[CaseService],
        rect_state: Annotated[
            Literal["open", "answered", "closed"] | None, QueryParameter(name="state")
        ] = None,
        region: Annotated[str | None, QueryParameter(min_length=1, max_length=16)] = None,
        agency: Annotated[str | None, QueryParameter(min_length=18, max_length=18)] = None,
        overdue: FromQuery[bool | None] = None,
    ) -> RectificationList:
        return await cases.rectifications(
            await _who(request, None), state=rect_state, region=region, agency=agency, overdue=overdue
        )

    answer = _step("answer")
    close = _step("close")
    reopen = _step("reopen")


class CaseFiguresController(Resource, path="/stats/cases", tag="cases"):
    @get(
        summary="Figures of cases for a region and everything under it (public, §7.4)",
        description="From counters kept as cases move. With `item` or `agency`, the cases counted are "
        "that item's or agency's tasks. `from`/`to`: hand-in days.",
    )
    async def figures(
        self,
        cases: NamedDependency[CaseService],
        region: Annotated[str | None, QueryParameter(min_length=1, max_length=16)] = None,
        bundle: Annotated[str | None, QueryParameter(min_length=1, max_length=200)] = None,
        item: Annotated[str | None, QueryParameter(min_length=1, max_length=32)] = None,
        agency: Annotated[str | None, QueryParameter(min_length=18, max_length=18)] = None,
        start: Annotated[date | None, QueryParameter(name="from")] = None,
        end: Annotated[date | None, QueryParameter(name="to")] = None,
    ) -> Figures:
        return await cases.figures(
            region=region, bundle=bundle, item=item, agency=agency, start=start, end=end
        )
