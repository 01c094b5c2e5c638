"""A workflow for people: the printable one-time notice with its merged form (HTML) and a plain-text summary.

Both read names from the catalog (items, materials, regions) so that the
citizen sees 居民身份证, not `id-card`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import NamedTuple

import jinja2

from catalog.model import Catalog

from .bring import sort_materials
from .document import Workflow
from .notice import HANDOVER_UNKNOWN, applicants, outcomes, visits_text

REASONS = {
    "internal": "内部流转",
    "e_license": "电子证照免提交",
    "commitment": "告知承诺",
    "merged_form": "一表申请",
}
REASONS_EN = {
    "internal": "internal",
    "e_license": "e-license",
    "commitment": "commitment",
    "merged_form": "merged form",
}

METRICS = (
    ("materials", "申请材料", "materials", "份"),
    ("visits", "跑动次数", "visits", "次"),
    ("days", "办理时限", "days", "个工作日"),
    ("forms", "申请表", "forms", "张"),
    ("fields", "填报字段", "fields", "项"),
)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _names(workflow: Workflow, catalog: Catalog) -> dict:
    """What the texts show instead of codes."""
    items = {step.item: step.name for step in workflow.steps}
    materials = {m.id: m.name for m in catalog.materials.values()}
    region = catalog.regions.get(workflow.region)
    bundle = catalog.bundles.get(workflow.bundle) if workflow.bundle else None
    return {
        "title": bundle.name if bundle else "、".join(items.values()) + "联办",
        "description": bundle.description if bundle else "",
        "region_name": region.name if region else workflow.region,
        "items": items,
        "materials": materials,
    }


def requirement_label(requirement: str, items: dict[str, str]) -> str:
    """`<item>#<req>` as 「item name」req (the CLI's summary; the guide never shows `req`)."""
    code, _, req = requirement.partition("#")
    return f"「{items.get(code, code)}」{req}"


def days_text(days: int) -> str:
    """A time limit as a citizen reads it: 即办 for the same day."""
    return "即办" if days == 0 else f"{days} 个工作日"


def fee_text(fee: float) -> str:
    return f"收费 {fee:g} 元" if fee else "不收费"


def _common(values: Iterable[str]) -> str:
    """The one non-empty value all give, or ""."""
    distinct = {v for v in values if v}
    return distinct.pop() if len(distinct) == 1 else ""


class Where(NamedTuple):
    """Where to go first: the one window (一窗受理) and how to reach it, or the online entry."""

    window: str
    address: str
    hours: str
    phone: str
    online: bool
    map: str = ""
    """A map link to the service point that takes the whole case (revision 3), when it has a location."""
    nearer: tuple[str, ...] = ()
    """Revision 3: sentences on nearer service points that take in some items for the applicant."""


def one_case(workflow: Workflow) -> bool:
    """Whether the applicant hands the whole bundle in once, as one case (§7.1: 一窗受理 or
    online, the system splitting it for the agencies): always, but where the bundle is not offered
    in the region — the one refusal of a hand-in that no answer or material can lift."""
    return all(check.passed for check in workflow.checks if check.check == "OFFERED")


def where_to_go(workflow: Workflow, catalog: Catalog) -> Where:
    bundle = catalog.bundles.get(workflow.bundle) if workflow.bundle else None
    steps = workflow.steps
    window = (bundle.window if bundle and bundle.window else "") or _common(s.window for s in steps)
    at = [s for s in steps if s.window == window] or steps
    impls = [catalog.implementations.get(s.implementation) for s in steps]
    online = bool(steps) and all(i is not None and i.online_depth == 4 for i in impls)
    base = Where(
        window,
        _common(s.address for s in at),
        _common(s.hours for s in at),
        _common(s.phone for s in at),
        online,
    )
    return _where_points(workflow, catalog, base) if workflow.service_points else base


def _where_points(workflow: Workflow, catalog: Catalog, base: Where) -> Where:
    """到哪里办 from the workflow's service points (revision 3): the nearest that takes the whole
    case, its window, address, hours, phone and a map link; and what nearer points take in."""
    names = {s.item: s.name for s in workflow.steps}
    whole = next((p for p in workflow.service_points if p.takes == "bundle"), None)
    nearer = []
    for point in workflow.service_points:
        if point is whole:
            break
        assisted = [names[c] for c in point.assists if c in names]
        taken = [names[c] for c in point.items if c in names and c not in point.assists]
        if assisted:
            nearer.append(f"{point.name}可代为受理：{'、'.join(assisted)}（您无需另去办理部门）")
        if taken:
            nearer.append(f"{point.name}可受理：{'、'.join(taken)}")
    if whole is None:
        return base._replace(nearer=tuple(nearer))
    found = catalog.service_points.get(whole.id)
    where = found.location if found is not None else None
    link = "" if where is None else map_link(where.lat, where.lon)
    return Where(
        f"{whole.name}{whole.window or ''}",
        whole.address,
        whole.hours,
        whole.phone,
        base.online,
        link,
        tuple(nearer),
    )


def map_link(lat: float, lon: float) -> str:
    """OpenStreetMap at a WGS-84 point (the format's `location`; no datum shift needed)."""
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"


def render_guide(workflow: Workflow, catalog: Catalog) -> str:
    """The citizen's printable page, in the order a citizen needs it: the visits, time, fees and
    who may apply at a glance; where to go; what to bring (each material once, in the list
    `bring.sort_materials` puts it in); the steps, how long and what they cost; what the
    applicant receives (`notice`); then the one merged form (一表申请). Where the bundle can be
    handed in as one case (`one_case`), the guide sends the applicant to that one hand-in and
    tells how to follow it; elsewhere to each agency's window. `catalog` is the slice
    the workflow was composed from (its implementations tell whether every step is fully
    online). No internal id (codes, requirement names) reaches the page."""
    names = _names(workflow, catalog)
    lists = sort_materials(workflow, catalog)
    where = where_to_go(workflow, catalog)
    whole = one_case(workflow)
    return (
        _environment()
        .get_template("guide.html")
        .render(
            workflow=workflow,
            names=names,
            where=where,
            lists=lists,
            one_case=whole,
            visits=visits_text(workflow, where.online or bool(where.window) or whole),
            outcomes=outcomes(workflow, catalog),
            handover=HANDOVER_UNKNOWN,
            applicants=applicants(workflow, catalog),
            commitments=[line.name for line in lists.waived if line.waiver == "commitment"],
            days=days_text,
            fee=fee_text,
        )
    )


def summary_text(workflow: Workflow, catalog: Catalog) -> str:
    """The CLI's readable output: steps by stage, materials, waivers, before → after."""
    names = _names(workflow, catalog)
    items, materials = names["items"], names["materials"]

    def label(requirement: str) -> str:
        return requirement_label(requirement, items)

    bundle = f" ({workflow.bundle})" if workflow.bundle else ""
    out = [
        f"{names['title']}{bundle}",
        f"办理地 region: {names['region_name']} {workflow.region} · 目录版本 catalog {workflow.catalog_version}",
        "",
        "办理步骤 steps:",
    ]
    for number, stage in enumerate(workflow.stages):
        parallel = " 并联 parallel" if len(stage) > 1 else ""
        out.append(f"  第{number + 1}阶段 stage {number + 1}{parallel}")
        for step in (s for s in workflow.steps if s.stage == number):
            out.append(f"    - {step.name} [{step.item}] {step.agency}")
            detail = f"承诺 {step.promised_days} 个工作日 days · 到现场 {step.visits} 次 visits"
            if step.fee:
                detail += f" · 收费 {step.fee:g} 元"
            if step.window:
                detail += f" · {step.window}"
            out.append(f"      {detail}")
            where = " · ".join(part for part in (step.address, step.hours, step.phone) if part)
            if where:
                out.append(f"      {where}")
            if step.after:
                out.append(f"      需先办结 after: {'、'.join(items[a] for a in step.after)}")
    out += ["", f"需提交材料 materials to bring ({len(workflow.materials)}):"]
    for material in workflow.materials:
        later = " · 可容缺后补 deferrable" if material.deferrable else ""
        out.append(
            f"  - {material.name} ({material.id}) — 用于 for {'; '.join(map(label, material.for_))}{later}"
        )
    if workflow.waived:
        out += ["", f"免提交 waived ({len(workflow.waived)}):"]
        for w in workflow.waived:
            why = f"{REASONS[w.reason]} {REASONS_EN[w.reason]}"
            if w.from_:
                why += f", 来自 from {items.get(w.from_, w.from_)}"
            out.append(f"  - {label(w.requirement)}: {materials.get(w.material, w.material)} — {why}")
    if workflow.optional:
        out += ["", "如适用 optional (not counted):"]
        for o in workflow.optional:
            out.append(f"  - {label(o.requirement)}: {' / '.join(materials.get(m, m) for m in o.any_of)}")
    out += ["", f"一表申请 one form: {len(workflow.form)} 项 fields", "", "成效 before → after:"]
    for key, zh, en, unit in METRICS:
        before = getattr(workflow.metrics, f"{key}_before")
        after = getattr(workflow.metrics, f"{key}_after")
        out.append(f"  {zh} {en:<9} {before:>4} → {after:<4} {unit}")
    out.append(f"  收费 fees      {workflow.metrics.fees:g} 元")
    if workflow.questions:
        out += ["", "待回答 open questions:"]
        for q in workflow.questions:
            out.append(f"  - {q.text} ({q.id}): {' / '.join(f'{k}={v}' for k, v in q.answers.items())}")
    if workflow.conditional:
        out += ["", "视情形 conditional (not counted):"]
        for c in workflow.conditional:
            what = label(c.requirement) if c.requirement else items.get(c.item or "", c.item or "")
            condition = ", ".join(q + "=" + "|".join(a) for q, a in c.when.items())
            out.append(f"  - {what} when {condition}")
    out += ["", "一件事检查 checks:"]
    for check in workflow.checks:
        out.append(f"  {'✓' if check.passed else '✗'} {check.check:<11} {check.message}")
    out.append("")
    if workflow.optimal:
        out.append("材料数已证明最少 the material count is a proven minimum.")
    else:
        out.append(
            f"注意 the solver was stopped: {workflow.metrics.materials_after} materials, "
            f"the minimum is at least {workflow.lower_bound}."
        )
    return "\n".join(out) + "\n"
