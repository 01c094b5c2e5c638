"""Workflows (§4): a bundle's for a region, its printable guide, and an ad-hoc list's.

GET responses carry an ETag derived from the catalog's content, the bundle's
version, the region and the applicant's answers; `If-None-Match` with it answers
304 without computing anything. `X-Cache: hit|miss` says whether the shared cache
had it.

The applicant's situation (§4 step 0) comes as repeated `answer=QUESTION:ANSWER`
query parameters — what an HTML form with one `<select name="answer">` per
question sends — or, for `POST /workflows`, as `answers: {question: answer}`.
A workflow's open `questions` are the ones still to ask: a portal asks them one
at a time, adding each answer, until none is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter
from litestar.response.base import ASGIResponse

from bundler import Workflow

from ..cache import RawResponse, etag_matches
from ..problems import ErrorDetail, ProblemException
from ..schemas import WorkflowRequest
from ..services.workflows import Computed, WorkflowService
from ..view import Answers, Views
from .resource import Resource

Region = Annotated[str, Parameter(min_length=1, max_length=16, description="the applicant's region code")]
AnswerParams = Annotated[
    list[str] | None,
    QueryParameter(
        name="answer",
        max_items=100,
        description="the applicant's situation (§4 step 0), one `QUESTION:ANSWER` per parameter, "
        "repeated: `?region=640104&answer=premises:lease&answer=wants-social-card:yes`. "
        "Questions not answered stay open (listed in the workflow's `questions`); an unknown "
        "question or answer is 422 UNKNOWN_ANSWER.",
    ),
]
CACHE_CONTROL = "private, no-cache"


def _respond(computed: Computed, status: int = 200) -> ASGIResponse:
    # An ASGIResponse goes out as it is: the hot path of a cached fetch skips Response rendering.
    return RawResponse.of(  # type: ignore[return-value]
        computed.body,
        status,
        computed.media_type,
        {
            "ETag": computed.etag,
            "Cache-Control": CACHE_CONTROL,
            "X-Cache": "hit" if computed.hit else "miss",
        },
    )


def _not_modified(etag: str) -> ASGIResponse:
    return RawResponse.of(b"", 304, None, {"ETag": etag, "Cache-Control": CACHE_CONTROL})  # type: ignore[return-value]


def parse_answers(params: Sequence[str] | None) -> dict[str, str]:
    """`answer=QUESTION:ANSWER` parameters as a mapping; 400 for a malformed or repeated one."""
    out: dict[str, str] = {}
    for param in params or ():
        question, sep, answer = param.partition(":")
        question, answer = question.strip(), answer.strip()
        if not sep or not question or not answer:
            raise _bad_answer(param, f"“{param}”应写作 问题:答案，例如 premises:lease")
        if out.get(question, answer) != answer:
            raise _bad_answer(param, f"情形问题“{question}”给出了两个不同的答案")
        out[question] = answer
    return out


def _bad_answer(param: str, detail: str) -> ProblemException:
    # 422, not 400: the parameter is a string as the schema says; what it says does not parse.
    return ProblemException(
        422,
        "INVALID_ANSWER",
        detail,
        errors=[ErrorDetail(message=detail, field="answer", source="query", key=param[:200])],
    )


def _document(what: str, **route: Any) -> HTTPRouteHandler:
    """GET /bundles/{bundle_id}/<what> (`workflow` or `guide`): 304 when the client's copy is
    current (decided without composing), else the body. The handler is named after `what`."""

    async def handler(
        self: Any,
        request: Request,
        views: NamedDependency[Views],
        workflows: NamedDependency[WorkflowService],
        bundle_id: FromPath[str],
        region: Region,
        answer: AnswerParams = None,
    ) -> ASGIResponse:
        snap = await views.snapshot()
        await views.locate(snap, region)
        answers: Answers = workflows.answers(snap, parse_answers(answer)) if answer else ()
        etag = workflows.workflow_etag(snap, bundle_id, region, what, answers)
        if etag is not None and etag_matches(request.headers.get("if-none-match"), etag):
            return _not_modified(etag)
        if what == "guide":
            return _respond(await workflows.guide(bundle_id, region, snap, answers))
        return _respond(await workflows.workflow(bundle_id, region, snap, answers, etag=etag))

    handler.__name__ = handler.__qualname__ = what
    return get(f"/{what}", **route)(handler)


def _documented(what: type, description: str) -> dict[int, ResponseSpec]:
    return {200: ResponseSpec(data_container=what, description=description)}


class BundleWorkflowController(
    Resource, path="/bundles/{bundle_id:str}", tag="workflows", role="portal", public=True
):
    workflow = _document(
        "workflow",
        summary="The bundle's workflow for a region and situation (§4 document)",
        responses=_documented(Workflow, "the workflow document; ETag, X-Cache: hit|miss"),
    )
    guide = _document(
        "guide",
        summary="The bundle's printable guide for a region and situation (HTML)",
        media_type="text/html",
        responses={200: ResponseSpec(data_container=str, media_type="text/html", description="the guide")},
    )


class WorkflowController(Resource, path="/workflows", tag="workflows", role="portal"):
    @post(
        summary="The workflow for an ad-hoc list of items",
        status_code=200,
        responses=_documented(Workflow, "the workflow document"),
    )
    async def adhoc(
        self, workflows: NamedDependency[WorkflowService], data: JSONBody[WorkflowRequest]
    ) -> ASGIResponse:
        return _respond(await workflows.adhoc_workflow(list(data.items), data.region, dict(data.answers)))
