"""Bundles and the citizen's guide: the one-time notice with the merged form, printable.

The guide itself is the bundler's (`bundler.render_guide`, served through the
catalog service's cache, exactly what `GET /bundles/{id}/guide` returns for the
same region and answers); the page adds a toolbar that is hidden when printing:
the region, and the applicant's situation — the questions still open, each a
`<select name="answer">` of a GET form (no JavaScript needed), answered ones
carried along as hidden `answer=Q:A` fields, as the API takes them.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import msgspec
from litestar import Controller, Request, Response, get
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from api.problems import status_of
from api.routes.workflows import parse_answers
from api.services.errors import ServiceError
from api.view import Answers
from catalog.model import Bundle
from catalog.search import by_life_event
from catalog.words import beijing_today

from .cases import CLERKS
from .data import below_option, current_user, region_options, signed_in
from .handlers import Checks, Snap, ViewsDep, Workflows
from .qr import qr_svg
from .render import env, html
from .search import LIFE_EVENTS, chosen_region, guide_href, index_of, region_choices


class BundlePagesController(Controller):
    path = "/pages/bundles"
    guards = [signed_in("portal", public=True)]

    @get("/", name="pages:bundles")
    async def bundles(
        self,
        request: Request,
        snap: Snap,
        checks: Checks,
        region: FromQuery[str | None] = None,
        q: FromQuery[str] = "",
    ) -> Response[str]:
        """The one-things by name and life event: those offered in the applicant's region (asked
        once, remembered), or all of them until a region is chosen; `q` searches them."""
        catalog = snap.require()
        where, cookies = chosen_region(request, snap, region)
        if where is not None:
            ids = [b.id for b in (await checks.here(snap, where)).bundles]
        else:
            ids = sorted(catalog.bundles)
        hits = None
        if q.strip():
            shown = set(ids)
            index = await index_of(snap)
            _, found = index.search(q, allowed=lambda kind, key: kind == "bundle" and key in shown)
            hits = [catalog.bundles[h.key] for h in found]
        return html(
            request,
            "bundles.html",
            snap=snap,
            groups=by_life_event([catalog.bundles[i] for i in ids], LIFE_EVENTS),
            hits=hits,
            q=q.strip(),
            region=where,
            region_name=catalog.regions[where].name if where else "",
            regions=region_choices(snap),
            guide_href=guide_href,
            cookies=cookies,
        )

    @get("/{bundle_id:str}/guide", name="pages:guide")
    async def guide(
        self,
        request: Request,
        snap: Snap,
        workflows: Workflows,
        checks: Checks,
        views: ViewsDep,
        bundle_id: FromPath[str],
        region: FromQuery[str] = "",
        answer: FromQuery[list[str] | None] = None,
    ) -> Response[str]:
        catalog = snap.require()
        bundle = catalog.bundles.get(bundle_id)
        if bundle is None:
            raise NotFoundException(f"没有编号为 {bundle_id} 的一件事")
        rows = await checks.rows(snap, bundle_id)
        if region and region not in catalog.regions:  # a lean view's township or village: its row
            rows = [*rows, *await checks.rows(snap, bundle_id, region)]
        buildable = {row.region for row in rows if row.error is None}
        # Only the regions where the bundle is offered and can be composed are offered here
        # (of a lean view's townships and villages, the one asked for).
        options = [(c, n) for c, n in region_options(catalog, snap.children) if c in buildable]
        if region:
            await views.locate(snap, region)
        here = bool(region) and snap.knows(region)
        option = below_option(snap, region) if region in buildable else None
        if option is not None:
            options.append(option)
        problem, status = None, 200
        answers: Answers = ()
        given = [a for a in answer or () if a.strip()]  # a question left at 请选择… sends nothing
        try:
            answers = workflows.answers(snap, parse_answers(given)) if given else ()
            if here and region not in buildable:
                found = snap.region(region)
                name = found.name if found is not None else region
                problem = {
                    "code": "NOT_AVAILABLE",
                    "message": _not_here(bundle, name, options),
                    "items": [],
                }
                status = 422
            elif here:
                computed = await workflows.guide(bundle_id, region, snap, answers)
                workflow = await workflows.workflow(bundle_id, region, snap, answers)
        except ServiceError as exc:
            problem = {"code": exc.code, "message": exc.detail, "items": exc.items or []}
            status = status_of(exc) or 500
        if not here or problem is not None:
            # No guide to show: the page asks for a region, with the problem if there was one.
            return html(
                request,
                "guide_region.html",
                title=bundle.name,
                snap=snap,
                bundle=bundle,
                regions=options,
                region=region,
                answers=[f"{q}:{a}" for q, a in answers],  # only valid ones travel on
                status_code=status,
                problem=problem,
            )
        action = f"/pages/bundles/{quote(bundle_id)}/guide"
        questions = msgspec.json.decode(workflow.body).get("questions", [])
        toolbar = env.get_template("guide_toolbar.html").render(
            printed=beijing_today().isoformat(),
            qr=qr_svg(str(request.url)),
            designer="/pages/designer?" + urlencode({"bundle": bundle_id, "region": region})
            if current_user(request)
            else None,
            clerk="/pages/cases/new?"
            + urlencode(
                [("bundle", bundle_id), ("region", region), *(("answer", f"{q}:{a}") for q, a in answers)]
            )
            if (user := current_user(request)) is not None and user.role in CLERKS
            else None,
            action=action,
            restart=action + "?" + urlencode({"region": region}),
            regions=options,
            region=region,
            answers=answers,
            questions=questions,
            question_text=lambda q: catalog.questions[q].text,
            answer_text=lambda q, a: catalog.questions[q].answers[a],
        )
        body = computed.body.decode()
        at = body.find("<body")
        end = body.find(">", at) + 1 if at >= 0 else 0
        page = body[:end] + toolbar + body[end:]
        return Response(page, media_type=MediaType.HTML, headers={"Cache-Control": "no-store"})


def _not_here(bundle: Bundle, name: str, options: list[tuple[str, str]]) -> str:
    """Where the bundle can be handled, for an applicant of a region where it cannot."""
    where = "、".join(name.strip("\u3000") for _, name in options[:12])
    more = f"等 {len(options)} 个地区" if len(options) > 12 else ""
    if not options:
        return f"「{bundle.name}」目前在任何地区都无法办理，请联系当地政务服务中心。"
    return f"「{bundle.name}」在{name}无法办理。可办理地区：{where}{more}。"
