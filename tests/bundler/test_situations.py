"""Step 0 of §4 (situations), the merged-form waiver, fees, deferrable materials, UNKNOWN_ANSWER,
and composing on a slice of the catalog."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bundler import BundleError, compose, compose_bundle
from catalog.model import Catalog
from catalog.validate import load_file, validate
from tests.conftest import NINGXIA

from .build import Builder, req
from .test_optimize import brute_force_minimum
from .test_workflow import restaurant


def situated() -> tuple[Builder, list[str]]:
    """P outputs a permit; Q needs it only when `kind` is `big`; R joins only when `card` is `yes`."""
    b = Builder()
    b.question("kind", "big", "small")
    b.question("card", "yes", "no")
    p = b.item(1, req("identity", "plain-id"), outputs=("permit",), name="许可")
    q = b.item(
        2,
        req("identity", "plain-id"),
        req("permit", "permit", when={"kind": ["big"]}),
        req("plan", "small-plan", when={"kind": ["small"]}),
        name="备案",
    )
    r = b.item(3, req("photo", "photo"), name="制卡")
    for code in (p, q, r):
        b.implement(code, fee=10.5 if code == p else 0.0)
    b.bundle("thing", p, q, r, when={r: {"card": ["yes"]}})
    return b, [p, q, r]


def test_no_answers_leaves_every_condition_open() -> None:
    b, (p, q, r) = situated()
    workflow = compose_bundle(b.catalog, "thing", "640104")
    assert [s.item for s in workflow.steps] == [p, q]
    assert workflow.stages == [[p, q]]  # the permit link waits on `kind`
    document = msgspec.to_builtins(workflow)
    assert document["conditional"] == [
        {"item": r, "when": {"card": ["yes"]}},
        {"requirement": f"{q}#permit", "any_of": ["permit"], "when": {"kind": ["big"]}},
        {"requirement": f"{q}#plan", "any_of": ["small-plan"], "when": {"kind": ["small"]}},
    ]
    assert [question["id"] for question in document["questions"]] == ["card", "kind"]
    assert document["questions"][0] == {
        "id": "card",
        "text": "问题card？",
        "answers": {"yes": "答yes", "no": "答no"},
    }
    assert workflow.answers == {}
    assert (workflow.metrics.materials_before, workflow.metrics.forms_before) == (2, 2)


def test_each_answer_gives_the_exact_workflow() -> None:
    b, (p, q, r) = situated()
    big = compose_bundle(b.catalog, "thing", "640104", answers={"kind": "big", "card": "yes"})
    assert big.conditional == [] and big.questions == []
    assert big.stages == [[p, r], [q]]
    assert [(w.requirement, w.reason) for w in big.waived] == [(f"{q}#permit", "internal")]
    small = compose_bundle(b.catalog, "thing", "640104", answers={"kind": "small", "card": "no"})
    assert small.stages == [[p, q]]
    assert sorted(m.id for m in small.materials) == ["plain-id", "small-plan"]
    assert r not in {s.item for s in small.steps}
    # the same as a catalog that never had the conditions
    plain = Builder()
    p2 = plain.item(1, req("identity", "plain-id"), outputs=("permit",), name="许可")
    q2 = plain.item(2, req("identity", "plain-id"), req("plan", "small-plan"), name="备案")
    plain.implement(p2, fee=10.5)
    plain.implement(q2)
    expected = compose(plain.catalog, [p2, q2], "640104")
    assert (small.metrics, small.materials, small.stages) == (
        expected.metrics,
        expected.materials,
        expected.stages,
    )


def test_a_contradicted_condition_is_out_whatever_is_still_open() -> None:
    b, (p, q, r) = situated()
    b.bundle("thing", p, q, r, when={r: {"card": ["yes"], "kind": ["big"]}})
    workflow = compose_bundle(b.catalog, "thing", "640104", answers={"card": "no"})
    assert r not in {c.item for c in workflow.conditional}
    assert [question.id for question in workflow.questions] == ["kind"]  # asked for q's requirements only


@pytest.mark.parametrize(
    ("answers", "named"),
    [({"colour": "red"}, "colour"), ({"kind": "huge"}, "huge")],
    ids=["unknown question", "unknown answer"],
)
def test_an_unknown_answer_is_an_error(answers: dict[str, str], named: str) -> None:
    b, _ = situated()
    with pytest.raises(BundleError) as raised:
        compose_bundle(b.catalog, "thing", "640104", answers=answers)
    assert raised.value.problem.error == "UNKNOWN_ANSWER"
    assert named in raised.value.problem.message


def test_fees_sum_the_steps() -> None:
    b, _ = situated()
    workflow = compose_bundle(b.catalog, "thing", "640104", answers={"card": "yes"})
    assert workflow.metrics.fees == 10.5
    assert sorted(s.fee for s in workflow.steps) == [0.0, 0.0, 10.5]
    assert msgspec.json.decode(msgspec.json.encode(workflow.metrics))["fees"] == 10.5


def test_the_merged_form_replaces_application_forms_last() -> None:
    b = Builder()
    b.material("form-a", "申请表", category="form")
    b.material("promise", commitment=True)
    item = b.item(
        1,
        req("form", "form-a"),
        req("either", "form-a", "promise"),  # a commitment is preferred to the merged form
        req("choice", "other-doc", "form-a"),
    )
    b.implement(item)
    workflow = compose(b.catalog, [item], "640104")
    assert [(w.requirement.split("#")[1], w.material, w.reason) for w in workflow.waived] == [
        ("form", "form-a", "merged_form"),
        ("either", "promise", "commitment"),
        ("choice", "form-a", "merged_form"),
    ]
    assert workflow.materials == [] and workflow.metrics.materials_before == 3


def test_a_revision_1_bundle_keeps_its_metrics() -> None:
    """Nothing of revision 2 in the catalog: the same metrics as before, every check computed."""
    b, _ = restaurant()
    workflow = compose_bundle(b.catalog, "restaurant", "640104")
    assert workflow.metrics.materials_after == 2 and workflow.metrics.fees == 0.0
    assert workflow.conditional == [] and workflow.questions == [] and workflow.answers == {}
    assert [c.check for c in workflow.checks] == [
        "ONE_VISIT", "ONE_WINDOW", "ONE_FORM", "PROOF", "TARGET_DAYS", "OFFERED",
    ]  # fmt: skip


def test_a_material_is_deferrable_when_every_requirement_it_meets_is() -> None:
    b = Builder()
    x = b.item(1, req("plan", "plan", deferrable=True), req("id", "plain-id"))
    y = b.item(2, req("plan", "plan", deferrable=True), req("id", "plain-id", deferrable=True))
    b.implement(x)
    b.implement(y)
    workflow = compose(b.catalog, [x, y], "640104")
    assert {m.id: m.deferrable for m in workflow.materials} == {"plan": True, "plain-id": False}
    assert "deferrable" not in msgspec.to_builtins(workflow.materials[1])


@st.composite
def situated_bundles(draw: st.DrawFn) -> tuple[Builder, list[str], dict[str, str]]:
    """Up to 3 items over ≤ 8 requirements, some under conditions on two questions, and some answers."""
    b = Builder()
    b.question("q1", "a", "b")
    b.question("q2", "a", "b", "c")
    materials = [f"m{i}" for i in range(8)]
    for m in materials:
        b.material(
            m,
            e_license=draw(st.integers(0, 9)) == 0,
            category="form" if draw(st.integers(0, 9)) == 0 else "other",
        )
    conditions = st.one_of(
        st.just({}),
        st.dictionaries(
            st.sampled_from(["q1", "q2"]),
            st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=2, unique=True),
            min_size=1,
        ),
    )
    count = draw(st.integers(1, 8))
    requirements = [
        req(
            f"r{j}",
            *draw(st.lists(st.sampled_from(materials), min_size=1, max_size=4, unique=True)),
            optional=draw(st.integers(0, 5)) == 0,
            when=draw(conditions),
        )
        for j in range(count)
    ]
    cuts = sorted(draw(st.lists(st.integers(0, count), min_size=2, max_size=2)))
    items = b.split_into_items(requirements, cuts)
    answers = draw(st.dictionaries(st.sampled_from(["q1", "q2"]), st.sampled_from(["a", "b", "c"])))
    answers = {q: a for q, a in answers.items() if a in b.catalog.questions[q].answers}
    return b, items, answers


def _verdict(when: dict[str, list[str]], answers: dict[str, str]) -> str:
    if any(q in answers and answers[q] not in accepted for q, accepted in when.items()):
        return "out"
    return "open" if any(q not in answers for q in when) else "applies"


@settings(max_examples=200, deadline=None)
@given(situated_bundles())
def test_each_situation_gives_the_brute_force_minimum(
    instance: tuple[Builder, list[str], dict[str, str]],
) -> None:
    b, items, answers = instance
    workflow = compose(b.catalog, items, "640104", answers=answers)
    mats = b.catalog.materials
    every = [(f"{code}#{r.req}", r) for code in items for r in b.catalog.items[code].materials]
    applying = [(label, r) for label, r in every if _verdict(r.when, answers) == "applies"]
    left = [
        (label, r.any_of)
        for label, r in applying
        if not r.optional and not any(mats[m].e_license or mats[m].category == "form" for m in r.any_of)
    ]
    chosen = {m.id for m in workflow.materials}
    assert all(chosen & set(any_of) for _, any_of in left)
    assert workflow.metrics.materials_after == brute_force_minimum([a for _, a in left])
    assert workflow.metrics.materials_before == sum(not r.optional for _, r in applying)
    assert [c.requirement for c in workflow.conditional] == [
        label for label, r in every if _verdict(r.when, answers) == "open"
    ]
    assert {q.id for q in workflow.questions} == {
        q for _, r in every if _verdict(r.when, answers) == "open" for q in r.when if q not in answers
    }


# -- the slice the API composes on -------------------------------------------------------------


def slice_of(catalog: Catalog, bundle: str, region: str) -> Catalog:
    """What the store hands the bundler: the bundle's items, their implementations along the
    region's chain, and every region, material, field and question."""
    chain = [region]
    while catalog.regions[chain[-1]].parent is not None:
        chain.append(catalog.regions[chain[-1]].parent)  # type: ignore[arg-type]
    items = catalog.bundles[bundle].items
    return msgspec.structs.replace(
        catalog,
        items={code: catalog.items[code] for code in items},
        implementations={
            code: impl
            for code, impl in catalog.implementations.items()
            if impl.item in items and impl.region in chain
        },
        bundles={bundle: catalog.bundles[bundle]},
        lines={},
    )


@pytest.mark.parametrize("region", ["640104", "640521"])
def test_a_slice_composes_as_the_whole_catalog(region: str) -> None:
    catalog, report = load_file(NINGXIA)
    assert report.ok and validate(catalog).ok
    for bundle in catalog.bundles:
        part = slice_of(catalog, bundle, region)
        try:
            whole = compose_bundle(catalog, bundle, region)
        except BundleError as exc:
            with pytest.raises(BundleError) as raised:
                compose_bundle(part, bundle, region)
            assert raised.value.problem == exc.problem
            continue
        assert compose_bundle(part, bundle, region) == whole
