"""`compose`: a bundle and an applicant's region → the §4 workflow document.

Settle what applies in the applicant's situation, resolve each item's
implementation, order the items, waive what the bundle, the license library,
a commitment or the merged form already provides, and ask for the exact
fewest materials for what is left; then count the before → after metrics and
run the bundle checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from catalog.model import Catalog, Requirement, requirements_of

from .checks import Case, run_checks
from .document import (
    BundleError,
    Conditional,
    FormField,
    MaterialToBring,
    Metrics,
    OptionalRequirement,
    Step,
    Waived,
    Workflow,
)
from .graph import checked_lineage, finish_days, precedence, resolve, stages
from .optimize import TIME_LIMIT, minimum_hitting_set
from .places import places
from .situations import checked_answers, open_questions, situation
from .waivers import waiver


def compose_bundle(
    catalog: Catalog,
    bundle_id: str,
    region: str,
    *,
    time_limit: float = TIME_LIMIT,
    answers: Mapping[str, str] | None = None,
) -> Workflow:
    """The workflow of a catalog bundle (一件事) for an applicant of `region` in the situation `answers`."""
    if bundle_id not in catalog.bundles:
        raise BundleError("UNKNOWN_BUNDLE", f"目录中没有一件事“{bundle_id}”。", [])
    return compose(
        catalog, catalog.bundles[bundle_id].items, region, bundle_id, time_limit=time_limit, answers=answers
    )


def compose(
    catalog: Catalog,
    items: Sequence[str],
    region: str,
    bundle: str | None = None,
    *,
    time_limit: float = TIME_LIMIT,
    answers: Mapping[str, str] | None = None,
) -> Workflow:
    """The workflow for handling `items` together, as an applicant of `region` whose answers
    to the catalog's questions are `answers` (none by default).

    `bundle` names the catalog bundle the items come from: its conditions, window, target
    days and regions then count. The catalog may be a slice: the items, their implementations
    along the region's chain, and all regions, materials, fields and questions.
    Raises BundleError (NOT_IMPLEMENTED, CYCLE, UNKNOWN_ITEM, UNKNOWN_REGION, UNKNOWN_ANSWER).
    `time_limit` bounds the solver's seconds; past it the workflow is marked not optimal.
    """
    codes = list(dict.fromkeys(items))
    if not codes:
        raise BundleError("UNKNOWN_ITEM", "没有要合并办理的事项。", [])
    given = checked_answers(catalog, answers)
    chain = checked_lineage(catalog, region)
    unknown = [code for code in codes if code not in catalog.items]
    if unknown:
        raise BundleError("UNKNOWN_ITEM", f"目录中没有这些事项：{'、'.join(unknown)}。", unknown)
    spec = catalog.bundles.get(bundle) if bundle is not None else None

    # step 0: the items that apply in this situation; the undecided ones wait, listed
    conditional: list[Conditional] = []
    members = []
    for code in codes:
        when = spec.when.get(code, {}) if spec is not None else {}
        verdict = situation(when, given)
        if verdict == "applies":
            members.append(code)
        elif verdict == "open":
            conditional.append(Conditional(item=code, when=when))
    resolved = resolve(catalog, members, region)
    applying: dict[str, list[Requirement]] = {}
    undecided: dict[str, list[Conditional]] = {}
    for code in members:
        applying[code] = []
        for requirement in requirements_of(resolved[code], catalog.items[code]):
            verdict = situation(requirement.when, given)
            if verdict == "applies":
                applying[code].append(requirement)
            elif verdict == "open":
                undecided.setdefault(code, []).append(
                    Conditional(
                        requirement=f"{code}#{requirement.req}",
                        any_of=list(requirement.any_of),
                        when=requirement.when,
                    )
                )

    graph = precedence(catalog, resolved, applying)
    order = stages(graph)
    days = {code: impl.promised_days for code, impl in resolved.items()}
    finish = finish_days(graph, days, order)
    sequence = [code for stage in order for code in stage]

    producers: dict[str, list[str]] = {}
    for code in sorted(members):
        for material in catalog.items[code].outputs:
            producers.setdefault(material, []).append(code)

    steps: list[Step] = []
    waived: list[Waived] = []
    optional: list[OptionalRequirement] = []
    remaining: list[tuple[str, list[str]]] = []
    deferrable: dict[str, bool] = {}
    materials_before = 0
    for number, stage in enumerate(order):
        for code in stage:
            impl, item = resolved[code], catalog.items[code]
            before = sorted(graph.predecessors(code))
            steps.append(
                Step(
                    item=code,
                    implementation=impl.code,
                    agency=impl.agency.name,
                    stage=number,
                    promised_days=impl.promised_days,
                    visits=impl.visits,
                    name=item.name,
                    region=impl.region,
                    window=impl.window,
                    address=impl.address,
                    hours=impl.hours,
                    phone=impl.phone,
                    fee=impl.fee,
                    basis=list(item.basis),
                    after=before,
                    finish_day=finish[code],
                    channels=None if impl.channels is None else list(impl.channels),
                )
            )
            conditional.extend(undecided.get(code, ()))
            for requirement in applying[code]:
                label = f"{code}#{requirement.req}"
                if requirement.optional:
                    optional.append(OptionalRequirement(label, list(requirement.any_of)))
                    continue
                materials_before += 1
                waived_by = waiver(requirement, label, before, producers, catalog.materials)
                if waived_by is not None:
                    waived.append(waived_by)
                elif requirement.any_of:  # one that lists no material has nothing to hand in
                    remaining.append((label, requirement.any_of))
                    deferrable[label] = requirement.deferrable

    solution = minimum_hitting_set([alternatives for _, alternatives in remaining], time_limit)
    chosen = set(solution.chosen)
    meets: dict[str, list[str]] = {material: [] for material in solution.chosen}
    for label, alternatives in remaining:
        for material in alternatives:
            if material in chosen and label not in meets[material]:
                meets[material].append(label)
    to_bring = [
        MaterialToBring(
            m,
            catalog.materials[m].name if m in catalog.materials else m,
            meets[m],
            all(deferrable[label] for label in meets[m]),
        )
        for m in solution.chosen
    ]

    form = _form(catalog, sequence)
    metrics = Metrics(
        materials_before=materials_before,
        materials_after=len(solution.chosen),
        visits_before=sum(s.visits for s in steps),
        visits_after=max((s.visits for s in steps), default=0),
        days_before=sum(days.values()),
        days_after=max(finish.values(), default=0),
        forms_before=len(members),
        forms_after=1 if members else 0,
        fields_before=sum(len(catalog.items[c].fields) for c in members),
        fields_after=len(form),
        fees=float(sum(s.fee for s in steps)),
    )
    points = places(catalog, chain, bundle if spec is not None else None, [s.item for s in steps])
    case = Case(
        bundle=spec,
        chain=chain,
        regions=catalog.regions,
        steps=steps,
        materials=to_bring,
        dictionary=catalog.materials,
        metrics=metrics,
        service_points=points,
    )
    return Workflow(
        bundle=bundle,
        region=region,
        catalog_version=catalog.header.version,
        steps=steps,
        stages=order,
        materials=to_bring,
        waived=waived,
        optional=optional,
        form=form,
        metrics=metrics,
        optimal=solution.optimal,
        lower_bound=None if solution.optimal else solution.lower_bound,
        answers=given,
        questions=open_questions(catalog, (c.when for c in conditional), given),
        conditional=conditional,
        checks=run_checks(case),
        service_points=points,
    )


def _form(catalog: Catalog, sequence: list[str]) -> list[FormField]:
    """The one merged form (一表申请): each distinct field once, in the order the steps first ask for it."""
    asked: dict[str, list[str]] = {}
    for code in sequence:
        for field_id in catalog.items[code].fields:
            users = asked.setdefault(field_id, [])
            if code not in users:
                users.append(code)
    form = []
    for field_id, users in asked.items():
        spec = catalog.fields.get(field_id)
        if spec is None:
            form.append(FormField(field_id, field_id, "text", users))
        else:
            form.append(FormField(field_id, spec.label, spec.type, users, spec.choices))
    return form
