"""`compose`: a bundle and an applicant's region → the §4 workflow document.

Resolve each item's implementation, order the items, waive what the bundle
or the license library already provides, and ask for the exact fewest
materials for what is left; then count the before → after metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

from catalog.model import Catalog, requirements_of

from .document import (
    BundleError,
    FormField,
    MaterialToBring,
    Metrics,
    OptionalRequirement,
    Step,
    Waived,
    Workflow,
)
from .graph import finish_days, precedence, resolve, stages
from .optimize import TIME_LIMIT, minimum_hitting_set
from .waivers import waiver


def compose_bundle(
    catalog: Catalog, bundle_id: str, region: str, *, time_limit: float = TIME_LIMIT
) -> Workflow:
    """The workflow of a catalog bundle (一件事) for an applicant of `region`."""
    if bundle_id not in catalog.bundles:
        raise BundleError("UNKNOWN_BUNDLE", f"bundle {bundle_id!r} is not in the catalog", [])
    return compose(catalog, catalog.bundles[bundle_id].items, region, bundle_id, time_limit=time_limit)


def compose(
    catalog: Catalog,
    items: Sequence[str],
    region: str,
    bundle: str | None = None,
    *,
    time_limit: float = TIME_LIMIT,
) -> Workflow:
    """The workflow for handling `items` together, as an applicant of `region`.

    Raises BundleError (NOT_IMPLEMENTED, CYCLE, UNKNOWN_ITEM, UNKNOWN_REGION).
    `time_limit` bounds the solver's seconds; past it the workflow is marked not optimal.
    """
    codes = list(dict.fromkeys(items))
    if not codes:
        raise BundleError("UNKNOWN_ITEM", "no items to bundle", [])
    resolved = resolve(catalog, codes, region)
    graph = precedence(catalog, resolved)
    order = stages(graph)
    days = {code: impl.promised_days for code, impl in resolved.items()}
    finish = finish_days(graph, days, order)
    sequence = [code for stage in order for code in stage]

    producers: dict[str, list[str]] = {}
    for code in sorted(codes):
        for material in catalog.items[code].outputs:
            producers.setdefault(material, []).append(code)

    steps: list[Step] = []
    waived: list[Waived] = []
    optional: list[OptionalRequirement] = []
    remaining: list[tuple[str, list[str]]] = []
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
                    after=before,
                    finish_day=finish[code],
                )
            )
            for requirement in requirements_of(impl, item):
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

    solution = minimum_hitting_set([alternatives for _, alternatives in remaining], time_limit)
    chosen = set(solution.chosen)
    meets: dict[str, list[str]] = {material: [] for material in solution.chosen}
    for label, alternatives in remaining:
        for material in alternatives:
            if material in chosen and label not in meets[material]:
                meets[material].append(label)
    to_bring = [
        MaterialToBring(m, catalog.materials[m].name if m in catalog.materials else m, meets[m])
        for m in solution.chosen
    ]

    form = _form(catalog, sequence)
    metrics = Metrics(
        materials_before=materials_before,
        materials_after=len(solution.chosen),
        visits_before=sum(s.visits for s in steps),
        visits_after=max(s.visits for s in steps),
        days_before=sum(days.values()),
        days_after=max(finish.values()),
        forms_before=len(codes),
        forms_after=1,
        fields_before=sum(len(catalog.items[c].fields) for c in codes),
        fields_after=len(form),
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
