"""One truth per material in the citizen's guide: every fixture bundle × every county × every
answer combination (each question unanswered or given each answer) puts each material in exactly
one of 要带的 / 视您的情况 / 不用带的, with one reason — in `sort_materials` and on the rendered page.
"""

from __future__ import annotations

import itertools
from html.parser import HTMLParser

import msgspec
import pytest

from bundler import BundleError, Workflow, compose_bundle, render_guide
from bundler.bring import Sorted, sort_materials
from catalog.model import Catalog
from catalog.validate import load_file
from tests.conftest import NINGXIA

LISTS = {"checklist": "bring", "situations": "depends", "waived": "waived"}


@pytest.fixture(scope="module")
def ningxia() -> Catalog:
    catalog, report = load_file(NINGXIA)
    assert report.ok, report.summary
    return catalog


def questions_of(catalog: Catalog, bundle: str) -> list[str]:
    """Every question the bundle, its items or their implementations ask, in the order first named."""
    spec = catalog.bundles[bundle]
    asked: dict[str, None] = {}
    for when in spec.when.values():
        asked.update(dict.fromkeys(when))
    items = set(spec.items)
    requirements = [r for code in spec.items for r in catalog.items[code].materials]
    for impl in catalog.implementations.values():
        if impl.item in items and impl.materials:
            requirements += impl.materials
    for r in requirements:
        asked.update(dict.fromkeys(r.when))
    return list(asked)


def situations(catalog: Catalog, bundle: str) -> list[dict[str, str]]:
    """Each question unanswered or answered each way: every combination."""
    questions = questions_of(catalog, bundle)
    choices = [[None, *catalog.questions[q].answers] for q in questions]
    return [
        {q: a for q, a in zip(questions, combo, strict=True) if a is not None}
        for combo in itertools.product(*choices)
    ]


def every_guide(catalog: Catalog):
    counties = sorted(code for code, r in catalog.regions.items() if r.level == "county")
    for bundle in sorted(catalog.bundles):
        composed = 0
        for region in counties:
            for answers in situations(catalog, bundle):
                try:
                    workflow = compose_bundle(catalog, bundle, region, answers=answers)
                except BundleError as exc:
                    assert exc.problem.error == "NOT_IMPLEMENTED", exc.problem
                    break  # not offered here, whatever the answers
                composed += 1
                yield bundle, region, answers, workflow
        assert composed, f"{bundle} composes nowhere"


class Names(HTMLParser):
    """The `.name` of each line of the three lists, with the list it stands in."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []  # the list each open element is in
        self.found: list[tuple[str, str]] = []
        self.reading: str | None = None
        self.text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        within = self.stack[-1] if self.stack else None
        within = LISTS.get(a.get("id") or "", within)
        if tag in ("br", "meta", "img", "input", "link"):
            return
        self.stack.append(within)
        if tag == "span" and "name" in (a.get("class") or "").split() and within:
            self.reading, self.text = within, ""

    def handle_endtag(self, tag):
        if tag in ("br", "meta", "img", "input", "link"):
            return
        if self.reading is not None and tag == "span":
            self.found.append((self.reading, self.text.strip()))
            self.reading = None
        self.stack.pop()

    def handle_data(self, data):
        if self.reading is not None:
            self.text += data


def named(workflow: Workflow) -> set[str]:
    """Every material the workflow names anywhere."""
    out = {m.id for m in workflow.materials} | {w.material for w in workflow.waived}
    out |= {m for o in workflow.optional for m in o.any_of}
    out |= {m for c in workflow.conditional for m in c.any_of or ()}
    return out


def check_lines(catalog: Catalog, workflow: Workflow, lists: Sorted, where: str) -> None:
    lines = lists.lines()
    ids = [line.material for line in lines]
    assert len(ids) == len(set(ids)), f"{where}: a material in two lines: {ids}"
    assert {line.material for line in lists.bring} == {m.id for m in workflow.materials}, where
    assert set(ids) <= named(workflow), where
    # Every waived material, and some alternative of every optional or conditional requirement, is said.
    assert {w.material for w in workflow.waived} <= set(ids), where
    for any_of in [o.any_of for o in workflow.optional] + [
        c.any_of for c in workflow.conditional if c.any_of
    ]:
        assert set(any_of) & set(ids), f"{where}: nothing said of {any_of}"
    for line, kind in [(x, "bring") for x in lists.bring] + [(x, "depends") for x in lists.depends]:
        assert line.section == kind and line.uses, f"{where}: {line}"
    for line in lists.depends:
        assert line.reason, where
        material = catalog.materials[line.material]
        # What the applicant can be spared is never asked of them.
        assert not (material.e_license or material.commitment or material.category == "form"), (where, line)
    for line in lists.waived:
        assert line.section == "waived" and line.reason and line.waiver is not None, (where, line)
        assert "如有" not in line.reason and "带上" not in line.reason, (where, line)


def test_each_material_once_with_one_reason_in_every_guide(ningxia: Catalog) -> None:
    seen = 0
    for bundle, region, answers, workflow in every_guide(ningxia):
        where = f"{bundle} @ {region} {answers}"
        lists = sort_materials(workflow, ningxia)
        check_lines(ningxia, workflow, lists, where)

        parser = Names()
        parser.feed(render_guide(workflow, ningxia))
        on_page = parser.found
        names = [name for _, name in on_page]
        assert len(names) == len(set(names)), f"{where}: {sorted(on_page)}"
        expected = sorted((line.section, line.name) for line in lists.lines())
        assert sorted((k, n) for k, n in on_page) == expected, where
        seen += 1
    assert seen > 13 * 20  # every bundle, in every county where it composes, in every situation


def lists_of(ningxia: Catalog, bundle: str, region: str, answers=None) -> dict[str, str]:
    lists = sort_materials(compose_bundle(ningxia, bundle, region, answers=answers), ningxia)
    return {line.name: line.section for line in lists.lines()}


def test_the_contradictions_reported_in_issue_17_are_gone(ningxia: Catalog) -> None:
    xingqing = lists_of(ningxia, "newborn", "640104")
    assert xingqing["居民身份证"] == "waived"  # optional for the father, fetched for everyone else
    assert xingqing["户口簿"] == "waived"  # once, though e-license for one item and internal for three
    assert lists_of(ningxia, "newborn", "640521")["结婚证"] == "waived"
    assert lists_of(ningxia, "goji-geo-mark", "640521")["产品检验报告"] == "bring"
    lines = sort_materials(compose_bundle(ningxia, "goji-geo-mark", "640521"), ningxia)
    report = next(line for line in lines.bring if line.name == "产品检验报告")
    assert report.uses[-1].endswith("（如适用）")  # its optional use rides along, marked


def test_one_reason_when_waivers_differ(ningxia: Catalog) -> None:
    """户口簿: its own e-license for 出生登记, internal flow from 出生登记 for the three after it —
    one line, the reason that holds for all four."""
    workflow = compose_bundle(ningxia, "newborn", "640104")
    reasons = {w.reason for w in workflow.waived if w.material == "household-register"}
    assert reasons == {"e_license", "internal"}
    line = next(x for x in sort_materials(workflow, ningxia).waived if x.material == "household-register")
    assert line.waiver == "e_license" and line.reason == "经您授权，从电子证照库调取"


def test_a_situation_asks_once_and_answering_it_moves_the_material(ningxia: Catalog) -> None:
    plain = sort_materials(compose_bundle(ningxia, "restaurant", "640104"), ningxia)
    lease = next(x for x in plain.depends if x.name == "房屋租赁合同")
    assert "「租赁」" in lease.reason and "时需要" in lease.reason
    assert lists_of(ningxia, "restaurant", "640104", {"premises": "lease"})["房屋租赁合同"] == "bring"
    own = lists_of(ningxia, "restaurant", "640104", {"premises": "own"})
    assert "房屋租赁合同" not in own and own["不动产权证书"] == "waived"
    # Unanswered, 不动产权证书 (own premises) is already known to be fetched, not asked for.
    assert {x.name: x.section for x in plain.lines()}["不动产权证书"] == "waived"


def test_visits_outputs_and_applicants_as_far_as_the_catalog_says(ningxia: Catalog) -> None:
    from bundler.notice import APPLICANT_UNKNOWN, HANDOVER_UNKNOWN, applicants, outcomes, visits_text

    newborn = compose_bundle(ningxia, "newborn", "640104")
    assert visits_text(newborn, one_window=True) == "最多跑一次"
    assert newborn.metrics.visits_before == 1 and visits_text(newborn, one_window=False) == "最多跑一次"
    freight = compose_bundle(ningxia, "freight-transport", "640522")
    assert (freight.metrics.visits_before, freight.metrics.visits_after) == (2, 1)
    assert visits_text(freight, one_window=True) == "最多跑一次"
    assert visits_text(freight, one_window=False) == "各部门分别受理，合计到现场 2 次"  # every step's add up
    got = {o.item: o for o in outcomes(newborn, ningxia)}
    assert got["国(境)内出生登记"].outputs == ["户口簿"] and got["国(境)内出生登记"].electronic == ["户口簿"]
    assert got["出生医学证明签发"].electronic == []  # not held in the license library
    assert got["生育医疗费用报销"].outputs == []
    assert "窗口领取或邮寄" in HANDOVER_UNKNOWN and "未载明" in HANDOVER_UNKNOWN
    who = applicants(compose_bundle(ningxia, "after-death", "640104"), ningxia)
    assert any(line.startswith("以个人名义申请") for line in who)
    assert "申请人与当事人的关系可以是：本人、配偶、子女、父母、其他近亲属" in who
    shop = applicants(compose_bundle(ningxia, "restaurant", "640104", answers={"premises": "lease"}), ningxia)
    assert any(line.startswith("以企业等经营主体的名义申请") for line in shop)
    assert not any(line.startswith("以个人名义") for line in shop)  # a contact phone names nobody
    assert "您的情况：经营场所(住所)是自有房产还是租赁——租赁" in shop
    goji = applicants(compose_bundle(ningxia, "goji-geo-mark", "640521"), ningxia)
    assert goji[0].startswith("在中宁县（含下辖地区）办理的申请人")
    nameless = msgspec.structs.replace(newborn, form=[], answers={})
    assert applicants(nameless, ningxia)[-1] == APPLICANT_UNKNOWN
