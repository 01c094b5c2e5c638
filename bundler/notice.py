"""The guide's facts beyond the materials: how many visits, what the applicant receives, who applies.

Each is said only as far as the catalog says it. The catalog records the
items' outputs (the licenses and certificates they issue) and whether a
material is held in the electronic license library, but not how a paper
result is handed over (窗口领取 or 邮寄), nor an applicant condition: the
guide says so rather than guess.
"""

from __future__ import annotations

from typing import NamedTuple

from catalog.model import Catalog

from .document import Workflow

HANDOVER_UNKNOWN = "纸质证照、凭证的领取方式（窗口领取或邮寄）目录未载明，请在受理时向窗口确认。"
APPLICANT_UNKNOWN = "目录未载明申请人条件，请向受理窗口咨询。"

# The field dictionary's groups (field ids are `<group>.<name>`) that say who the applicant is.
APPLICANT_GROUPS = {
    "business": "以企业等经营主体的名义申请",
    "applicant": "以个人名义申请",
}
# The field types that name whom a form is for: a group with only a phone or an address is a contact.
NAMING = ("text", "id_number")


def visits_text(workflow: Workflow, one_window: bool) -> str:
    """The on-site visits as the applicant will make them: at one window (or online) `visits_after`
    of §4, the most any step needs; at each agency's own window, every step's (`visits_before`)."""
    metrics = workflow.metrics
    visits = metrics.visits_after if one_window else metrics.visits_before
    if visits == 0:
        return "无需到现场（零跑动）"
    if visits == 1:
        return "最多跑一次"
    return f"最多跑 {visits} 次" if one_window else f"各部门分别受理，合计到现场 {visits} 次"


class Outcome(NamedTuple):
    """What one step gives the applicant when it is done."""

    item: str
    """The item's name."""
    outputs: list[str]
    """The licenses and certificates it issues, by name; empty when the catalog lists none."""
    electronic: list[str]
    """Those of `outputs` held in the electronic license library (电子证照)."""


def outcomes(workflow: Workflow, catalog: Catalog) -> list[Outcome]:
    """Per step, in the workflow's order, the outputs the catalog records for its item."""
    out = []
    for step in workflow.steps:
        item = catalog.items.get(step.item)
        codes = list(item.outputs) if item is not None else []
        names = [catalog.materials[c].name if c in catalog.materials else c for c in codes]
        electronic = [
            catalog.materials[c].name
            for c in codes
            if c in catalog.materials and catalog.materials[c].e_license
        ]
        out.append(Outcome(step.name, names, electronic))
    return out


def applicants(workflow: Workflow, catalog: Catalog) -> list[str]:
    """Who may apply, as far as the catalog says: where the bundle is offered, in whose name
    the merged form is filled in, the applicant's relation to the person concerned when the
    form asks it, and the situation the applicant has told. Never empty: when the catalog
    says nothing of the applicant it says that."""
    out = []
    bundle = catalog.bundles.get(workflow.bundle) if workflow.bundle else None
    region = catalog.regions.get(workflow.region)
    here = region.name if region else workflow.region
    if bundle is not None and bundle.regions:
        offered = "、".join(catalog.regions[r].name if r in catalog.regions else r for r in bundle.regions)
        out.append(f"在{offered}（含下辖地区）办理的申请人；本指南按{here}的规定编写")
    else:
        out.append(f"各地均可申请；本指南按{here}的规定编写")
    named_by: dict[str, list[str]] = {}  # group → its name and id fields (not contact details)
    for f in sorted(workflow.form, key=lambda f: NAMING.index(f.type) if f.type in NAMING else len(NAMING)):
        group = f.id.partition(".")[0]
        if group in APPLICANT_GROUPS and f.type in NAMING:
            named_by.setdefault(group, []).append(f.label)
    for group, labels in sorted(named_by.items(), key=lambda g: list(APPLICANT_GROUPS).index(g[0])):
        more = "等" if len(labels) > 3 else ""
        out.append(f"{APPLICANT_GROUPS[group]}（申请表填写{'、'.join(labels[:3])}{more}）")
    for f in workflow.form:
        if f.choices and f.label.startswith("申请人与"):
            out.append(f"申请人与当事人的关系可以是：{'、'.join(f.choices)}")
    for q, a in workflow.answers.items():
        question = catalog.questions.get(q)
        if question is not None:
            out.append(f"您的情况：{question.text.rstrip('？?')}——{question.answers.get(a, a)}")
    if not named_by and not workflow.answers:
        out.append(APPLICANT_UNKNOWN)
    return out
