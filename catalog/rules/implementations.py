"""The per-implementation rules: USCC, IMPL_CODE, FOUR_SAME_*, LEVEL, SCOPE, MATERIAL_ADDED,
TIME_LIMIT, the warnings ONLINE_VISITS and PROOF_DEMANDED, and the implementation's UNKNOWN_REF.

This is the hot path of a national catalog (millions of implementations of a
few thousand items by agencies that each implement many), so everything that
depends only on the item or the agency is computed once and cached, and the
common case — an implementation that repeats its item — costs a few comparisons.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from sys import intern

from msgspec import Raw

from ..codes import NATIONAL, province_of, uscc_problem
from ..findings import Finding, about, finding
from ..model import LEVEL_DIGIT, Implementation, Item, Material, Region, Requirement
from ..wording import field_name, listed, named
from ..words import level_name
from .items import requirement_shape
from .situations import widened


def basis_set(basis: Sequence[str]) -> frozenset[str]:
    """四同 compares legal bases as a set of strings with surrounding spaces trimmed."""
    return frozenset(b.strip() for b in basis)


class ItemFacts:
    """What every implementation of one item is compared with, computed once per item."""

    __slots__ = (
        "at",
        "basis",
        "basis_raw",
        "days",
        "implemented",
        "item",
        "levels",
        "materials",
        "name_raw",
        "proofs",
        "province",
        "quiet",
        "quiet_own",
        "quiet_raw",
        "reductions",
        "requirements",
        "same",
        "scope",
        "type",
    )

    def __init__(self, item: Item) -> None:
        self.item = item
        self.implemented = False
        self.reductions: list[list[Requirement]] = []
        """Material lists of this item's implementations already found to only reduce it: regions
        tend to share one localisation, and comparing with a known-good list is cheaper than checking."""
        self.same = (item.name, item.type, item.basis, item.statutory_days)
        """What an implementation repeats verbatim in the common case: one tuple comparison."""
        self.type = item.type
        self.days = item.statutory_days
        self.basis_raw: list[Raw] = []
        """Spellings (JSON) of the item's basis as implementations gave it, for a stream that
        compares bytes instead of decoding them; at most MAX_SPELLINGS."""
        self.name_raw: list[Raw] = []
        """The same for the item's name."""
        self.at: dict[str, str] = {}
        """A place (`RegionFacts.places[facts.scope]`) -> the end of an implementation code there
        (level digit + item code), for the places found to allow the item (LEVEL and SCOPE
        hold): a stream checks IMPL_CODE, LEVEL and SCOPE with one look-up and one comparison."""
        self.scope = 0 if item.owner == NATIONAL else 1
        """A national item's places are levels; a local one's are levels in a province."""
        self.materials = item.materials
        self.basis = basis_set(item.basis)
        self.requirements: dict[str, tuple[int, frozenset[str], bool, dict[str, list[str]]]] = {}
        """req -> (position in the item, alternatives, optional, when)"""
        # a repeated req is the item's SCHEMA finding; the first one counts
        for position, r in enumerate(item.materials):
            self.requirements.setdefault(r.req, (position, frozenset(r.any_of), r.optional, r.when))
        self.levels = frozenset(item.levels)
        self.province = None if item.owner == NATIONAL else province_of(item.owner)
        self.proofs: list[str] | None = None
        """The item's own requirements that demand a proof (PROOF_DEMANDED), once its materials are known."""
        self.quiet_own = False
        """An implementation that omits its materials raises no material finding (PROOF_DEMANDED included)."""
        self.quiet: list[list[Requirement]] = []
        """Explicit material lists known to raise no material finding here (the item's own, or a
        reduction, whose proofs are settled and none demanded): `ImplementationRules.holds` looks here."""
        self.quiet_raw: list[Raw] = []
        """The same lists as a file spells them (the JSON of `materials`), for a stream that
        compares bytes instead of decoding them; at most MAX_SPELLINGS."""

    def code_end(self, where: RegionFacts) -> str | None:
        """The end of an implementation code in the region (level digit + item code) when the
        region may implement the item (LEVEL and SCOPE hold), else None; learnt in `at`."""
        if where.level not in self.levels or (self.province is not None and where.province != self.province):
            return None
        end: str = where.digit + self.item.code
        self.at[where.places[self.scope]] = end
        return end


class RegionFacts:
    """A region as implementations see it — its level digit — and its conformity counters."""

    __slots__ = (
        "conforming",
        "digit",
        "implementations",
        "level",
        "passed",
        "places",
        "province",
        "region",
        "windows",
    )

    def __init__(self, region: Region) -> None:
        self.region = region
        self.level = region.level
        # interned: half a million regions at five levels spell three dozen provinces
        self.province = intern(province_of(region.code))
        self.digit = LEVEL_DIGIT[region.level]
        places = self.digit + self.province
        self.places = _PLACES.get(places) or _PLACES.setdefault(places, (self.digit, intern(places)))
        """What LEVEL and SCOPE look at, for a national item (the level) and a local one (level
        and province), as keys of `ItemFacts.at`: one tuple per level and province, shared."""
        self.implementations = 0
        self.conforming = 0
        self.passed = 0
        """Implementations a stream counted conforming in one step, in neither counter until
        `settle`: one addition per row instead of two."""
        self.windows: tuple[Raw, ...] = NO_WINDOW
        """Spellings (JSON) of windows here known good (none given, to begin with), for a
        stream that compares bytes instead of decoding them; at most MAX_WINDOWS. A tuple, and
        the same one for every region until it learns one (`learn_window`): at five levels half
        a million regions have one implementation or none."""

    def learn_window(self, spelling: Raw) -> None:
        """Remember a window spelling known good here (a copy, so the line can go) — from the
        second one found on: a village's one implementation would keep its window for nothing."""
        if self.windows is NO_WINDOW:
            self.windows = WINDOW_FOUND
        elif len(self.windows) < MAX_WINDOWS and spelling not in self.windows:
            self.windows = (*self.windows, spelling.copy())

    def settle(self) -> None:
        """Fold `passed` into the counters."""
        self.implementations += self.passed
        self.conforming += self.passed
        self.passed = 0


class AgencyFacts:
    """A clean agency code as a stream sees it: how its agency is spelt, and the codes it
    implements (for DUPLICATE)."""

    __slots__ = ("ends", "spellings")

    def __init__(self, ends: set[str]) -> None:
        self.spellings: list[Raw] = []
        """Spellings (JSON) of agencies with this code, for a stream that compares bytes instead
        of decoding them; at most MAX_SPELLINGS."""
        self.ends = ends
        """The ends of the implementation codes seen that begin with this code: its entry of
        `catalog.validate.Run.impl_codes`."""


NO_WINDOW: tuple[Raw, ...] = (Raw(),)
"""The windows a region knows before any: none given."""
WINDOW_FOUND: tuple[Raw, ...] = (Raw(),)
"""The same, once a first window was found good there (and not kept)."""
_PLACES: dict[str, tuple[str, str]] = {}
"""Level digit + province -> `RegionFacts.places` (a few hundred at most)."""
MAX_REDUCTIONS = 8
"""Known-good material lists remembered per item."""
MAX_SPELLINGS = 16
"""Spellings of one thing remembered (an item's name, basis, quiet material lists; an agency)."""
MAX_WINDOWS = 64
"""Spellings of windows remembered per region (a service hall has a few dozen)."""


class ImplementationRules:
    """Checks implementations one at a time, keeping only per-item and per-agency verdicts.

    Materials an implementation adds are also checked against the material
    dictionary, which may not be complete until the end of the file: those
    few references are kept in `material_refs` for the caller to settle.
    """

    def __init__(self, materials: Mapping[str, Material] | None = None) -> None:
        self.materials: Mapping[str, Material] = {} if materials is None else materials
        """The material dictionary as far as it is known (PROOF_DEMANDED looks materials up)."""
        self.proof_refs: list[tuple[int | None, str, list[Requirement]]] = []
        """(line, implementation code, requirements) whose materials were not all known yet:
        `proof_findings` settles them at the end."""
        self._uscc: dict[str, str] = {}
        """Agency codes found with a problem, and what it is (the clean ones: `clean_usccs`)."""
        self.clean_usccs: set[str] = set()
        """Agency codes found without a problem (USCC), for `holds`."""
        self.material_refs: list[tuple[int | None, str, str]] = []
        """(line, implementation code, material id) for alternatives the item does not list."""
        self.when_refs: list[tuple[int | None, str, dict[str, list[str]]]] = []
        """(line, implementation code, conditions) for `when` conditions the item does not have:
        the questions they name may come later in the file."""

    def holds(self, impl: Implementation, facts: ItemFacts, where: RegionFacts) -> bool:
        """True when `check` would find nothing and count the implementation conforming, judged
        from what earlier implementations settled (a clean agency code), provided its name, type,
        basis and statutory_days are the item's (`facts.same`) and its material list is known
        quiet (`facts.quiet_own`, `facts.quiet`): the caller looks at those. The common case of
        a national catalog, in one expression; False says only "ask `check`". (A stream that
        keeps no implementation asks the same of a row's bytes: `catalog.validate.Run._rows`.)"""
        uscc = impl.agency.uscc
        return (
            uscc in self.clean_usccs
            and impl.code == uscc + where.digit + impl.item
            and impl.promised_days <= impl.statutory_days
            and (impl.online_depth != 4 or impl.visits <= 0)
            and where.level in facts.levels
            and (facts.province is None or where.province == facts.province)
        )

    def check(
        self,
        impl: Implementation,
        line: int | None,
        facts: ItemFacts | None,
        where: RegionFacts | None,
        out: list[Finding],
    ) -> bool:
        """Append the implementation's findings to `out`; True when it holds 四同 (name, type, basis, code).

        `facts` or `where` is None when the catalog does not define the item or
        region; the caller reports that (UNKNOWN_REF), and the checks that need
        it are skipped. The common case — everything as the item has it — takes
        one comparison per rule family; the detailed checks run only on a difference.
        """
        conforms = True
        uscc = impl.agency.uscc
        if uscc not in self.clean_usccs:
            self._agency(impl, line, out)
        code = impl.code
        say = about("implementation", code, line)
        if where is not None:
            if code != uscc + where.digit + impl.item:
                conforms = False
                out.append(_impl_code(impl, line, uscc + where.digit + impl.item))
        elif len(code) != 31 or code[:18] != uscc or code[19:] != impl.item or code[18] not in "123456":
            conforms = False
            out.append(_impl_code(impl, line, uscc + "?" + impl.item))
        if impl.promised_days > impl.statutory_days:
            out.append(
                say(
                    "TIME_LIMIT",
                    f"实施清单 {code} 的{field_name('promised_days')}为 {impl.promised_days} 天，"
                    f"超过了{field_name('statutory_days')}{impl.statutory_days} 天。",
                )
            )
        if impl.online_depth == 4 and impl.visits > 0:
            out.append(
                say(
                    "ONLINE_VISITS",
                    f"实施清单 {code} 为全程网办（网办深度 4），却要求到现场 {impl.visits} 次。",
                )
            )
        if facts is None:
            return conforms
        demanded = self._proofs(impl, line, facts, out)

        if (impl.name, impl.type, impl.basis, impl.statutory_days) != facts.same and not self._four_same(
            impl, line, facts, out
        ):
            conforms = False
        materials = impl.materials
        good = True
        if materials is not None and materials != facts.materials and materials not in facts.reductions:
            before, refs = len(out), len(self.when_refs)
            self._materials(impl, line, facts, out)
            # a list with conditions of its own is not known good until its questions are settled
            good = len(out) == before and len(self.when_refs) == refs
            if good and len(facts.reductions) < MAX_REDUCTIONS:
                facts.reductions.append(materials)
        if good and demanded == []:  # nothing to say about this list, ever: let `holds` pass it
            if materials is None:
                facts.quiet_own = True
            elif len(facts.quiet) <= MAX_REDUCTIONS and materials not in facts.quiet:
                facts.quiet.append(materials)
        if where is not None and (
            where.level not in facts.levels
            or (facts.province is not None and where.province != facts.province)
        ):
            self._place(impl, line, facts, where, out)
        return conforms

    def _proofs(
        self, impl: Implementation, line: int | None, facts: ItemFacts, out: list[Finding]
    ) -> list[str] | None:
        """PROOF_DEMANDED, with the verdict on the item's own requirements cached per item; the
        requirements demanding a proof, None while that cannot be said yet."""
        own = impl.materials is None or impl.materials == facts.materials
        if own and facts.proofs is not None:
            demanded: list[str] | None = facts.proofs
        else:
            requirements = facts.materials if impl.materials is None else impl.materials
            demanded = demanded_proofs(requirements, self.materials)
            if demanded is None:
                self.proof_refs.append((line, impl.code, requirements))
                return None
            if own:
                facts.proofs = demanded
        if demanded:
            out.append(proof_finding(impl.code, line, demanded))
        return demanded

    def forget_agencies(self) -> None:
        """Let go of the agency codes judged so far (a verdict is only a cache)."""
        self._uscc.clear()
        self.clean_usccs.clear()

    def agency_problem(self, uscc: str) -> str | None:
        """What is wrong with an agency code (None: nothing), cached per code."""
        if uscc in self.clean_usccs:
            return None
        problem = self._uscc.get(uscc)
        if problem is None:
            problem = uscc_problem(uscc)
            if problem is None:
                self.clean_usccs.add(uscc)
            else:
                self._uscc[uscc] = problem
        return problem

    def _agency(self, impl: Implementation, line: int | None, out: list[Finding]) -> None:
        """USCC, with the verdict cached per agency code (an agency implements many items)."""
        uscc = impl.agency.uscc
        problem = self.agency_problem(uscc)
        if problem is not None:
            out.append(
                finding(
                    "USCC",
                    "implementation",
                    impl.code,
                    line,
                    f"实施清单 {impl.code}：实施机构“{impl.agency.name}”的统一社会信用代码“{uscc}”{problem}。",
                )
            )

    def _four_same(
        self, impl: Implementation, line: int | None, facts: ItemFacts, out: list[Finding]
    ) -> bool:
        """Name, type and basis as the item has them (True when they are), and its statutory_days."""
        code, item = impl.code, facts.item
        say = about("implementation", code, line)
        conforms = True
        if impl.name != item.name or impl.type != item.type:
            conforms = False
            the_item = named("item", item.code, item.name)
            if impl.name != item.name:
                out.append(
                    say("FOUR_SAME_NAME", f"实施清单 {code} 的名称为“{impl.name}”，应与{the_item}同名。")
                )
            if impl.type != item.type:
                out.append(
                    say(
                        "FOUR_SAME_TYPE",
                        f"实施清单 {code} 的类型为“{impl.type}”，{the_item}的类型为“{item.type}”。",
                    )
                )
        if impl.basis != item.basis:
            mine = basis_set(impl.basis)
            if mine != facts.basis:
                conforms = False
                out.append(_basis(impl, line, item, mine, facts.basis))
        if impl.statutory_days != item.statutory_days:
            out.append(
                say(
                    "TIME_LIMIT",
                    f"实施清单 {code} 的{field_name('statutory_days')}为 {impl.statutory_days} 天，"
                    f"应与{named('item', item.code, item.name)}相同（{item.statutory_days} 天）。",
                )
            )
        return conforms

    def _place(
        self, impl: Implementation, line: int | None, facts: ItemFacts, where: RegionFacts, out: list[Finding]
    ) -> None:
        """LEVEL and SCOPE: the region's level is one the item allows, inside the owning province."""
        code, item, region = impl.code, facts.item, where.region
        say = about("implementation", code, line)
        if region.level not in facts.levels:
            out.append(
                say(
                    "LEVEL",
                    f"实施清单 {code} 位于{level_name(region.level)}{named('region', region.code, region.name)}，"
                    f"但{named('item', item.code, item.name)}只能在"
                    f"{'、'.join(map(level_name, item.levels)) or '（未列出任何层级）'}实施。",
                )
            )
        if facts.province is not None and where.province != facts.province:
            out.append(
                say(
                    "SCOPE",
                    f"实施清单 {code} 位于{named('region', region.code, region.name)}，"
                    f"不在{named('item', item.code, item.name)}所属的省级区划 {facts.province} 之内。",
                )
            )

    def _materials(
        self, impl: Implementation, line: int | None, facts: ItemFacts, out: list[Finding]
    ) -> None:
        """只减不增: drop requirements or alternatives, mark optional — never add, never make mandatory."""
        code = impl.code
        say = about("implementation", code, line)
        item = facts.item
        requirements: list[Requirement] = impl.materials or []
        known = facts.requirements
        last = -1
        for r in requirements:
            base = known.get(r.req)
            if base is None:
                last = len(known)  # out of the item's order: let the shape check look
                out.append(
                    say(
                        "MATERIAL_ADDED",
                        f"实施清单 {code} 增加了材料要求“{r.req}”，{named('item', item.code, item.name)}没有这项要求"
                        f"（事项的材料要求为{listed(known) or '空'}）。",
                    )
                )
                self.material_refs.extend((line, code, m) for m in r.any_of)
                if r.when:
                    self.when_refs.append((line, code, r.when))
                continue
            position, alternatives, optional, when = base
            if r.when != when:
                self._situation(impl, line, facts, r, when, out)
            # A requirement in the item's order can repeat no earlier one; an empty any_of has nothing to meet it.
            last = len(known) if position <= last or not r.any_of else position
            if not alternatives.issuperset(r.any_of):
                added = [m for m in r.any_of if m not in alternatives]
                out.append(
                    say(
                        "MATERIAL_ADDED",
                        f"实施清单 {code} 的材料要求“{r.req}”接受了{listed(added)}，"
                        f"{named('item', item.code, item.name)}并未列出（事项接受{listed(sorted(alternatives))}）。",
                    )
                )
                self.material_refs.extend((line, code, m) for m in added)
            if optional and not r.optional:
                out.append(
                    say(
                        "MATERIAL_ADDED",
                        f"实施清单 {code} 把材料要求“{r.req}”改为必需，{named('item', item.code, item.name)}将其列为非必需。",
                    )
                )
        if last >= len(known):
            out.extend(requirement_shape("implementation", code, line, requirements))

    def _situation(
        self,
        impl: Implementation,
        line: int | None,
        facts: ItemFacts,
        r: Requirement,
        when: dict[str, list[str]],
        out: list[Finding],
    ) -> None:
        """An implementation's condition may narrow the item's, never widen or drop it."""
        lost = widened(when, r.when)
        if lost:
            out.append(
                finding(
                    "MATERIAL_ADDED",
                    "implementation",
                    impl.code,
                    line,
                    f"实施清单 {impl.code} 的材料要求“{r.req}”放宽或去掉了问题{listed(lost)}的适用情形，"
                    f"适用范围超出了{named('item', facts.item.code, facts.item.name)}。",
                )
            )
        own = {q: a for q, a in r.when.items() if q not in when or not set(a) <= set(when[q])}
        if own:
            self.when_refs.append((line, impl.code, own))


def demanded_proofs(
    requirements: Sequence[Requirement], materials: Mapping[str, Material], *, settled: bool = False
) -> list[str] | None:
    """The non-optional requirements whose every alternative is a proof (certificate) that is
    neither retained, in the license library nor replaced by a commitment. None while a material
    they name is not known yet; once `settled` (the whole file read), an unknown material is no
    proof (it is UNKNOWN_REF elsewhere)."""
    out = []
    for r in requirements:
        if r.optional or not r.any_of:
            continue
        proofs = 0
        for material_id in r.any_of:
            m = materials.get(material_id)
            if m is None:
                if not settled:
                    return None
            elif m.category == "certificate" and not (m.retained or m.e_license or m.commitment):
                proofs += 1
        if proofs == len(r.any_of):
            out.append(r.req)
    return out


def proof_findings(
    refs: Sequence[tuple[int | None, str, list[Requirement]]], materials: Mapping[str, Material]
) -> list[Finding]:
    """PROOF_DEMANDED for the implementations checked before their materials were known."""
    out = []
    for line, code, requirements in refs:
        demanded = demanded_proofs(requirements, materials, settled=True)
        if demanded:
            out.append(proof_finding(code, line, demanded))
    return out


def proof_finding(code: str, line: int | None, demanded: Sequence[str]) -> Finding:
    return finding(
        "PROOF_DEMANDED",
        "implementation",
        code,
        line,
        f"实施清单 {code} 的材料要求{listed(demanded)}只能以证明材料满足，"
        "这些证明既不在保留证明事项清单上，也不能以电子证照或告知承诺代替。",
    )


def _impl_code(impl: Implementation, line: int | None, expected: str) -> Finding:
    why = "实施机构统一社会信用代码 + 区划层级码 + 事项编码"
    if "?" in expected:
        why += "，层级码为 1-6"
    return finding(
        "IMPL_CODE",
        "implementation",
        impl.code,
        line,
        f"实施编码“{impl.code}”应为“{expected}”（{why}）。",
    )


def _basis(
    impl: Implementation, line: int | None, item: Item, mine: frozenset[str], theirs: frozenset[str]
) -> Finding:
    parts = []
    if mine - theirs:
        parts.append(f"多出{listed(sorted(mine - theirs))}")
    if theirs - mine:
        parts.append(f"缺少{listed(sorted(theirs - mine))}")
    return finding(
        "FOUR_SAME_BASIS",
        "implementation",
        impl.code,
        line,
        f"实施清单 {impl.code} 的设定依据与{named('item', item.code, item.name)}不同：{'，'.join(parts)}。",
    )


def unknown_refs(
    impl: Implementation,
    line: int | None,
    item: Item | None,
    region: Region | None,
    broken_items: Collection[str] = (),
    broken_regions: Collection[str] = (),
) -> list[Finding]:
    """UNKNOWN_REF for an implementation's item and region (a record that failed to decode is not 'unknown')."""
    say = about("implementation", impl.code, line)
    out = []
    if item is None and impl.item not in broken_items:
        out.append(
            say(
                "UNKNOWN_REF",
                f"实施清单 {impl.code}：事项“{impl.item}”未在目录中定义。",
            )
        )
    if region is None and impl.region not in broken_regions:
        out.append(
            say(
                "UNKNOWN_REF",
                f"实施清单 {impl.code}：区划“{impl.region}”未在目录中定义。",
            )
        )
    return out
