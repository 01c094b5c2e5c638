"""The pages of cases (§7) for people: the window clerk's 一窗受理 and its receipt, the applicant's
status page with the rating form, and the public 好差评 figures. Every rule is the case
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
from datetime import date
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect
from markupsafe import Markup

from api.problems import ProblemException
from api.problems import status_of as _status_of
from api.routes.workflows import parse_answers
from api.services.cases import CaseService, Who
from api.services.workflows import WorkflowService
from api.sessions import BoundedLRU
from bundler.document import Workflow
from casework import Applicant, CaseError, EventIn, HandIn, RatingIn
from casework.handin import APPLICANT_FIELDS
from casework.rating import SCORE_WORDS
from catalog.store import Caller

from .data import LoginRequired, User, WrongRole, current_user, here, region_options
from .qr import qr_svg
from .render import REASONS, html, said
from .svg import Bar, bar_chart

CLERKS = frozenset({"portal", "reviewer", "admin"})
"""Token roles that may hand in at the window (一窗受理): window staff hold portal tokens;
reviewers and admins stand in. Designers draw bundles and agencies decide tasks: neither takes
cases in."""

STATE_WORDS = {
    "waiting": "待受理（等待前序事项）",
    "ready": "待受理",
    "accepted": "已受理",
    "returned": "补正中",
    "done": "已办结",
    "rejected": "不予受理",
    "cancelled": "已撤销",
}
"""A task's state in the words the applicant and agency read."""
STATE_PILLS = {"ready": "blue", "accepted": "blue", "returned": "warn", "done": "ok", "rejected": "bad"}
CASE_WORDS = {"open": "办理中", "done": "已办结", "closed": "已终结（部分事项未获办理）"}
MARK_WORDS = {
    "handed": "已收取",
    "deferred": "容缺后补",
    **REASONS,
}
CHANNEL_WORDS = {"window": "窗口受理", "assisted": "帮办代办"}
CASE_COOKIE = "onething_case"
COOKIE_PATH = "/pages/cases"
COOKIE_AGE = 1800
HANDED: BoundedLRU[str, str] = BoundedLRU(4096, 3600.0)
"""A hand-in form's one-time value → the case it made: sending the same form again (a reload,
a double click) shows that case instead of handing in twice."""


def cases_of(request: Request) -> CaseService:
    return request.app.state.cases  # type: ignore[no-any-return]


def caller_of(user: User | None) -> Caller | None:
    if user is None:
        return None
    return Caller(name=user.name, role=user.role, region=user.region, agency=user.agency)


def status_of(exc: CaseError) -> int:
    return _status_of(exc) or 500


def faults_by_place(exc: CaseError) -> dict[str, str]:
    """`q:<question>`, `f:<field>`, `m:<material>` → the reason, for the page to show beside it."""
    out: dict[str, str] = {}
    for f in exc.errors:
        for prefix, key in (("q", f.question), ("f", f.field), ("m", f.material)):
            if key is not None:
                out.setdefault(f"{prefix}:{key}", f.reason)
    return out


def clerk(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise LoginRequired(here(request), "portal")
    if user.role not in CLERKS:
        raise WrongRole("portal", user.role)
    return user


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
        workflows: NamedDependency[WorkflowService],
        bundle: FromQuery[str] = "",
        region: FromQuery[str] = "",
        answer: FromQuery[list[str] | None] = None,
    ) -> Response[str]:
        clerk(request)
        given = {}
        with contextlib.suppress(ProblemException):  # a malformed answer in the link: ask again
            given = parse_answers([a for a in answer or () if a.strip()])
        return await self._form(request, workflows, bundle, region, given, {}, None, 200)

    @post("/", name="pages:case-hand-in", status_code=200)
    async def hand_in(self, request: Request, workflows: NamedDependency[WorkflowService]) -> Response[str]:
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
                page="case-new",
                title="受理回执",
                snap=None,
                again=made,
                case=None,
            )
        if values.get("op") == "update":
            return await self._form(request, workflows, bundle, region, given, values, None, 200)
        snap = await workflows.views.snapshot()
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
            return await self._form(request, workflows, bundle, region, given, values, exc, status_of(exc))
        if once:
            HANDED.put(once, case.id)
        region_name = catalog.regions[case.region].name if case.region in catalog.regions else case.region
        status_url = f"{request.base_url}pages/cases/status?" + urlencode({"case": case.id})
        return html(
            request,
            "case_receipt.html",
            page="case-new",
            title="受理回执",
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
            stages=_stages(case.tasks),
        )

    async def _form(
        self,
        request: Request,
        workflows: NamedDependency[WorkflowService],
        bundle: str,
        region: str,
        given: Mapping[str, str],
        values: Mapping[str, str],
        refusal: CaseError | None,
        status: int,
    ) -> Response[str]:
        snap = await workflows.views.snapshot()
        catalog = snap.require()
        workflow, problem = None, None
        answers: Any = ()
        if bundle in catalog.bundles and region in catalog.regions:
            try:
                answers = workflows.answers(snap, given) if given else ()
            except ProblemException as exc:
                problem = exc.detail
            try:
                computed = await workflows.workflow(bundle, region, snap, answers)
                workflow = msgspec.json.decode(computed.body, type=Workflow)
            except ProblemException as exc:
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
        errors = faults_by_place(refusal) if refusal is not None else {}
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
            page="case-new",
            title="一窗受理",
            snap=snap,
            catalog=catalog,
            bundles=sorted(catalog.bundles.values(), key=lambda b: b.name),
            regions=region_options(catalog, snap.children),
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

    # -- the applicant's status page -----------------------------------------------------------------
    @get("/status", name="pages:case-status")
    async def status(
        self, request: Request, workflows: NamedDependency[WorkflowService], case: FromQuery[str] = ""
    ) -> Response[str]:
        held = _held(request)
        if held is not None and (not case or case == held[0]):
            return await self._status(request, workflows, held, None, 200)
        return await self._ask(request, workflows, case, None, 200)

    @post("/status", name="pages:case-lookup", status_code=303)
    async def lookup(self, request: Request, workflows: NamedDependency[WorkflowService]) -> Response:
        data = await request.form()
        case_id = str(data.get("case", "")).strip()
        access = str(data.get("access", "")).strip()
        if not case_id or not access:
            return await self._ask(request, workflows, case_id, "请填写办件编号和查询码。", 422)
        try:
            await cases_of(request).read(case_id, Who(access=access))
        except CaseError as exc:
            why = (
                "办件编号或查询码不正确，请核对受理回执。"
                if status_of(exc) in (403, 404)
                else said(exc.message)
            )
            return await self._ask(request, workflows, case_id, why, status_of(exc))
        cookie = Cookie(
            key=CASE_COOKIE,
            value=f"{case_id}.{access}",
            max_age=COOKIE_AGE,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return Redirect("/pages/cases/status", status_code=303, cookies=[cookie])

    @post("/status/forget", name="pages:case-forget", status_code=303)
    async def forget(self) -> Response:
        gone = Cookie(
            key=CASE_COOKIE, value="", max_age=0, path=COOKIE_PATH, httponly=True, samesite="strict"
        )
        return Redirect("/pages/cases/status", status_code=303, cookies=[gone])

    @post("/status/rating", name="pages:case-rate", status_code=303)
    async def rate(self, request: Request, workflows: NamedDependency[WorkflowService]) -> Response:
        held = _held(request)
        if held is None:
            return await self._ask(request, workflows, "", "请先输入办件编号和查询码。", 401)
        data = await request.form()
        try:
            score = int(str(data.get("score", "")))
        except ValueError:
            score = 0
        tasks: dict[str, int] = {}
        for key, value in data.items():
            if key.startswith("t.") and str(value).isdigit():
                tasks[key[2:]] = int(str(value))
        body = RatingIn(score=score, comment=str(data.get("comment", "")).strip(), tasks=tasks)
        try:
            await cases_of(request).rate(held[0], body, Who(access=held[1]))
        except CaseError as exc:
            return await self._status(request, workflows, held, exc, status_of(exc))
        return Redirect("/pages/cases/status#rating", status_code=303)

    @post("/status/resubmit", name="pages:case-resubmit", status_code=303)
    async def resubmit(self, request: Request, workflows: NamedDependency[WorkflowService]) -> Response:
        held = _held(request)
        if held is None:
            return await self._ask(request, workflows, "", "请先输入办件编号和查询码。", 401)
        data = await request.form()
        event = EventIn(event="resubmit", key=str(data.get("key", "")))
        try:
            await cases_of(request).event(str(data.get("task", "")), event, Who(access=held[1]))
        except CaseError as exc:
            return await self._status(request, workflows, held, exc, status_of(exc))
        return Redirect("/pages/cases/status", status_code=303)

    async def _ask(
        self,
        request: Request,
        workflows: NamedDependency[WorkflowService],
        case_id: str,
        error: str | None,
        status: int,
    ) -> Response[str]:
        snap = await workflows.views.snapshot()
        return html(
            request,
            "case_status.html",
            page="case-status",
            title="办件查询",
            snap=snap,
            case=None,
            case_id=case_id,
            error=error,
            status_code=status,
        )

    async def _status(
        self,
        request: Request,
        workflows: NamedDependency[WorkflowService],
        held: tuple[str, str],
        error: CaseError | None,
        status: int,
    ) -> Response[str]:
        service = cases_of(request)
        who = Who(access=held[1])
        try:
            case = await service.read(held[0], who)
            rating = await service.rating(held[0], who)
        except CaseError as exc:
            gone = Cookie(key=CASE_COOKIE, value="", max_age=0, path=COOKIE_PATH)
            response = await self._ask(request, workflows, held[0], said(exc.message), status_of(exc))
            response.cookies.append(gone)
            return response
        snap = await workflows.views.snapshot()
        catalog = snap.require()
        names = {t.id: t.name for t in case.tasks}
        return html(
            request,
            "case_status.html",
            page="case-status",
            title="办件查询",
            snap=snap,
            catalog=catalog,
            case=case,
            case_id=case.id,
            bundle_name=catalog.bundles[case.bundle].name if case.bundle in catalog.bundles else "",
            region_name=catalog.regions[case.region].name if case.region in catalog.regions else "",
            stages=_stages(case.tasks),
            done_count=sum(1 for t in case.tasks if t.state == "done"),
            state_words=STATE_WORDS,
            state_pills=STATE_PILLS,
            case_words=CASE_WORDS,
            score_words=SCORE_WORDS,
            task_names=names,
            rating=rating,
            error=error,
            errors=faults_by_place(error) if error is not None else {},
            new_key=lambda: secrets.token_urlsafe(12),
            status_code=status,
        )

    # -- 好差评 figures (public) ----------------------------------------------------------------------
    @get("/figures", name="pages:case-figures")
    async def figures(
        self,
        request: Request,
        workflows: NamedDependency[WorkflowService],
        region: FromQuery[str] = "",
        bundle: FromQuery[str] = "",
    ) -> Response[str]:
        snap = await workflows.views.snapshot()
        catalog = snap.require()
        params = request.query_params
        region = region if region in catalog.regions else ""
        bundle = bundle if bundle in catalog.bundles else ""
        notes = []
        dates: dict[str, date | None] = {}
        for name in ("from", "to"):
            raw = str(params.get(name, "") or "").strip()
            dates[name] = None
            if raw:
                try:
                    dates[name] = date.fromisoformat(raw)
                except ValueError:
                    notes.append(f"日期“{raw}”应写作YYYY-MM-DD，已忽略。")
        root = region or "000000"
        service = cases_of(request)
        filters = {"bundle": bundle or None, "start": dates["from"], "end": dates["to"]}
        top = await service.figures(region=region or None, **filters)
        children = [c for c in sorted(snap.children.get(root, ())) if c in catalog.regions]
        rows = []
        for code in children:
            rows.append((code, catalog.regions[code].name, await service.figures(region=code, **filters)))
        query = {
            k: v
            for k, v in (("bundle", bundle), ("from", params.get("from", "")), ("to", params.get("to", "")))
            if v
        }

        def href(code: str) -> str:
            return "/pages/cases/figures?" + urlencode({"region": code, **query})

        def bars(measure) -> list[Bar]:
            out = []
            for code, name, f in rows:
                value, text = measure(f)
                out.append(Bar(name, value, text, href=href(code)))
            return out

        def good(f) -> tuple[float, str]:
            if not f.ratings:
                return 0.0, "暂无评价"
            return f.good_rate or 0.0, f"{(f.good_rate or 0) * 100:.1f}%（{f.ratings} 条评价）"

        def on_time(f) -> tuple[float, str]:
            if not f.cases:
                return 0.0, "暂无办件"
            share = 1 - f.overdue / f.cases
            return share, f"{share * 100:.1f}%（超期 {f.overdue} / {f.cases} 件）"

        charts = []
        if rows:
            charts = [
                ("好评率", bar_chart(bars(good), "各地好评率")),
                ("按期办理率", bar_chart(bars(on_time), "各地按期办理率")),
            ]
        return html(
            request,
            "case_figures.html",
            page="case-figures",
            title="好差评",
            snap=snap,
            catalog=catalog,
            top=top,
            region=region,
            region_name=catalog.regions[region].name if region else "全部地区",
            bundle=bundle,
            bundles=sorted(catalog.bundles.values(), key=lambda b: b.name),
            regions=region_options(catalog, snap.children),
            start=params.get("from", ""),
            end=params.get("to", ""),
            notes=notes,
            rows=rows,
            href=href,
            charts=charts,
        )


def _held(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(CASE_COOKIE, "")
    case_id, _, access = raw.partition(".")
    if not case_id or not access or len(raw) > 300:
        return None
    return case_id, access


def _stages(tasks: list[Any]) -> list[tuple[int, list[Any]]]:
    by: dict[int, list[Any]] = {}
    for t in tasks:
        by.setdefault(t.stage, []).append(t)
    return sorted(by.items())
