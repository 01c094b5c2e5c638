"""What the applicant brings, in the citizen's guide: one truth per material.

A workflow names a material in up to four places — the minimum to hand in
(`materials`), the waived requirements (`waived`), the optional ones
(`optional`, 如适用) and the requirements waiting on a question
(`conditional`). The guide shows each material once, in exactly one of three
lists, with one reason: 要带的 (`bring`), 视您的情况 (`depends`) or 不用带的
(`waived`). `sort_materials` is the one place that decides; the templates
only render its answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, NamedTuple

from catalog.model import Catalog, Material, Requirement

from .document import Reason, Workflow
from .waivers import waiver

Section = Literal["bring", "depends", "waived"]

WAIVED_HOW: dict[Reason, str] = {
    "internal": "由「{source}」办结后，部门之间内部流转，您不用再交",
    "e_license": "经您授权，从电子证照库调取",
    "commitment": "签署告知承诺书代替（见申请表后的承诺书）",
    "merged_form": "由本指南所附的一张合并申请表代替",
}

SOURCES = {
    "identity": "本人有效身份证件",
    "photo": "近期免冠证件照",
    "contract": "与对方签订的合同",
    "certificate": "由出具证明的单位开具",
}


class Line(NamedTuple):
    """One material in one list of the guide, with its one reason."""

    material: str
    """The material's id (never shown)."""
    name: str
    section: Section
    reason: str
    """Why it is in this list, as the citizen reads it: where to get it (bring), when to bring it
    (depends), or how it is provided without the applicant (waived)."""
    uses: list[str]
    """The items it is for, by name; a merely optional use is marked （如适用）."""
    form: str = ""
    """原件 / 复印件 / "" when not known (bring only)."""
    deferrable: bool = False
    """Every requirement it is to be brought for is deferrable (容缺后补; bring only)."""
    waiver: Reason | None = None
    """The kind of waiver the reason tells (waived only)."""


class Sorted(NamedTuple):
    bring: list[Line]
    depends: list[Line]
    waived: list[Line]
    items: list[str]
    """The items that join the bundle only in some situation, each as a sentence."""

    def lines(self) -> list[Line]:
        return [*self.bring, *self.depends, *self.waived]


class _Need(NamedTuple):
    """One requirement naming a material, and how the applicant meets it."""

    item: str
    how: Literal["bring", "waived", "optional", "conditional"]
    sure: bool = True
    """The requirement applies for certain (not optional, not waiting on a question)."""
    reason: Reason | None = None
    source: str | None = None
    when: Mapping[str, list[str]] | None = None
    others: frozenset[str] = frozenset()
    """The other alternatives that would meet the same requirement (optional, conditional)."""


def sort_materials(workflow: Workflow, catalog: Catalog) -> Sorted:
    """Each material the workflow names, in exactly one list with exactly one reason.

    First each requirement is settled as the workflow settles required ones: a waived one by
    its waiver; a remaining one by the materials of the minimum that meet it. An optional
    requirement, or one waiting on a question, is met without the applicant when the waiver
    rule of §4 step 3 (`waivers.waiver`) would waive it — its item's predecessors, or for a
    conditional one every other step's item, since applying it links them — else by a
    material the applicant brings anyway; otherwise each of its alternatives depends on the
    applicant's situation. Then, per material, the precedence is:

    1. 要带的 when it is in the minimum to hand in: it is needed whatever else names it. Its
       reason is where to get it; its uses are the items it is for, an optional or
       conditional use it also meets marked （如适用）.
    2. else 视您的情况 when some requirement naming it is neither waived nor met by a
       material brought anyway: with conditions, "「<question>」答「<answer>」…时需要"; merely
       optional, "如有，请一并带上"; both, the conditions and "其他情况下如有，也请带上".
       An alternative is offered only when every such requirement accepts it.
    3. else 不用带的: every requirement naming it is met without the applicant. One reason:
       the waiver's when all agree; else the material's own (电子证照, 告知承诺, 一表申请),
       which holds for every requirement; else internal flow from the items that produce it.
    """
    steps = {s.item: s for s in workflow.steps}
    names = {s.item: s.name for s in workflow.steps}
    dictionary = catalog.materials
    producers: dict[str, list[str]] = {}
    for code in sorted(steps):
        item = catalog.items.get(code)
        for output in item.outputs if item is not None else ():
            producers.setdefault(output, []).append(code)
    chosen = {m.id: m for m in workflow.materials}

    needs: dict[str, list[_Need]] = {}

    def need(material: str, n: _Need) -> None:
        needs.setdefault(material, []).append(n)

    for m in workflow.materials:
        for label in m.for_:
            need(m.id, _Need(label.partition("#")[0], "bring"))
    for w in workflow.waived:
        need(w.material, _Need(w.requirement.partition("#")[0], "waived", True, w.reason, w.from_))

    def settle(label: str, any_of: list[str], when: Mapping[str, list[str]] | None) -> None:
        item = label.partition("#")[0]
        # A conditional requirement, once it applies, links every producer of its alternatives.
        before = set(steps) - {item} if when is not None else set(steps[item].after if item in steps else ())
        requirement = Requirement(label.partition("#")[2], list(any_of))
        waived = waiver(requirement, label, before, producers, dictionary)
        if waived is not None:
            need(waived.material, _Need(item, "waived", False, waived.reason, waived.from_))
            return
        anyway = next((m for m in any_of if m in chosen), None)
        if anyway is not None:
            need(anyway, _Need(item, "bring", False))
            return
        how: Literal["optional", "conditional"] = "conditional" if when is not None else "optional"
        for material in dict.fromkeys(any_of):
            need(material, _Need(item, how, False, when=when, others=frozenset(any_of) - {material}))

    for o in workflow.optional:
        settle(o.requirement, o.any_of, None)
    for c in workflow.conditional:
        if c.requirement is not None:
            settle(c.requirement, c.any_of or [], c.when)

    def name_of(material: str) -> str:
        return dictionary[material].name if material in dictionary else material

    bring: list[Line] = []
    for m in workflow.materials:  # the minimum, in the workflow's order
        uses = _uses(names, needs[m.id])
        bring.append(
            Line(
                m.id,
                m.name,
                "bring",
                _source(m.id, dictionary, catalog),
                uses,
                _form_of(dictionary.get(m.id)),
                m.deferrable,
            )
        )
    depends: list[Line] = []
    waived_lines: list[Line] = []
    for material, said in needs.items():
        if material in chosen:
            continue
        open_ = [n for n in said if n.how in ("optional", "conditional")]
        if open_:
            depends.append(
                Line(
                    material,
                    name_of(material),
                    "depends",
                    _when(open_, catalog, name_of),
                    _uses(names, open_, mark=False),
                )
            )
        else:
            kind, reason = _one_reason(said, dictionary.get(material), names)
            line = Line(material, name_of(material), "waived", reason, _uses(names, said), waiver=kind)
            waived_lines.append(line)
    items = []
    for c in workflow.conditional:
        if c.item is not None:
            item = catalog.items.get(c.item)
            items.append(
                f"{_condition(c.when, catalog)}时，还将一并办理「{item.name if item else c.item}」。"
            )
    return Sorted(bring, depends, waived_lines, list(dict.fromkeys(items)))


def _uses(names: Mapping[str, str], said: Iterable[_Need], mark: bool = True) -> list[str]:
    """Item names, each once; with `mark`, one used only optionally or in some situation marked
    （如适用） (a line whose reason already says when leaves it out)."""
    firm: dict[str, bool] = {}
    for n in said:
        firm[n.item] = firm.get(n.item, False) or n.sure
    return [
        names.get(item, item) + ("" if sure or not mark else "（如适用）")
        for item, sure in firm.items()
        if item in names
    ]


def _condition(when: Mapping[str, list[str]], catalog: Catalog) -> str:
    parts = []
    for q, answers in when.items():
        question = catalog.questions.get(q)
        if question is not None:
            chosen = "或".join(f"「{question.answers.get(a, a)}」" for a in answers)
            parts.append(f"「{question.text}」答{chosen}")
    return "，且".join(parts)


def _when(open_: list[_Need], catalog: Catalog, name_of) -> str:
    """When to bring a material that depends on the applicant's situation: one sentence."""
    conditions = list(
        dict.fromkeys(_condition(n.when or {}, catalog) for n in open_ if n.how == "conditional")
    )
    optional = any(n.how == "optional" for n in open_)
    if conditions:
        text = "；或".join(conditions) + "时需要"
        if optional:
            text += "；其他情况下如有，也请带上"
    else:
        text = "如有，请一并带上"
    others = frozenset.intersection(*(n.others for n in open_))
    if others:
        text += "（也可用" + "或".join(f"「{name_of(m)}」" for m in sorted(others)) + "代替）"
    return text


def _one_reason(said: list[_Need], material: Material | None, names: Mapping[str, str]) -> tuple[Reason, str]:
    """The one reason a material is not brought, holding for every requirement naming it."""
    ways = list(dict.fromkeys((n.reason, names.get(n.source, n.source) if n.source else None) for n in said))
    own = _own_reason(material)
    if len(ways) > 1 and own is not None:
        ways = [(own, None)]
    if {reason for reason, _ in ways} == {"internal"}:
        sources = "」或「".join(sorted({source or "" for _, source in ways}))
        return "internal", WAIVED_HOW["internal"].format(source=sources)
    reason, source = ways[0]
    reason = reason or "internal"
    return reason, WAIVED_HOW[reason].format(source=source or "")


def _own_reason(material: Material | None) -> Reason | None:
    """The waiver a material brings wherever it is named (not `internal`, which needs a producer)."""
    if material is None:
        return None
    if material.e_license:
        return "e_license"
    if material.commitment:
        return "commitment"
    return "merged_form" if material.category == "form" else None


def _source(material: str, dictionary: Mapping[str, Material], catalog: Catalog) -> str:
    """Where to get a material: the item that issues it, else what its category says."""
    made_by = sorted({item.name for item in catalog.items.values() if material in item.outputs})
    if made_by:
        return "办理「" + "」或「".join(made_by) + "」后取得"
    found = dictionary.get(material)
    return SOURCES.get(found.category, "") if found is not None else ""


def _form_of(material: Material | None) -> str:
    if material is None:
        return ""
    names = [material.name, *material.aliases]
    if any("复印件" in n for n in names) and not any("原件" in n for n in names):
        return "复印件"
    if any("原件" in n for n in names) or material.category in ("identity", "license"):
        return "原件"
    return ""
