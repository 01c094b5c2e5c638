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

from catalog.model import Catalog, Material

from .document import Workflow

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


def where_to_go(workflow: Workflow, catalog: Catalog) -> Where:
    bundle = catalog.bundles.get(workflow.bundle) if workflow.bundle else None
    steps = workflow.steps
    window = (bundle.window if bundle and bundle.window else "") or _common(s.window for s in steps)
    at = [s for s in steps if s.window == window] or steps
    impls = [catalog.implementations.get(s.implementation) for s in steps]
    online = bool(steps) and all(i is not None and i.online_depth == 4 for i in impls)
    return Where(
        window,
        _common(s.address for s in at),
        _common(s.hours for s in at),
        _common(s.phone for s in at),
        online,
    )


class Bring(NamedTuple):
    """One line of the checklist of what to bring."""

    name: str
    form: str  # 原件 / 复印件 / "" when not known
    source: str  # where to get it, "" when not known
    uses: list[str]  # the items it is for, by name
    deferrable: bool


SOURCES = {
    "identity": "本人有效身份证件",
    "photo": "近期免冠证件照",
    "contract": "与对方签订的合同",
    "certificate": "由出具证明的单位开具",
}


def _form_of(material: Material | None) -> str:
    if material is None:
        return ""
    names = [material.name, *material.aliases]
    if any("复印件" in n for n in names) and not any("原件" in n for n in names):
        return "复印件"
    if any("原件" in n for n in names) or material.category in ("identity", "license"):
        return "原件"
    return ""


def checklist(workflow: Workflow, catalog: Catalog) -> list[Bring]:
    names = {s.item: s.name for s in workflow.steps}
    producers: dict[str, list[str]] = {}
    for item in catalog.items.values():
        for output in item.outputs:
            producers.setdefault(output, []).append(item.name)
    out = []
    for m in workflow.materials:
        material = catalog.materials.get(m.id)
        made_by = producers.get(m.id)
        if made_by:
            source = "办理「" + "」或「".join(sorted(made_by)) + "」后取得"
        else:
            source = SOURCES.get(material.category, "") if material else ""
        uses = list(dict.fromkeys(names.get(r.partition("#")[0], "") for r in m.for_))
        out.append(Bring(m.name, _form_of(material), source, [u for u in uses if u], m.deferrable))
    return out


WAIVED_HOW = {
    "internal": "由「{source}」办结后，部门之间内部流转，您不用再交",
    "e_license": "经您授权，从电子证照库调取",
    "commitment": "签署告知承诺书代替（见申请表后的承诺书）",
    "merged_form": "由本指南所附的一张合并申请表代替",
}


def _situations(workflow: Workflow, catalog: Catalog) -> list[str]:
    """如适用 and 视情形 entries, each phrased as a question to the applicant; one line per
    situation and set of materials, naming every item it is for."""
    names = {s.item: s.name for s in workflow.steps}
    materials = {m.id: m.name for m in catalog.materials.values()}

    def any_of(ids: Iterable[str]) -> str:
        return "或".join(f"「{materials.get(m, m)}」" for m in ids)

    def condition(when: dict[str, list[str]]) -> str:
        parts = []
        for q, answers in when.items():
            question = catalog.questions.get(q)
            if question is not None:
                chosen = "或".join(f"「{question.answers.get(a, a)}」" for a in answers)
                parts.append(f"{question.text}如为{chosen}")
        return "；".join(parts)

    grouped: dict[tuple[str, str], list[str]] = {}
    for o in workflow.optional:
        key = (f"您是否有{any_of(o.any_of)}？", "如有，请一并带上")
        grouped.setdefault(key, []).append(names.get(o.requirement.partition("#")[0], ""))
    for c in workflow.conditional:
        if c.item:
            item = catalog.items.get(c.item)
            grouped.setdefault((condition(c.when), f"还将一并办理「{item.name if item else c.item}」"), [])
        else:
            key = (condition(c.when), f"还需带上{any_of(c.any_of or [])}")
            grouped.setdefault(key, []).append(names.get((c.requirement or "").partition("#")[0], ""))
    out = []
    for (ask, then), items in grouped.items():
        used = "、".join(dict.fromkeys(i for i in items if i))
        out.append(
            f"{ask}{'' if ask.endswith('？') else '：'}{then}" + (f"（用于{used}）" if used else "") + "。"
        )
    return out


def render_guide(workflow: Workflow, catalog: Catalog) -> str:
    """The citizen's printable page, in the order a citizen needs it: where to go, what to bring,
    how long and what it costs, then the one merged form (一表申请). `catalog` is the slice the
    workflow was composed from (its implementations tell whether every step is fully online).
    No internal id (codes, requirement names) reaches the page."""
    names = _names(workflow, catalog)
    materials = names["materials"]
    commitments = [w for w in workflow.waived if w.reason == "commitment"]
    waived = [
        (
            materials.get(w.material, w.material),
            WAIVED_HOW[w.reason].format(source=names["items"].get(w.from_ or "", "")),
        )
        for w in workflow.waived
        if w.reason != "merged_form"
    ]
    return (
        _environment()
        .get_template("guide.html")
        .render(
            workflow=workflow,
            names=names,
            where=where_to_go(workflow, catalog),
            checklist=checklist(workflow, catalog),
            situations=_situations(workflow, catalog),
            waived=list(dict.fromkeys(waived)),
            merged_forms=sum(w.reason == "merged_form" for w in workflow.waived),
            commitments=list(dict.fromkeys(materials.get(w.material, w.material) for w in commitments)),
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
