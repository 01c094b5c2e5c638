"""The hand-in checks of §7.1 against the workflow the bundler computed, and the plan of the
case they let through: one task per step, the due days, the form as it will be kept."""

from __future__ import annotations

from collections.abc import Mapping

from msgspec import Struct

from bundler import BundleError, Workflow, checked_answers
from catalog.model import Catalog, requirements_of

from . import fields
from .errors import Refused
from .model import Fault, FormValue, HandIn


class TaskPlan(Struct, frozen=True, kw_only=True):
    item: str
    implementation: str
    agency: str
    """The agency's USCC."""
    agency_name: str
    name: str
    stage: int
    promised_days: int
    after: list[str]
    """The items of the case that precede this one."""
    outputs: list[str]
    fields: list[str]
    materials: dict[str, str]


class Plan(Struct, frozen=True, kw_only=True):
    """What a hand-in that passed every check becomes."""

    tasks: list[TaskPlan]
    days: int
    """The workflow's `days_after`."""
    form: dict[str, FormValue]
    """The form as kept: every field of the workflow's form (the applicant's own fields filled
    from `applicant` when the form leaves them out)."""


APPLICANT_FIELDS = {"applicant.name": "name", "applicant.id_number": "id_number", "applicant.phone": "phone"}


def refused_bundling(error: BundleError) -> Refused:
    """A §4 error (UNKNOWN_BUNDLE, UNKNOWN_REGION, …) as a hand-in refusal naming what is at fault."""
    problem = error.problem
    where = {"UNKNOWN_BUNDLE": "bundle", "UNKNOWN_REGION": "region"}.get(problem.error)
    if problem.error == "UNKNOWN_ANSWER":
        faults = [Fault(problem.message, question=q) for q in problem.items] or [Fault(problem.message)]
    elif where is not None:
        faults = [Fault(problem.message, field=where)]
    else:
        faults = [Fault(problem.message, field="items")]
    return Refused(problem.message, faults, code=problem.error, items=list(problem.items))


def check_answers(catalog: Catalog, answers: Mapping[str, str]) -> None:
    """UNKNOWN_ANSWER naming each question whose answer (or the question itself) is unknown."""
    faults = []
    for question, answer in answers.items():
        try:
            checked_answers(catalog, {question: answer})
        except BundleError as exc:
            faults.append(Fault(exc.problem.message, question=question))
    if faults:
        raise Refused(faults[0].reason, faults, code="UNKNOWN_ANSWER")


def check(hand_in: HandIn, workflow: Workflow, catalog: Catalog) -> Plan:
    """The plan of the case, or Refused with the first failing code of §7.1 (NOT_OFFERED,
    UNANSWERED, FORM, MATERIALS, CONSENT, in this order) and every fault of that code.
    `catalog`: the slice the workflow was composed from."""
    offered = next((c for c in workflow.checks if c.check == "OFFERED"), None)
    if offered is not None and not offered.passed:
        raise Refused(offered.message, [Fault(offered.message, field="region")], code="NOT_OFFERED")
    if workflow.questions:
        raise Refused(
            "还有情形问题未回答。",
            [Fault(f"未回答：{q.text}", question=q.id) for q in workflow.questions],
            code="UNANSWERED",
        )
    form = _form(hand_in, workflow)
    _materials(hand_in, workflow, catalog)
    unconsented = [w for w in workflow.waived if w.reason == "e_license"]
    if unconsented and not hand_in.consent:
        raise Refused(
            "须申请人授权从电子证照库调取证照（consent）。",
            [
                Fault(
                    f"免提交{_name(catalog, w.material)}须申请人授权调取电子证照",
                    material=w.material,
                    requirement=w.requirement,
                )
                for w in unconsented
            ],
            code="CONSENT",
        )
    return Plan(tasks=_tasks(hand_in, workflow, catalog), days=workflow.metrics.days_after, form=form)


def _form(hand_in: HandIn, workflow: Workflow) -> dict[str, FormValue]:
    faults: list[Fault] = []
    applicant = hand_in.applicant
    if not applicant.name.strip():
        faults.append(Fault("必填，未填写", field="applicant.name"))
    for name in ("id_number", "phone"):
        value = getattr(applicant, name)
        if name == "phone" and not value:
            continue
        why = fields.check(name, value)
        if why is not None:
            faults.append(Fault(why, field=f"applicant.{name}"))
    known = {f.id for f in workflow.form}
    for key in hand_in.form:
        if key not in known:
            faults.append(Fault("不是本件申请表中的字段", field=key))
    kept: dict[str, FormValue] = {}
    for spec in workflow.form:
        value = hand_in.form.get(spec.id)
        if value is None and spec.id in APPLICANT_FIELDS:
            value = getattr(applicant, APPLICANT_FIELDS[spec.id]) or None
        why = fields.check(spec.type, value, spec.choices)
        if why is not None:
            faults.append(Fault(f"{spec.label}：{why}", field=spec.id))
        elif value is not None:
            kept[spec.id] = value
    if faults:
        raise Refused("申请表填写有误。", faults, code="FORM")
    return kept


def _requirement_index(workflow: Workflow, catalog: Catalog) -> dict[str, tuple[list[str], bool]]:
    """`<item>#<req>` → (alternatives, deferrable) for each requirement of the steps."""
    out: dict[str, tuple[list[str], bool]] = {}
    for step in workflow.steps:
        impl = catalog.implementations[step.implementation]
        for requirement in requirements_of(impl, catalog.items[step.item]):
            out[f"{step.item}#{requirement.req}"] = (list(requirement.any_of), requirement.deferrable)
    return out


def _materials(hand_in: HandIn, workflow: Workflow, catalog: Catalog) -> None:
    index = _requirement_index(workflow, catalog)
    handed = {m for m, mark in hand_in.materials.items() if mark == "handed"}
    deferred = {m for m, mark in hand_in.materials.items() if mark == "deferred"}
    faults: list[Fault] = []
    for material in workflow.materials:
        for label in material.for_:
            alternatives, deferrable = index.get(label, ([material.id], False))
            if handed.intersection(alternatives):
                continue
            if deferred.intersection(alternatives) and deferrable:
                continue
            names = "、".join(_name(catalog, m) for m in alternatives)
            item = catalog.items[label.split("#", 1)[0]].name
            if deferred.intersection(alternatives):
                why = f"{item}所需的{names}不可容缺，须当场提交"
            else:
                why = f"{item}所需材料未提交（以下任一：{names}）"
            faults.append(Fault(why, material=material.id, requirement=label))
    if faults:
        raise Refused("申请材料不齐。", faults, code="MATERIALS")


def _tasks(hand_in: HandIn, workflow: Workflow, catalog: Catalog) -> list[TaskPlan]:
    index = _requirement_index(workflow, catalog)
    meets: dict[str, dict[str, str]] = {}
    for label, (alternatives, _) in index.items():
        code = label.split("#", 1)[0]
        for m in alternatives:
            mark = hand_in.materials.get(m)
            if mark is not None:
                meets.setdefault(code, {})[m] = mark
    for waived in workflow.waived:
        meets.setdefault(waived.requirement.split("#", 1)[0], {})[waived.material] = waived.reason
    plans = []
    for step in workflow.steps:
        impl = catalog.implementations[step.implementation]
        item = catalog.items[step.item]
        plans.append(
            TaskPlan(
                item=step.item,
                implementation=step.implementation,
                agency=impl.agency.uscc,
                agency_name=impl.agency.name,
                name=item.name,
                stage=step.stage,
                promised_days=step.promised_days,
                after=list(step.after),
                outputs=list(item.outputs),
                fields=list(item.fields),
                materials=dict(sorted(meets.get(step.item, {}).items())),
            )
        )
    return plans


def _name(catalog: Catalog, material: str) -> str:
    found = catalog.materials.get(material)
    return found.name if found is not None else material


def form_for(form: Mapping[str, FormValue], wanted: list[str]) -> dict[str, FormValue]:
    """The part of a case's form an agency may read: its item's fields."""
    return {k: v for k, v in form.items() if k in wanted}
