"""§7.1's refusals against workflows the bundler computes over the Ningxia catalog."""

from __future__ import annotations

import msgspec
import pytest

from bundler import BundleError, compose
from casework import HandIn, Refused, check, refused_bundling
from casework.handin import check_answers
from catalog.validate import load_file
from tests.api.case_helpers import NEWBORN, newborn
from tests.conftest import NINGXIA


@pytest.fixture(scope="module")
def catalog():
    catalog, _ = load_file(NINGXIA)
    return catalog


def run(catalog, body):
    hand_in = msgspec.convert(body, HandIn)
    check_answers(catalog, hand_in.answers)
    items = catalog.bundles[hand_in.bundle].items
    try:
        workflow = compose(catalog, items, hand_in.region, hand_in.bundle, answers=hand_in.answers)
    except BundleError as exc:
        raise refused_bundling(exc) from None
    return check(hand_in, workflow, catalog)


def refusal(catalog, body) -> Refused:
    with pytest.raises(Refused) as caught:
        run(catalog, body)
    return caught.value


def test_a_complete_hand_in_plans_one_task_per_step(catalog):
    plan = run(catalog, NEWBORN)
    assert len(plan.tasks) == 9
    assert plan.days == 5
    assert plan.form["applicant.name"] == "张三"  # filled from the applicant
    first = plan.tasks[0]
    assert first.stage == 0 and first.after == [] and first.agency == "11640104036401041P"
    assert plan.tasks[-1].after  # the last stage waits


def test_unanswered(catalog):
    err = refusal(catalog, newborn(answers={}))
    assert err.code == "UNANSWERED"
    assert [f.question for f in err.errors] == ["wants-social-card"]
    assert "是否同时为新生儿申领社会保障卡" in err.errors[0].reason


def test_form_names_each_field_and_why(catalog):
    body = newborn()
    body["form"]["mother.id_number"] = body["form"]["mother.id_number"][:17] + "0"
    body["form"]["child.birth_date"] = "2026/11/30"
    body["form"]["child.sex"] = "未知"
    del body["form"]["child.name"]
    body["applicant"]["phone"] = "12345"
    body["form"]["bogus.field"] = "x"
    err = refusal(catalog, body)
    assert err.code == "FORM"
    by_field = {f.field: f.reason for f in err.errors}
    assert "校验码" in by_field["mother.id_number"]
    assert "YYYY-MM-DD" in by_field["child.birth_date"]
    assert "男、女" in by_field["child.sex"]
    assert "未填写" in by_field["child.name"]
    assert "手机" in by_field["applicant.phone"]
    assert "bogus.field" in by_field


def test_materials_missing_or_deferred_where_not_deferrable(catalog):
    body = newborn(materials={"delivery-record": "handed", "medical-invoice": "deferred"})
    err = refusal(catalog, body)
    assert err.code == "MATERIALS"
    got = {f.material: f for f in err.errors}
    assert set(got) == {"medical-invoice", "bank-card"}
    assert "不可容缺" in got["medical-invoice"].reason
    assert "未提交" in got["bank-card"].reason
    assert got["bank-card"].requirement == "000500108000#account"


def test_consent_for_the_e_license_library(catalog):
    err = refusal(catalog, newborn(consent=False))
    assert err.code == "CONSENT"
    assert {f.material for f in err.errors} == {"id-card", "household-register"}


def test_not_offered_outside_the_bundles_regions(catalog):
    # 道路货物运输一件事 is offered in 海原县 only; 兴庆区 implements its items but is outside
    err = refusal(catalog, newborn(bundle="freight-transport", answers={}))
    assert err.code == "NOT_OFFERED"
    assert err.errors[0].field == "region" and "海原县" in err.errors[0].reason


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"region": "999999"}, "UNKNOWN_REGION"),
        ({"answers": {"wants-social-card": "maybe"}}, "UNKNOWN_ANSWER"),
    ],
)
def test_bundling_codes(catalog, change, code):
    err = refusal(catalog, newborn(**change))
    assert err.code == code
    assert err.errors
    if code == "UNKNOWN_ANSWER":
        assert err.errors[0].question == "wants-social-card"


def test_a_cycle_is_refused_with_its_members():
    err = refused_bundling(BundleError("CYCLE", "事项互为前提：甲、乙。", ["a", "b"]))
    assert err.code == "CYCLE" and err.items == ["a", "b"]
    assert err.errors[0].field == "items" and "互为前提" in err.errors[0].reason
