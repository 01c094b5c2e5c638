"""The pages of cases (§7) for people: the window clerk's 一窗受理 and its receipt here, the
applicant's status page with the rating form (`case_status`), and the public 好差评 figures
(`case_figures`); the words they share. Every rule is the case
service's (`api.services.cases`, the same the API calls); a page only turns a form into the
service's body and its answer (or its refusal, field by field) into HTML.

| page | URL | who |
|---|---|---|
| 一窗受理: pick bundle + region, answer, fill the merged form, materials, hand in → 受理回执 | `/pages/cases/new?bundle=&region=&answer=Q:A`, POST `/pages/cases` | clerk: a signed-in portal, reviewer or admin token (`CLERKS`) |
| the applicant's status (case number + access code, POSTed, kept in a 30-minute cookie) | `/pages/cases/status?case=`, POST `…/status`, `…/status/rating`, `…/status/resubmit`, `…/status/forget` | anyone with the code |
| 好差评 figures per region | `/pages/cases/figures?region=&bundle=&from=&to=` | public |

The access code never travels in a URL: the status form POSTs it, and the page keeps it in an
HttpOnly, SameSite=Strict cookie scoped to `/pages/cases` for 30 minutes.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery
from markupsafe import Markup

from api.lru import BoundedLRU
from api.problems import ProblemException
from api.routes.workflows import parse_answers
from api.services.cases import Who
from api.services.errors import ServiceError
from api.services.workflows import WorkflowService
from api.view import View
from bundler.document import Workflow
from casework import Applicant, CaseError, HandIn
from casework.handin import APPLICANT_FIELDS
from casework.machine import STATE_WORDS

from .data import User, below_option, region_options, require_role
from .handlers import Filters, Snap, Workflows, caller_of, case_status, cases_of, faults_by_place
from .qr import qr_svg
from .render import REASONS, html

CLERKS = frozenset({"portal", "reviewer", "admin"})
"""Token roles that may hand in at the window (一窗受理): window staff hold portal tokens;
reviewers and admins stand in. Designers draw bundles and agencies decide tasks: neither takes
cases in."""

STATE_PILLS = {"ready": "blue", "accepted": "blue", "returned": "warn", "done": "ok", "rejected": "bad"}
CASE_WORDS = {"open": "办理中", "done": "已办结", "closed": "已终结（部分事项未获办理）"}
MARK_WORDS = {"handed": "已收取", "deferred": "容缺后补", **REASONS}
CHANNEL_WORDS = {"window": "窗口受理", "assisted": "帮办代办"}
HANDED: BoundedLRU[str, str] = BoundedLRU(4096, 3600.0)
"""A hand-in form's one-time value → the case it made: sending the same form again (a reload,
a double click) shows that case instead of handing in twice."""


def clerk(request: Request) -> User:
    return require_role(request, "portal", CLERKS)


def read_aloud(case_id: str, region_name: str) -> str:
    """The case number as a clerk reads it out: region, day, serial."""
    parts = case_id.split("-")
    if len(parts) != 3 or len(parts[1]) != 8:
        return case_id
    day = parts[1]
    return f"{region_name} · {int(day[:4])}年{int(day[4:6])}月{int(day[6:])}日 · 第{int(parts[2])}号"


class CasePagesController(Controller):
    path = "/pages/cases"

    # -- 一窗受理 -----------------------------------------------------------------------------------
    @get("/new", name="pages:case-new")
    async def new(
        self,
        request: Request,
        snap: Snap,
        workflows: Workflows,
        filters: Filters,
        answer: FromQuery[list[str] | None] = None,
    ) -> Response[str]:
        clerk(request)
        given = {}
        with contextlib.suppress(ProblemException):  # a malformed answer in the link: ask again
            given = parse_answers([a for a in answer or () if a.strip()])
        return await self._form(
            request, snap, workflows, filters.bundle, filters.region, given, {}, None, 200
        )

    @post("/", name="pages:case-hand-in", status_code=200)
    async def hand_in(self, request: Request, snap: Snap, workflows: Workflows) -> Response[str]:
        user = clerk(request)
        data = await request.form()
        bundle = str(data.get("bundle", ""))
        region = str(data.get("region", ""))
        given: dict[str, str] = {}
        for a in data.getall("answer") if "answer" in data else []:
            q, _, ans = str(a).partition(":")
            if q and ans:
                given[q] = ans
        values = {k: str(v) for k, v in data.items() if isinstance(v, str)}
        once = values.get("once", "")
        if once and (made := HANDED.get(once)) is not BoundedLRU.MISSING:
            return html(
                request,
                "case_receipt.html",
                snap=None,
                again=made,
                case=None,
            )
        if values.get("op") == "update":
            return await self._form(request, snap, workflows, bundle, region, given, values, None, 200)
        catalog = snap.require()
        form: dict[str, str] = {}
        for key, value in values.items():
            if key.startswith("f.") and value.strip():
                form[key[2:]] = value.strip()
        materials = {
            key[2:]: value
            for key, value in values.items()
            if key.startswith("m.") and value in ("handed", "deferred")
        }
        body = HandIn(
            region=region,
            bundle=bundle or None,
            applicant=Applicant(
                name=values.get("applicant.name", "").strip(),
                id_number=values.get("applicant.id_number", "").strip(),
                phone=values.get("applicant.phone", "").strip(),
            ),
            answers=given,
            channel="assisted" if values.get("channel") == "assisted" else "window",
            form=form,  # type: ignore[arg-type]
            materials=materials,  # type: ignore[arg-type]
            consent=values.get("consent") == "yes",
        )
        try:
            case = await cases_of(request).hand_in(body, Who(caller=caller_of(user)))
        except CaseError as exc:
            return await self._form(
                request, snap, workflows, bundle, region, given, values, exc, case_status(exc)
            )
        if once:
            HANDED.put(once, case.id)
        found = snap.region(case.region)  # located by the hand-in
        region_name = found.name if found is not None else case.region
        status_url = f"{request.base_url}pages/cases/status?" + urlencode({"case": case.id})
        return html(
            request,
            "case_receipt.html",
            snap=snap,
            again=None,
            case=case,
            bundle_name=catalog.bundles[case.bundle].name if case.bundle in catalog.bundles else "",
            region_name=region_name,
            spoken=read_aloud(case.id, region_name),
            applicant_name=body.applicant.name,
            state_words=STATE_WORDS,
            channel_words=CHANNEL_WORDS,
            qr=Markup(qr_svg(status_url, "扫码查询办理进度")),
            status_url=status_url,
            stages=stages_of(case.tasks),
        )

    async def _form(
        self,
        request: Request,
        snap: View,
        workflows: WorkflowService,
        bundle: str,
        region: str,
        given: Mapping[str, str],
        values: Mapping[str, str],
        refusal: CaseError | None,
        status: int,
    ) -> Response[str]:
        catalog = snap.require()
        workflow, problem = None, None
        answers: Any = ()
        if region:
            await workflows.views.locate(snap, region)  # a township's or village's chain, by key
        here = bool(region) and snap.knows(region)
        if bundle in catalog.bundles and here:
            try:
                answers = workflows.answers(snap, given) if given else ()
            except ServiceError as exc:  # an answer the catalog does not know: ask again
                problem = exc.detail
            try:
                computed = await workflows.workflow(bundle, region, snap, answers)
                workflow = msgspec.json.decode(computed.body, type=Workflow)
            except (ProblemException, ServiceError) as exc:
                problem = exc.detail
        elif bundle or region:
            problem = "请选择目录中的一件事和办理地区。"
        questions = []
        if workflow is not None:
            for q, a in workflow.answers.items():
                if q in catalog.questions:
                    questions.append((q, catalog.questions[q].text, catalog.questions[q].answers, a))
            for open_q in workflow.questions:
                questions.append((open_q.id, open_q.text, open_q.answers, ""))
        errors = faults_by_place(refusal)
        shown_places = {f"q:{q[0]}" for q in questions}
        if workflow is not None:
            shown_places |= {f"f:{f.id}" for f in workflow.form}
            shown_places |= {f"f:{f}" for f in APPLICANT_FIELDS}
            shown_places |= {f"m:{m.id}" for m in workflow.materials}
            shown_places |= {f"m:{w.material}" for w in workflow.waived if w.reason == "e_license"}
        e_license = [w for w in workflow.waived if w.reason == "e_license"] if workflow else []
        elsewhere = [reason for place, reason in errors.items() if place not in shown_places]
        return html(
            request,
            "case_new.html",
            snap=snap,
            bundles=sorted(catalog.bundles.values(), key=lambda b: b.name),
            regions=_options(snap, region if here else ""),
            bundle=bundle,
            region=region,
            workflow=workflow,
            problem=problem,
            questions=questions,
            form_fields=[f for f in workflow.form if f.id not in APPLICANT_FIELDS] if workflow else [],
            e_license=e_license,
            consent_error=any(f"m:{w.material}" in errors for w in e_license),
            other_waived=list(
                {(w.material, w.reason): w for w in workflow.waived if w.reason != "e_license"}.values()
            )
            if workflow
            else [],
            values=values,
            errors=errors,
            elsewhere=elsewhere,
            refusal=refusal,
            once=secrets.token_urlsafe(12),
            status_code=status,
        )


def stages_of(tasks: list[Any]) -> list[tuple[int, list[Any]]]:
    by: dict[int, list[Any]] = {}
    for t in tasks:
        by.setdefault(t.stage, []).append(t)
    return sorted(by.items())


def _options(snap: View, region: str) -> list[tuple[str, str]]:
    """The regions a <select> offers: those the view holds, and `region` when a lean view
    leaves it out."""
    options = region_options(snap.require(), snap.children)
    option = below_option(snap, region)
    if option is not None:
        options.append(option)
    return options
