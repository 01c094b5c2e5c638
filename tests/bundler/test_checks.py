"""The bundle checks of §4.1, each passing and failing, and the reviewers' report over regions."""

from __future__ import annotations

import msgspec
import pytest

import bundler
import bundler.report
from bundler import Check, bundle_checks, compose, compose_bundle
from bundler.checks import Case, one_form

from .build import Builder, req


def two_items(**terms: object) -> tuple[Builder, str, str]:
    b = Builder()
    x = b.item(1, req("id", "plain-id"), name="甲事项")
    y = b.item(2, req("id", "plain-id"), name="乙事项")
    b.implement(x)
    b.implement(y)
    b.bundle("pair", x, y, **terms)
    return b, x, y


def check_of(workflow, name: str) -> Check:  # type: ignore[no-untyped-def]
    return next(c for c in workflow.checks if c.check == name)


@pytest.mark.parametrize(("visits", "passed"), [(1, True), (2, False)])
def test_one_visit(visits: int, passed: bool) -> None:
    b, x, _y = two_items()
    b.implement(x, "640104", visits=visits, agency="MA0000000")  # the smaller code serves
    result = check_of(compose_bundle(b.catalog, "pair", "640104"), "ONE_VISIT")
    assert result.passed is passed
    if not passed:
        assert "甲事项（2 次）" in result.message and x not in result.message


def test_one_window() -> None:
    b, x, y = two_items()
    assert check_of(compose_bundle(b.catalog, "pair", "640104"), "ONE_WINDOW").passed  # one hall
    b.implement(y, "640104", window="社保中心窗口", agency="MA0000000")
    failed = check_of(compose_bundle(b.catalog, "pair", "640104"), "ONE_WINDOW")
    assert not failed.passed and "2 个窗口" in failed.message and "社保中心窗口" in failed.message
    b.bundle("pair", x, y, window="一件事综合窗口")
    assert check_of(compose_bundle(b.catalog, "pair", "640104"), "ONE_WINDOW").passed
    b.implement(x, "640104", window="", agency="MA0000001")  # an empty window is no other window
    b.bundle("pair", x, y)
    assert check_of(compose_bundle(b.catalog, "pair", "640104"), "ONE_WINDOW").passed


def test_one_form() -> None:
    """The merged form waives every requirement a form meets, so only a hand-made case fails."""
    b, x, _y = two_items()
    b.material("form-a", "营业执照申请表", category="form")
    workflow = compose_bundle(b.catalog, "pair", "640104")
    assert check_of(workflow, "ONE_FORM").passed
    case = Case(
        bundle=None,
        chain=["640104"],
        regions=b.catalog.regions,
        steps=workflow.steps,
        materials=[bundler.MaterialToBring("form-a", "营业执照申请表", [f"{x}#form"])],
        dictionary=b.catalog.materials,
        metrics=workflow.metrics,
    )
    failed = one_form(case)
    assert not failed.passed and "营业执照申请表" in failed.message


@pytest.mark.parametrize(("retained", "passed"), [(True, True), (False, False)])
def test_proof(retained: bool, passed: bool) -> None:
    b = Builder()
    b.material("income-proof", "收入证明", category="certificate", retained=retained)
    x = b.item(1, req("income", "income-proof"))
    b.implement(x)
    result = check_of(compose(b.catalog, [x], "640104"), "PROOF")
    assert result.passed is passed
    assert ("收入证明" in result.message) is not passed


@pytest.mark.parametrize(("target", "passed"), [(None, True), (5, True), (4, False)])
def test_target_days(target: int | None, passed: bool) -> None:
    b, _x, _y = two_items(target_days=target)  # each promises 5 days, in parallel
    result = check_of(compose_bundle(b.catalog, "pair", "640104"), "TARGET_DAYS")
    assert result.passed is passed


@pytest.mark.parametrize(
    ("regions", "passed"),
    [(None, True), (["640100"], True), (["640104", "640200"], True), (["640200"], False)],
)
def test_offered(regions: list[str] | None, passed: bool) -> None:
    b, _x, _y = two_items(regions=regions)
    result = check_of(compose_bundle(b.catalog, "pair", "640104"), "OFFERED")
    assert result.passed is passed
    if not passed:
        assert "石嘴山市" in result.message and "640200" not in result.message


def test_failed_checks_never_stop_the_workflow() -> None:
    b, _x, _y = two_items(regions=["640200"], target_days=1)
    workflow = compose_bundle(b.catalog, "pair", "640104")
    assert [c.check for c in workflow.checks if not c.passed] == ["TARGET_DAYS", "OFFERED"]
    assert msgspec.to_builtins(workflow.checks[-1])["check"] == "OFFERED"


def test_the_report_composes_each_distinct_case_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """兴庆区 and 西夏区 resolve to the same city implementations: one case. 大武口区 has none."""
    b = Builder()
    x = b.item(1, req("id", "plain-id"), name="甲事项")
    y = b.item(2, req("id", "plain-id"), name="乙事项")
    b.implement(x, "640100", visits=2)
    b.implement(y, "640100")
    b.bundle("pair", x, y, regions=["640100"])
    calls: list[str] = []
    real = bundler.report.compose_bundle

    def counting(catalog, bundle_id, region, **kw):  # type: ignore[no-untyped-def]
        calls.append(region)
        return real(catalog, bundle_id, region, **kw)

    monkeypatch.setattr(bundler.report, "compose_bundle", counting)
    rows = bundle_checks(b.catalog, "pair", ["640104", "640105", "640202", "659999"])
    assert calls == ["640104", "640202"]
    assert [(r.region, [c.check for c in r.failed]) for r in rows[:2]] == [
        ("640104", ["ONE_VISIT"]),
        ("640105", ["ONE_VISIT"]),
    ]
    assert rows[2].error is not None and rows[2].error.error == "NOT_IMPLEMENTED"
    assert rows[3].error is not None and rows[3].error.error == "UNKNOWN_REGION"
    assert msgspec.to_builtins(rows[0]) == {
        "region": "640104",
        "failed": [msgspec.to_builtins(rows[0].failed[0])],
    }
