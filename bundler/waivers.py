"""Requirements the applicant need not meet by hand (§4 step 3).

In order of preference: another bundle item that comes first produces the
material (internal, 内部流转), the electronic license library holds it
(e_license, 免提交), a signed commitment replaces it (commitment, 告知承诺),
or it is an item's own application form, which the bundle's one merged form
replaces (merged_form, 一表申请). A new kind of waiver is one more branch here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from catalog.model import Material, Requirement

from .document import Waived


def waiver(
    requirement: Requirement,
    label: str,
    predecessors: Collection[str],
    producers: Mapping[str, list[str]],
    materials: Mapping[str, Material],
) -> Waived | None:
    """How `requirement` (named `label`, `<item>#<req>`) is waived, or None when it is not.

    `predecessors` are the bundle items that precede the requiring item;
    `producers` maps a material to the bundle items that output it, sorted.
    Within one reason the first alternative listed wins.
    """
    for material in requirement.any_of:
        source = next((p for p in producers.get(material, ()) if p in predecessors), None)
        if source is not None:
            return Waived(label, material, "internal", source)
    for material in requirement.any_of:
        if material in materials and materials[material].e_license:
            return Waived(label, material, "e_license", None)
    for material in requirement.any_of:
        if material in materials and materials[material].commitment:
            return Waived(label, material, "commitment", None)
    for material in requirement.any_of:
        if material in materials and materials[material].category == "form":
            return Waived(label, material, "merged_form", None)
    return None
