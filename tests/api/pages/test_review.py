"""The review page in a real browser, over a catalog with defects: filters narrow, links lead to the
record, the conformity chart shows the region that broke 四同."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.pages.review import PAGE_SIZE
from catalog.validate import validate

from .conftest import ORPHAN_CODE, RENAMED_ITEM, RENAMED_REGION, SLOW_REGION, Server

pytestmark = pytest.mark.browser


def shown(page) -> list[tuple[str, str, str]]:
    return [
        tuple(row)
        for row in page.locator("#findings-table tbody tr").evaluate_all(
            "rs => rs.map(r => [r.dataset.rule, r.dataset.severity, r.dataset.region])"
        )
    ]


def test_review_filters_narrow_the_findings(defective_site: Server, open_page, artifacts: Path) -> None:
    report = validate(defective_site.catalog)
    rules = {f.rule for f in report.findings}
    assert {"FOUR_SAME_NAME", "TIME_LIMIT", "ORPHAN_ITEM"} <= rules
    page = open_page(defective_site, "reviewer")
    page.goto("/")
    page.click("#job-review")
    page.wait_for_url("**/pages/review")
    # the first page of them (revision 3's PROOF_DEMANDED warnings make the fixture's list longer)
    assert len(shown(page)) == min(len(report.findings), PAGE_SIZE)
    assert page.locator("#finding-count b").inner_text() == str(len(report.findings))

    # The conformity chart: one bar per region with implementations; only 兴庆区 falls short.
    bars = dict(
        page.locator("#conformity-chart svg g.bar").evaluate_all(
            "gs => gs.map(g => [g.dataset.label, +g.dataset.value])"
        )
    )
    names = {c.region: defective_site.catalog.regions[c.region].name for c in report.conformity}
    assert set(bars) == set(names.values())
    short = {label for label, value in bars.items() if value < 1}
    assert short == {names[RENAMED_REGION]}
    page.screenshot(path=str(artifacts / "page-review.png"), full_page=True)

    # Rule: only FOUR_SAME_NAME (the select submits itself).
    page.select_option("select[name=rule]", "FOUR_SAME_NAME")  # no submit on a keystroke: a button
    with page.expect_navigation():
        page.click("#review-filters button[type=submit]")
    assert shown(page) == [("FOUR_SAME_NAME", "error", RENAMED_REGION)]
    assert "rule=FOUR_SAME_NAME" in page.url

    # Rule and region: 石嘴山市 holds no renamed implementation.
    page.select_option("select[name=region]", "640200")
    with page.expect_navigation():
        page.click("#review-filters button[type=submit]")
    assert shown(page) == []
    assert page.locator("#no-findings").is_visible()

    # Severity: the warnings are the orphan item and revision 3's PROOF_DEMANDED (the fixture's
    # proofs off the retained list); with the rule, the orphan item alone.
    page.goto("/pages/review?severity=warning")
    assert {r[0] for r in shown(page)} == {"ORPHAN_ITEM", "PROOF_DEMANDED"}
    page.goto("/pages/review?severity=warning&rule=ORPHAN_ITEM")
    assert [r[0] for r in shown(page)] == ["ORPHAN_ITEM"]
    assert page.locator("#findings-table a.record").get_attribute("href") == f"/pages/items/{ORPHAN_CODE}"

    # Region, with its subtree: 中卫市 (6405xx) holds the TIME_LIMIT defect only (among the errors;
    # its warnings are PROOF_DEMANDED).
    page.goto("/pages/review?region=640500&severity=error")
    assert [r[0] for r in shown(page)] == ["TIME_LIMIT"]
    assert shown(page)[0][2] == SLOW_REGION
    page.screenshot(path=str(artifacts / "page-review-filtered.png"), full_page=True)

    # Each finding links to its record.
    page.goto("/pages/review?rule=FOUR_SAME_NAME")
    page.locator("#findings-table a.record").click()
    page.wait_for_url("**/pages/implementations/*")
    assert "FOUR_SAME_NAME" in page.locator("#impl-findings").inner_text()
    page.locator("a:has-text('与各地实施清单对照')").click()
    page.wait_for_url(f"**/pages/items/{RENAMED_ITEM}*")
    assert page.locator("#compare td.dev[data-row=name]").count() == 1


def test_review_needs_a_reviewer(defective_site: Server, open_page) -> None:
    anonymous = open_page(defective_site, None)
    anonymous.goto("/pages/review")
    assert "/pages/login?next=" in anonymous.url
    portal = open_page(defective_site, "portal")
    answer = portal.goto("/pages/review")
    assert answer is not None and answer.status == 403
    assert "没有权限" in portal.locator("h1").inner_text()
