"""`compose` on hand-built catalogs: resolution, precedence, waivers, the fewest materials, metrics, the document."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bundler import BundleError, Workflow, compose, compose_bundle, render_guide, summary_text

from .build import Builder, metrics, req
from .test_optimize import brute_force_minimum, greedy_trap, steiner_triple_system, textbook_greedy


def restaurant() -> tuple[Builder, list[str]]:
    """Four items whose metrics are worked out by hand in `test_metrics_of_a_hand_built_bundle`.

    A 营业执照 → business-license → B 食品经营许可 and C 户外招牌; B → food-license → D 消防检查.
    """
    b = Builder()
    b.material("id-card", "居民身份证", e_license=True)
    b.material("health-commitment", "健康承诺书", commitment=True)
    b.field("food.category", "经营项目", "choice", ["热食类", "冷食类"])
    a = b.item(
        1,
        req("identity", "id-card", "passport"),
        req("premises", "lease", "property-cert"),
        outputs=("business-license",),
        fields=("applicant.name", "applicant.id_number", "business.address"),
        name="营业执照",
    )
    f = b.item(
        2,
        req("identity", "passport", "id-card"),
        req("license", "business-license"),
        req("premises", "lease", "property-cert"),
        req("layout", "premises-layout", optional=True),
        req("health", "health-cert", "health-commitment"),
        outputs=("food-license",),
        fields=("applicant.name", "business.address", "food.category"),
        name="食品经营许可",
    )
    c = b.item(
        3,
        req("license", "business-license"),
        req("design", "sign-design"),
        fields=("applicant.name", "sign.size"),
        name="户外招牌设施设置",
    )
    d = b.item(
        4,
        req("premises", "lease", "fire-plan"),
        req("license", "food-license"),
        fields=("business.address", "applicant.phone"),
        name="消防安全检查",
    )
    b.implement(a, promised_days=3, visits=1)
    b.implement(f, promised_days=5, visits=2)
    b.implement(c, promised_days=2, visits=1)
    b.implement(d, promised_days=7, visits=1)
    b.bundle("restaurant", a, f, c, d, name="开办餐饮店一件事")
    return b, [a, f, c, d]


def test_metrics_of_a_hand_built_bundle() -> None:
    b, (a, f, c, d) = restaurant()
    workflow = compose_bundle(b.catalog, "restaurant", "640104")
    # Non-optional requirements: A 2 + B 4 (layout is optional) + C 2 + D 2 = 10.
    # Waived: A#identity, B#identity (id-card, e_license); B#license, C#license (A's
    # business-license, internal); D#license (B's food-license, internal); B#health (commitment).
    # Left: A#premises, B#premises {lease, property-cert}, C#design {sign-design},
    # D#premises {lease, fire-plan}: lease + sign-design = 2.
    # Visits 1+2+1+1 = 5, max 2. Days 3+5+2+7 = 17; critical path A→B→D = 3+5+7 = 15.
    # Fields 3+3+2+2 = 10; distinct: name, id_number, address, category, size, phone = 6.
    assert workflow.metrics == metrics(
        materials=(10, 2), visits=(5, 2), days=(17, 15), forms=(4, 1), fields=(10, 6)
    )
    assert workflow.stages == [[a], [f, c], [d]]
    assert [(s.item, s.stage, s.finish_day, s.after) for s in workflow.steps] == [
        (a, 0, 3, []),
        (f, 1, 8, [a]),
        (c, 1, 5, [a]),
        (d, 2, 15, [f]),
    ]
    assert workflow.optimal and workflow.lower_bound is None


def test_the_document_is_the_spec_json() -> None:
    b, (a, f, c, d) = restaurant()
    document = msgspec.json.decode(msgspec.json.encode(compose_bundle(b.catalog, "restaurant", "640104")))
    assert list(document) == [
        "bundle", "region", "catalog_version", "steps", "stages", "materials",
        "waived", "optional", "form", "metrics", "optimal",
        "answers", "questions", "conditional", "checks",
    ]  # fmt: skip
    assert (document["bundle"], document["region"], document["catalog_version"]) == (
        "restaurant",
        "640104",
        "test.1",
    )
    impl = {i.item: i for i in b.catalog.implementations.values()}
    assert document["steps"][0] | {"implementation": impl[a].code} == {
        "item": a,
        "implementation": impl[a].code,
        "agency": impl[a].agency.name,
        "stage": 0,
        "promised_days": 3,
        "visits": 1,
        "name": "营业执照",
        "region": "640104",
        "window": "兴庆区政务服务大厅",
        "address": "",
        "hours": "",
        "phone": "",
        "fee": 0.0,
        "basis": ["《测试法》第一条"],
        "after": [],
        "finish_day": 3,
    }
    assert document["materials"] == [
        {"id": "lease", "name": "材料lease", "for": [f"{a}#premises", f"{f}#premises", f"{d}#premises"]},
        {"id": "sign-design", "name": "材料sign-design", "for": [f"{c}#design"]},
    ]
    assert document["waived"] == [
        {"requirement": f"{a}#identity", "material": "id-card", "reason": "e_license", "from": None},
        {"requirement": f"{f}#identity", "material": "id-card", "reason": "e_license", "from": None},
        {"requirement": f"{f}#license", "material": "business-license", "reason": "internal", "from": a},
        {"requirement": f"{f}#health", "material": "health-commitment", "reason": "commitment", "from": None},
        {"requirement": f"{c}#license", "material": "business-license", "reason": "internal", "from": a},
        {"requirement": f"{d}#license", "material": "food-license", "reason": "internal", "from": f},
    ]
    assert document["optional"] == [{"requirement": f"{f}#layout", "any_of": ["premises-layout"]}]
    assert document["form"] == [
        {"id": "applicant.name", "label": "字段applicant.name", "type": "text", "items": [a, f, c]},
        {"id": "applicant.id_number", "label": "字段applicant.id_number", "type": "text", "items": [a]},
        {"id": "business.address", "label": "字段business.address", "type": "text", "items": [a, f, d]},
        {
            "id": "food.category",
            "label": "经营项目",
            "type": "choice",
            "items": [f],
            "choices": ["热食类", "冷食类"],
        },
        {"id": "sign.size", "label": "字段sign.size", "type": "text", "items": [c]},
        {"id": "applicant.phone", "label": "字段applicant.phone", "type": "text", "items": [d]},
    ]
    assert document["optimal"] is True
    assert msgspec.json.decode(msgspec.json.encode(document), type=Workflow) is not None


def test_an_ad_hoc_list_has_no_bundle_id_and_duplicates_count_once() -> None:
    b, (a, _, c, _) = restaurant()
    workflow = compose(b.catalog, [a, c, a], "640104")
    assert workflow.bundle is None
    assert workflow.stages == [[a], [c]]
    assert workflow.metrics.forms_before == 2


@pytest.mark.parametrize(
    ("implemented_at", "served_by"),
    [
        (["640104", "640100", "640000", "000000"], "640104"),
        (["640100", "640000", "000000"], "640100"),
        (["640000", "000000"], "640000"),
        (["000000"], "000000"),
    ],
    ids=["county", "city", "province", "national"],
)
def test_the_nearest_region_up_the_tree_serves(implemented_at: list[str], served_by: str) -> None:
    b = Builder()
    item = b.item(1, req("identity", "id-card"))
    other = b.item(2, req("identity", "id-card"))
    for region in [*implemented_at, "640105"]:  # a sibling county never serves 兴庆区
        b.implement(item, region)
    b.implement(other, "640104")
    workflow = compose(b.catalog, [item, other], "640104")
    assert workflow.steps[0].item == item
    assert workflow.steps[0].region == served_by


def test_several_at_one_region_the_smallest_code_wins() -> None:
    b = Builder()
    item = b.item(1, req("identity", "id-card"))
    later = b.implement(item, "640104", agency="MB9000000")
    earlier = b.implement(item, "640104", agency="MA0000000")
    assert earlier.code < later.code
    assert compose(b.catalog, [item], "640104").steps[0].implementation == earlier.code


def test_not_implemented_names_the_items_and_the_region() -> None:
    b = Builder()
    served = b.item(1, req("identity", "id-card"))
    elsewhere = b.item(2, req("identity", "id-card"), name="西夏区才有的事项")
    nowhere = b.item(3, req("identity", "id-card"))
    b.implement(served, "640000")
    b.implement(elsewhere, "640105")
    with pytest.raises(BundleError) as raised:
        compose(b.catalog, [served, elsewhere, nowhere], "640104")
    problem = raised.value.problem
    assert problem.error == "NOT_IMPLEMENTED"
    assert problem.items == [elsewhere, nowhere]
    assert "640104" in problem.message and "西夏区才有的事项" in problem.message


def test_a_cycle_names_its_members_only() -> None:
    b = Builder()
    x = b.item(1, req("proof", "y-out"), outputs=("x-out",))
    y = b.item(2, req("proof", "x-out"), outputs=("y-out",))
    z = b.item(3, req("identity", "id-card"), requires=(x,))
    for code in (x, y, z):
        b.implement(code)
    with pytest.raises(BundleError) as raised:
        compose(b.catalog, [z, y, x], "640104")
    assert raised.value.problem.error == "CYCLE"
    assert raised.value.problem.items == [x, y]


def test_an_explicit_requires_cycle_is_a_cycle_too() -> None:
    b = Builder()
    x = b.item(1, req("identity", "id-card"), requires=("000100002000",))
    y = b.item(2, req("identity", "id-card"), requires=(x,))
    b.implement(x)
    b.implement(y)
    with pytest.raises(BundleError) as raised:
        compose(b.catalog, [x, y], "640104")
    assert (raised.value.problem.error, raised.value.problem.items) == ("CYCLE", [x, y])


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c, i: compose(c, ["999999999999"], "640104"), "UNKNOWN_ITEM"),
        (lambda c, i: compose(c, [i], "659999"), "UNKNOWN_REGION"),
        (lambda c, i: compose_bundle(c, "no-such-bundle", "640104"), "UNKNOWN_BUNDLE"),
        (lambda c, i: compose(c, [], "640104"), "UNKNOWN_ITEM"),
    ],
)
def test_bad_input_is_named(call, error: str) -> None:  # type: ignore[no-untyped-def]
    b = Builder()
    item = b.item(1, req("identity", "id-card"))
    b.implement(item)
    with pytest.raises(BundleError) as raised:
        call(b.catalog, item)
    assert raised.value.problem.error == error


def test_waivers_in_order_of_preference() -> None:
    """internal beats e_license beats commitment, whatever order the alternatives are listed in."""
    b = Builder()
    b.material("promise", commitment=True)
    b.material("e-doc", e_license=True)
    producer = b.item(1, req("identity", "plain-id"), outputs=("cert",))
    user = b.item(
        2,
        req("all-three", "promise", "e-doc", "cert"),
        req("two", "promise", "plain", "e-doc"),
        req("one", "plain", "promise"),
        req("none", "plain"),
    )
    b.implement(producer)
    b.implement(user)
    together = compose(b.catalog, [user, producer], "640104")
    assert [(w.requirement, w.material, w.reason, w.from_) for w in together.waived] == [
        (f"{user}#all-three", "cert", "internal", producer),
        (f"{user}#two", "e-doc", "e_license", None),
        (f"{user}#one", "promise", "commitment", None),
    ]
    alone = compose(b.catalog, [user], "640104")
    assert alone.waived[0].reason == "e_license"  # without the producer in the bundle
    assert [m.id for m in alone.materials] == ["plain"]


def test_a_renewal_needing_its_own_output_makes_no_link_and_no_waiver() -> None:
    b = Builder()
    renewal = b.item(1, req("license", "food-license"), outputs=("food-license",), name="食品经营许可延续")
    other = b.item(2, req("identity", "id-card"))
    b.implement(renewal)
    b.implement(other)
    workflow = compose(b.catalog, [renewal, other], "640104")
    assert workflow.stages == [sorted([renewal, other])]
    assert workflow.waived == []
    assert [m.id for m in workflow.materials] == ["food-license", "id-card"]


def test_optional_requirements_never_count() -> None:
    b = Builder()
    item = b.item(1, req("identity", "id-card"), req("layout", "layout-plan", optional=True))
    b.implement(item)
    workflow = compose(b.catalog, [item], "640104")
    assert (workflow.metrics.materials_before, workflow.metrics.materials_after) == (1, 1)
    assert [m.id for m in workflow.materials] == ["id-card"]
    assert [(o.requirement, o.any_of) for o in workflow.optional] == [(f"{item}#layout", ["layout-plan"])]


def test_the_implementation_s_reduced_requirements_are_the_ones_that_count() -> None:
    """An implementation that drops B's need for A's output removes the link as well (只减不增)."""
    b = Builder()
    a = b.item(1, req("identity", "id-card"), outputs=("business-license",))
    c = b.item(2, req("license", "business-license"), req("premises", "lease", "property-cert"))
    b.implement(a)
    b.implement(c, materials=[req("premises", "property-cert")])
    workflow = compose(b.catalog, [a, c], "640104")
    assert workflow.stages == [[a, c]]
    assert workflow.metrics.materials_before == 2
    assert [m.id for m in workflow.materials] == ["id-card", "property-cert"]


def greedy_trap_items() -> tuple[Builder, list[str], list]:
    """The greedy trap of test_optimize spread over seven implemented items (requirements a and b)."""
    b = Builder()
    pairs = greedy_trap()
    items = [b.item(c + 1, req("a", *pairs[c]), req("b", *pairs[7 + c])) for c in range(7)]
    for item in items:
        b.implement(item)
    return b, items, pairs


def test_compose_finds_the_optimum_where_greedy_does_not() -> None:
    """The greedy trap of test_optimize spread over seven items: row-a and row-b, not wide/mid/narrow."""
    b, items, pairs = greedy_trap_items()
    workflow = compose(b.catalog, items, "640104")
    assert len(textbook_greedy(pairs)) == 3
    assert workflow.metrics.materials_after == 2
    assert [m.id for m in workflow.materials] == ["row-a", "row-b"]
    assert [len(m.for_) for m in workflow.materials] == [7, 7]


def test_a_stopped_solver_is_in_the_document() -> None:
    b = Builder()
    triples = steiner_triple_system(4)  # 117 requirements, 27 materials
    chunks = [triples[i : i + 9] for i in range(0, len(triples), 9)]
    items = [
        b.item(n + 1, *(req(f"r{j}", *t) for j, t in enumerate(chunk))) for n, chunk in enumerate(chunks)
    ]
    for item in items:
        b.implement(item)
    workflow = compose(b.catalog, items, "640104", time_limit=0.001)
    document = msgspec.json.decode(msgspec.json.encode(workflow))
    assert document["optimal"] is False
    assert 1 <= document["lower_bound"] < document["metrics"]["materials_after"]
    assert list(document)[10:12] == ["optimal", "lower_bound"]


@st.composite
def small_bundles(draw: st.DrawFn) -> tuple[Builder, list[str]]:
    """Up to 3 items, ≤ 8 requirements in all over ≤ 10 materials, some e_license or commitment."""
    b = Builder()
    materials = [f"m{i}" for i in range(10)]
    for m in materials:
        b.material(m, e_license=draw(st.integers(0, 9)) == 0, commitment=draw(st.integers(0, 9)) == 0)
    count = draw(st.integers(1, 8))
    requirements = [
        req(
            f"r{j}",
            *draw(st.lists(st.sampled_from(materials), min_size=1, max_size=5, unique=True)),
            optional=draw(st.integers(0, 5)) == 0,
        )
        for j in range(count)
    ]
    cuts = sorted(draw(st.lists(st.integers(0, count), min_size=2, max_size=2)))
    items = b.split_into_items(requirements, cuts)
    return b, items


@settings(max_examples=200, deadline=None)
@given(small_bundles())
def test_materials_after_is_the_brute_force_minimum(instance: tuple[Builder, list[str]]) -> None:
    b, items = instance
    workflow = compose(b.catalog, items, "640104")
    mats = b.catalog.materials
    left = [
        (f"{code}#{r.req}", r.any_of)
        for code in items
        for r in b.catalog.items[code].materials
        if not r.optional and not any(mats[m].e_license or mats[m].commitment for m in r.any_of)
    ]
    chosen = {m.id for m in workflow.materials}
    assert all(chosen & set(any_of) for _, any_of in left)
    assert workflow.metrics.materials_after == brute_force_minimum([a for _, a in left])
    assert workflow.metrics.materials_before == sum(
        not r.optional for code in items for r in b.catalog.items[code].materials
    )
    assert sorted(label for m in workflow.materials for label in m.for_) == sorted(
        label for label, any_of in left if chosen & set(any_of) for _ in chosen & set(any_of)
    )


def test_the_guide_and_the_summary_speak_chinese_and_escape() -> None:
    b, _ = restaurant()
    b.material("lease", "租赁合同<script>")
    workflow = compose_bundle(b.catalog, "restaurant", "640104")
    html = render_guide(workflow, b.catalog)
    assert "开办餐饮店一件事" in html and "兴庆区" in html and "一表申请" in html
    assert "租赁合同&lt;script&gt;" in html and "<script>" not in html
    assert "☐ 热食类" in html  # a choice field offers its choices
    assert "告知承诺书" in html and "健康承诺书" in html  # the commitment to sign
    assert "内部流转" in html and "电子证照库" in html
    # A citizen's page: no codes, no requirement names.
    assert not any(code in html for code in b.catalog.items) and "#" not in html.split("</style>")[1]
    assert "identity" not in html and "premises」" not in html  # requirement names stay inside
    text = summary_text(workflow, b.catalog)
    assert "需提交材料 materials to bring (2)" in text
    assert "申请材料 materials   10 → 2    份" in text
    assert "办理时限 days        17 → 15   个工作日" in text
    assert "「食品经营许可」license: 材料business-license — 内部流转 internal, 来自 from 营业执照" in text


def test_an_implementation_added_later_is_found() -> None:
    """The (item, region) index is cached per catalog, yet follows a catalog that grows."""
    b = Builder()
    item = b.item(1, req("identity", "id-card"))
    with pytest.raises(BundleError):
        compose(b.catalog, [item], "640104")
    b.implement(item, "640100")
    assert compose(b.catalog, [item], "640104").steps[0].region == "640100"


def test_composing_from_many_threads_gives_the_same_workflow() -> None:
    """The API composes from a thread pool: HiGHS instances and the index cache must not interfere."""
    b, items, _ = greedy_trap_items()
    expected = compose(b.catalog, items, "640104")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: compose(b.catalog, items, "640104"), range(32)))
    assert all(r == expected for r in results)


def test_a_requirement_listing_no_material_counts_before_but_asks_for_nothing() -> None:
    b = Builder()
    item = b.item(1, req("identity", "id-card"), req("nothing"))
    b.implement(item)
    workflow = compose(b.catalog, [item], "640104")
    assert (workflow.metrics.materials_before, workflow.metrics.materials_after) == (2, 1)
    assert [m.for_ for m in workflow.materials] == [[f"{item}#identity"]]
