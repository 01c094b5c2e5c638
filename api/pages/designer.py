"""The bundle designer: pick items, choose the applicant's region, see the workflow as you go, save.

One plain HTML form: its "更新预览" button GETs the page again with the workflow of the
items ticked (so it works without JavaScript; `pages.js` fetches the same page and swaps
the preview in place, keeping focus and scroll), and its save button posts the same fields
to `/pages/designer/save`, which creates the bundle or replaces it on the version the
designer started from — through the catalog service, with the API's checks
(`bundle_findings`) and the store's compare-and-set. The page says where the combination
can be handled (the checks service over every region) and asks before saving one that
can be handled nowhere. Deleting asks for confirmation on a page of its own (`?delete=1`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from api.problems import status_of
from api.schemas import BundleCreate, BundleReplace
from api.services import errors
from api.services.checks import ChecksService
from api.services.errors import ServiceError
from api.services.reads import ReadsService
from api.services.workflows import WorkflowService
from api.view import View, Views
from bundler import Workflow
from bundler.graph import precedence
from catalog.codes import region_prefix
from catalog.model import Catalog, requirements_of

from .charts import Pair, before_after_svg
from .data import User, below_option, current_user, here, login_url, region_options, require_role, signed_in
from .handlers import Bundles, Checks, Reads, Snap, ViewsDep, Workflows, done_or_redrawn, known, same_origin
from .render import html
from .svg import Edge, Node, graph_svg, graph_svg_tall

SEARCH_LIMIT = 40

METRICS = (
    ("materials", "申请材料", "份"),
    ("visits", "跑动次数", "次"),
    ("days", "办理时限", "天"),
    ("forms", "申请表", "张"),
    ("fields", "填报字段", "项"),
)


def requirement_label(
    requirement: str, names: dict[str, str], wants: dict[str, list[str]]
) -> tuple[str, str]:
    """`<item>#<req>` → (item name, what meets the requirement: its materials by name)."""
    code = requirement.partition("#")[0]
    return names.get(code, code), " 或 ".join(wants.get(requirement, ())) or "申请材料"


def workflow_view(catalog: Catalog, workflow: Workflow) -> dict[str, Any]:
    """What the designer shows of a workflow: the graph, the before → after chart, names for codes."""
    names = {s.item: s.name for s in workflow.steps}
    materials = {m: catalog.materials[m].name for m in catalog.materials}
    resolved = {s.item: catalog.implementations[s.implementation] for s in workflow.steps}
    wants = {
        f"{code}#{r.req}": [materials.get(m, m) for m in r.any_of]
        for code, impl in resolved.items()
        if code in catalog.items
        for r in requirements_of(impl, catalog.items[code])
    }
    graph = precedence(catalog, resolved)
    edges = []
    for a, b, data in graph.edges(data=True):
        label = "、".join(materials.get(m, m) for m in data["materials"]) or (
            "前置事项" if data["explicit"] else ""
        )
        edges.append(Edge(a, b, label))
    steps = {s.item: s for s in workflow.steps}
    stages = [
        [
            Node(code, steps[code].name, f"{steps[code].agency} · {steps[code].promised_days} 天")
            for code in stage
        ]
        for stage in workflow.stages
    ]
    m = workflow.metrics
    pairs = [
        Pair(label, getattr(m, f"{key}_before"), getattr(m, f"{key}_after"), unit)
        for key, label, unit in METRICS
    ]
    return {
        "names": names,
        "materials": materials,
        "graph": graph_svg(stages, edges, "办理顺序（前置关系）"),
        "graph_tall": graph_svg_tall(stages, edges, "办理顺序（前置关系）"),
        "chart": before_after_svg(pairs, "一件事办理前后对比", width=780),
        "metrics": [
            (key, label, unit, getattr(m, f"{key}_before"), getattr(m, f"{key}_after"))
            for key, label, unit in METRICS
        ],
        "steps_by_stage": [[steps[c] for c in stage] for stage in workflow.stages],
        "label": lambda r: requirement_label(r, names, wants),
        "regions": {c: r.name for c, r in catalog.regions.items()},
    }


@dataclass(frozen=True)
class Desk:
    """What the designer's page reads: the newest version and the services it asks."""

    snap: View
    views: Views
    reads: ReadsService
    workflows: WorkflowService
    checks: ChecksService


async def desk_of(snap: Snap, views: ViewsDep, reads: Reads, workflows: Workflows, checks: Checks) -> Desk:
    return Desk(snap, views, reads, workflows, checks)


async def designer_page(
    request: Request,
    desk: Desk,
    *,
    items: list[str],
    region: str,
    q: str,
    form: dict[str, str],
    saved: bool = False,
    deleting: bool = False,
    deleted: str = "",
    error: str | None = None,
    error_items: list[str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    snap, reads, workflows, checks = desk.snap, desk.reads, desk.workflows, desk.checks
    catalog = snap.require()
    picked = [c for c in dict.fromkeys(items) if c in catalog.items]
    unknown = [c for c in dict.fromkeys(items) if c not in catalog.items]
    region = known(region, catalog.regions)
    needle = q.strip()
    results = await reads.search(
        snap,
        q=None if needle.isdigit() else needle or None,
        code=needle if needle.isdigit() else None,
        region=region or None,
    )
    results = [r for r in results if r.code not in picked]
    workflow = problem = None
    view: dict[str, Any] = {}
    original = form.get("original", "")
    if picked and region:
        stored = catalog.bundles.get(original)
        try:
            if stored is not None and list(stored.items) == picked:
                # The stored bundle as it is: its situations (`when`) apply, as on the portal.
                computed = await workflows.workflow(original, region, snap)
            else:
                computed = await workflows.adhoc_workflow(picked, region)
        except ServiceError as exc:
            problem = {"code": exc.code, "message": exc.detail, "items": exc.items or []}
        else:
            workflow = msgspec.json.decode(computed.body, type=Workflow)
            view = workflow_view(await desk.views.slice(snap, picked, snap.path(region)), workflow)
    coverage = await _coverage(checks, snap, picked, original) if len(picked) >= 2 else None
    user = current_user(request)
    if user is not None and user.region is not None:
        for code in (user.region, form.get("offered", "")):
            await desk.views.locate(snap, code)
    scope = _scope(user, snap, form)
    stored_version = snap.versions.get(original) if original else None
    guide = None
    if original and original in catalog.bundles and region and stored_version is not None:
        guide = f"/pages/bundles/{original}/guide?" + urlencode({"region": region})
    return html(
        request,
        "designer.html",
        status_code=status_code,
        snap=snap,
        picked=picked,
        unknown=unknown,
        region=region,
        q=q,
        results=results[:SEARCH_LIMIT],
        more=max(0, len(results) - SEARCH_LIMIT),
        regions=region_options(catalog, snap.children),
        workflow=workflow,
        problem=problem,
        view=view,
        form=form,
        stale=stored_version is not None and form.get("version") not in ("", str(stored_version)),
        stored_version=stored_version,
        saved=saved,
        deleting=deleting and stored_version is not None,
        deleted=deleted,
        coverage=coverage,
        error=error,
        error_items=error_items or [],
        guide=guide,
        scope=scope,
        bundles=sorted(catalog.bundles.values(), key=lambda b: b.name),
        login=login_url(here(request)),
    )


async def _coverage(checks: ChecksService, snap: View, picked: list[str], original: str) -> dict[str, Any]:
    """Where the combination can be handled: the stored bundle's rows of the checks report, or
    the draft's over every region."""
    catalog = snap.require()
    stored = catalog.bundles.get(original)
    if stored is not None and list(stored.items) == picked:
        rows = await checks.rows(snap, original)
    else:
        rows = await checks.coverage(snap, picked)
    ok = [r.region for r in rows if r.error is None]
    # Counted as on the checks page: the counties, where applicants are served.
    counties = [r for r in rows if catalog.regions[r.region].level == "county"] or rows
    return {
        "ok": ok,
        "names": [catalog.regions[r].name for r in ok if catalog.regions[r].level == "county"]
        or [catalog.regions[r].name for r in ok],
        "count": sum(1 for r in counties if r.error is None),
        "total": len(counties),
    }


def _form(data: dict[str, Any]) -> dict[str, str]:
    return {
        k: str(data.get(k, "") or "").strip()
        for k in ("id", "name", "description", "version", "original", "offered")
    }


def in_scope(user_region: str, regions: list[str] | None) -> bool:
    """Whether a bundle offered in `regions` (None: everywhere) lies within a scoped token's
    region: each code under its prefix (GB/T 2260; a lean view holds no township or village)."""
    under = region_prefix(user_region)
    return bool(regions) and all(r.startswith(under) for r in regions or ())


def may_offer(snap: View, user_region: str, region: str) -> bool:
    """Whether a scoped designer may offer a bundle in `region`: a region of the version within
    its own (`Views.locate` it first)."""
    return bool(region) and in_scope(user_region, [region]) and snap.knows(region)


def _scope(user: User | None, snap: View, form: dict[str, str]) -> dict[str, Any] | None:
    """For a region-scoped designer: where a bundle it saves may be offered (its region's subtree),
    the choice the form holds, and whether the bundle it opened is one it may change (the
    regions named `Views.locate`d first)."""
    if user is None or user.region is None or snap.catalog is None:
        return None
    catalog = snap.catalog
    stored = catalog.bundles.get(form.get("original", ""))
    offered = form.get("offered", "")
    if not may_offer(snap, user.region, offered):
        kept = [r for r in (stored.regions or []) if in_scope(user.region, [r])] if stored is not None else []
        offered = kept[0] if kept else user.region
    under = region_prefix(user.region)
    options = [(c, n) for c, n in region_options(catalog, snap.children) if c.startswith(under)]
    for code in dict.fromkeys((user.region, offered)):  # a lean view's township or village
        option = below_option(snap, code)
        if option is not None and option not in options:
            options.append(option)
    found = snap.region(user.region)
    return {
        "region": user.region,
        "name": found.name if found is not None else user.region,
        "options": options,
        "offered": offered,
        "editable": stored is None or in_scope(user.region, stored.regions),
    }


class DesignerController(Controller):
    path = "/pages/designer"
    guards = [signed_in("portal")]
    dependencies = {"desk": Provide(desk_of)}

    @get("/", name="pages:designer")
    async def designer(
        self,
        request: Request,
        desk: NamedDependency[Desk],
        items: FromQuery[list[str] | None] = None,
        region: FromQuery[str] = "",
        q: FromQuery[str] = "",
        bundle: FromQuery[str] = "",
        edited: FromQuery[str] = "",
        saved: FromQuery[str] = "",
        delete: FromQuery[str] = "",
        deleted: FromQuery[str] = "",
    ) -> Response[str]:
        snap = desk.snap
        catalog = snap.require()
        form = _form(dict(request.query_params))
        chosen = list(items or [])
        if bundle and not edited and bundle in catalog.bundles:
            # Opening a stored bundle: start from what it holds and the version it is at.
            b = catalog.bundles[bundle]
            chosen = list(b.items)
            form = {
                "id": b.id,
                "name": b.name,
                "description": b.description,
                "version": str(snap.versions.get(b.id, "")),
                "original": b.id,
                "offered": "",
            }
        return await designer_page(
            request,
            desk,
            items=chosen,
            region=region,
            q=q,
            form=form,
            saved=bool(saved),
            deleting=bool(delete),
            deleted=deleted[:500],
        )

    @post("/save", name="pages:designer-save", status_code=303)
    async def save(self, request: Request, desk: NamedDependency[Desk], bundles: Bundles) -> Response[str]:
        user = require_role(request, "designer")
        snap, checks = desk.snap, desk.checks
        form = await request.form()
        items = [str(i) for i in form.getall("items")] if "items" in form else []
        region = str(form.get("region", ""))
        fields = _form(dict(form))

        async def again(message: str, status: int, bad: list[str] | None = None) -> Response[str]:
            return await _refused(request, desk, items, region, fields, message, status, bad)

        if not same_origin(request):
            return await again("请求来源不是本站页面，未保存。", 403)
        scoped_regions: list[str] | None = None
        if user.region is not None:  # a scoped designer saves bundles offered within its region only
            catalog = snap.require()
            for code in (user.region, fields["offered"]):
                await desk.views.locate(snap, code)
            found = snap.region(user.region)
            area = found.name if found is not None else user.region
            stored = catalog.bundles.get(fields["original"])
            if (
                stored is not None
                and fields["original"] == fields["id"]
                and not in_scope(user.region, stored.regions)
            ):
                return await again(
                    f"「{stored.name}」不只在{area}提供，您的令牌只能修改在{area}提供的一件事。"
                    "可换一个编号，另存为在本地提供的新一件事。",
                    403,
                )
            if not may_offer(snap, user.region, fields["offered"]):
                return await again(f"请选择提供区划：须是{area}或其下级区划。", 422)
            scoped_regions = [fields["offered"]]
        if len(dict.fromkeys(items)) < 2:
            return await again("请至少勾选两个事项后再保存：一件事由两个或更多事项组成。", 422)
        if not form.get("anyway"):
            coverage = await _coverage(checks, snap, list(dict.fromkeys(items)), fields["original"])
            if not coverage["ok"]:
                return await again(
                    "该组合在任何地区都无法办理（有事项在各地都没有实施清单），未保存。"
                    "如确需保存，请勾选“仍然保存”后再保存。",
                    422,
                )
        replacing = (
            bool(fields["original"]) and fields["original"] == fields["id"] and fields["version"].isdigit()
        )
        body: dict[str, Any] = {"name": fields["name"], "items": items, "description": fields["description"]}
        kept = (snap.catalog.bundles if snap.catalog else {}).get(fields["original"])
        if kept is not None:  # what this form does not edit stays as the bundle (or its original) has it
            chosen = set(items)
            body |= {
                "regions": kept.regions,
                "window": kept.window,
                "target_days": kept.target_days,
                "when": {item: answers for item, answers in kept.when.items() if item in chosen},
            }
        if scoped_regions is not None:
            body["regions"] = scoped_regions
        kind: type[BundleCreate | BundleReplace] = BundleReplace if replacing else BundleCreate
        payload = body if replacing else {"id": fields["id"], **body}
        try:
            written = msgspec.convert(payload, kind)
        except msgspec.ValidationError:
            return await again(f"无法保存：{_field_message(payload, kind)}", 422)
        if isinstance(written, BundleReplace):
            work = bundles.replace_bundle(fields["id"], written, int(fields["version"]))
        else:
            work = bundles.create_bundle(written)
        target = "/pages/designer?" + urlencode({"bundle": fields["id"], "region": region, "saved": "1"})
        return await done_or_redrawn(  # type: ignore[return-value]
            work,
            target,
            lambda exc: again(
                _problem_message(exc), status_of(exc) or 500, [e.key for e in exc.errors if e.key]
            ),
            ServiceError,
        )

    @post("/delete", name="pages:designer-delete", status_code=303)
    async def delete(self, request: Request, desk: NamedDependency[Desk], bundles: Bundles) -> Response[str]:
        user = require_role(request, "designer")
        snap = desk.snap
        form = await request.form()
        bundle_id, version = str(form.get("id", "")), str(form.get("version", ""))
        region = str(form.get("region", ""))
        stored = snap.require().bundles.get(bundle_id)
        fields = {
            "id": bundle_id,
            "name": stored.name if stored else "",
            "description": "",
            "version": version,
            "original": bundle_id,
            "offered": "",
        }

        async def again(message: str, status: int) -> Response[str]:
            items = list(stored.items) if stored else []
            return await _refused(request, desk, items, region, fields, message, status)

        if not same_origin(request):
            return await again("请求来源不是本站页面，未删除。", 403)
        if stored is None or not version.isdigit():
            return await again("没有这个一件事，可能已被删除。", 404)
        if user.region is not None and not in_scope(user.region, stored.regions):
            return await again(f"「{stored.name}」不只在您的令牌所辖区划内提供，您不能删除它。", 403)
        target = "/pages/designer?" + urlencode({"deleted": stored.name, "region": region})
        return await done_or_redrawn(  # type: ignore[return-value]
            bundles.delete_bundle(bundle_id, int(version)),
            target,
            lambda exc: again(_problem_message(exc), status_of(exc) or 500),
            ServiceError,
        )


async def _refused(
    request: Request,
    desk: Desk,
    items: list[str],
    region: str,
    fields: dict[str, str],
    message: str,
    status: int,
    bad: list[str] | None = None,
) -> Response[str]:
    """The designer again, as the save or delete form left it, with why it was refused."""
    return await designer_page(
        request,
        desk,
        items=items,
        region=region,
        q="",
        form=fields,
        error=message,
        error_items=bad,
        status_code=status,
    )


FIELD_MESSAGES = {
    "id": "编号只能由字母、数字、点、下划线和连字符组成，且以字母或数字开头。",
    "name": "请填写一件事名称。",
    "items": "请至少勾选两个事项。",
    "description": "说明过长。",
}
"""What the designer says of a form field the bundle's type refuses, by field."""


def _field_message(payload: dict[str, Any], kind: type[msgspec.Struct]) -> str:
    """The first field of `payload` (in `kind`'s order) that its declared type refuses, in the
    designer's words: each field checked against its type, not the library's error text."""
    for field in msgspec.structs.fields(kind):
        if field.name in FIELD_MESSAGES and field.name in payload:
            try:
                msgspec.convert(payload[field.name], field.type)
            except msgspec.ValidationError:
                return FIELD_MESSAGES[field.name]
    return "填写的内容不符合要求，请检查编号、名称和说明。"


def _problem_message(exc: ServiceError) -> str:
    """A bundle write's refusal in the designer's words."""
    if isinstance(exc, errors.BundleExists):
        return "编号已被其他一件事使用：请换一个编号，或打开该一件事进行修改。"
    if isinstance(exc, errors.StaleVersion):
        return f"保存失败：{exc.message}"
    if isinstance(exc, errors.UnknownBundle):
        return "该一件事已被删除，无法替换；可清空“原编号”后另存为新的一件事。"
    if isinstance(exc, errors.InvalidBundle):
        return exc.message
    return f"保存失败（{status_of(exc)}），请稍后再试。"
