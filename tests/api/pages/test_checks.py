"""The bundle checks page in a real browser: the matrix is the `GET /checks` report, the check
filter works without JavaScript, failed cells lead to the guide, the phone layout lists each
bundle's failing regions without horizontal scrolling; and the guide's situation form."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Server, without_toolbar

pytestmark = pytest.mark.browser


def cells(page) -> dict[tuple[str, str], list[str]]:
    """(bundle, region) → the failed checks a cell shows (["ERROR"] for 无法办理), for offered cells."""
    found = page.locator("#checks-matrix tbody td.offered").evaluate_all(
        """tds => tds.map(td => [td.dataset.bundle, td.parentElement.dataset.region,
              td.querySelector('a.bad') ? ['ERROR']
              : [...td.querySelectorAll('[data-check]')].map(p => p.dataset.check)])"""
    )
    return {(b, r): checks for b, r, checks in found}


def expected(server: Server, **params) -> dict[tuple[str, str], list[str]]:
    """The API's report, its counties only: the page counts a county as a place a bundle is
    offered, never the province or a city node (no county could fix their cells)."""
    with server.api("reviewer") as api:
        report = api.get("/checks", params=params).json()
    assert report["total"] <= report["limit"]
    regions = server.catalog.regions
    return {
        (row["bundle"], row["region"]): ["ERROR"] if row["error"] else [c["check"] for c in row["failed"]]
        for row in report["rows"]
        if regions[row["region"]].level == "county"
    }


def test_checks_matrix_filters_and_phone_layout(site: Server, open_page, artifacts: Path) -> None:
    page = open_page(site, "reviewer", javascript=False)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/")
    page.click(".topbar nav a[href='/pages/checks']")
    page.wait_for_url("**/pages/checks")
    assert cells(page) == expected(site)
    assert cells(page)["newborn", "640104"] == ["ONE_WINDOW", "PROOF"]
    assert not any(site.catalog.regions[r].level != "county" for _, r in cells(page))
    assert page.locator("#checks-matrix").is_visible() and not page.locator("#checks-list").is_visible()
    summary = page.locator("#checks-summary tr[data-bundle='goji-geo-mark']").inner_text()
    assert "一窗受理" in summary and "不索要清单外证明" in summary
    page.screenshot(path=str(artifacts / "page-checks.png"), full_page=True)

    # Filter by check, JavaScript off: the form's button submits it.
    page.select_option("select[name=check]", "TARGET_DAYS")
    with page.expect_navigation():
        page.click("#checks-filters button[type=submit]")
    assert "check=TARGET_DAYS" in page.url
    failing = {k: v for k, v in expected(site, check="TARGET_DAYS").items()}
    assert failing and {b for b, _ in failing} == {"property-transfer"}
    shown = cells(page)
    assert {k for k, v in shown.items() if "TARGET_DAYS" in v} == set(failing)
    assert page.locator("#checks-matrix thead th[data-bundle]").count() == 1
    assert "超出承诺时限" in page.locator("#checks-matrix").inner_text()

    # A failed cell leads to that bundle's guide for that region.
    page.click("#checks-matrix tr[data-region='640202'] td[data-bundle='property-transfer'] a")
    page.wait_for_url("**/pages/bundles/property-transfer/guide?region=640202")
    assert "二手房" in page.locator("h1").inner_text()

    # Nothing fails ONE_VISIT in the fixture: the page says so.
    page.goto("/pages/checks?check=ONE_VISIT")
    assert expected(site, check="ONE_VISIT") == {}
    assert page.locator("#no-failures").is_visible()

    # A phone: each bundle with its failing regions, no horizontal scrolling.
    page.goto("/pages/checks")
    page.set_viewport_size({"width": 390, "height": 844})
    assert not page.locator("#checks-matrix").is_visible()
    assert page.locator("#checks-list").is_visible()
    newborn = page.locator("#checks-list section[data-bundle='newborn']")
    regions = newborn.locator("li").evaluate_all("lis => lis.map(li => li.dataset.region)")
    assert "640104" in regions and len(regions) == len([k for k in expected(site) if k[0] == "newborn"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "page-checks-phone.png"), full_page=True)


def test_checks_page_is_for_reviewers(site: Server, open_page) -> None:
    page = open_page(site, "portal")
    page.goto("/")
    assert page.locator(".topbar nav a[href='/pages/checks']").count() == 0
    response = page.goto("/pages/checks")
    assert response is not None and response.status == 403


def test_guide_asks_the_open_questions_without_javascript(site: Server, open_page) -> None:
    page = open_page(site, "portal", javascript=False)
    page.goto("/pages/bundles/newborn/guide?region=640104")
    card = site.catalog.items["002002106000"].name  # 社会保障卡申领: only when one is wanted
    assert card not in page.locator("#steps").inner_text()  # asked about, not yet a step
    assert card in page.locator("#situations").inner_text()
    form = page.locator("#situation-form")
    assert form.locator("label[data-question='wants-social-card']").is_visible()
    form.locator("label[data-question='wants-social-card'] select").select_option("wants-social-card:yes")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "answer=wants-social-card%3Ayes" in page.url
    assert card in page.locator("#steps").inner_text()
    form = page.locator("#situation-form")
    assert form.locator("label[data-question='wants-social-card']").count() == 0
    assert form.locator(".answered[data-question='wants-social-card']").is_visible()
    with site.api("portal") as api:
        theirs = api.get(
            "/bundles/newborn/guide", params={"region": "640104", "answer": "wants-social-card:yes"}
        ).text
    # Apart from the toolbar, the page is what GET /bundles/{id}/guide serves for those answers.
    assert without_toolbar(page.request.get(page.url).text()) == theirs
    # An unknown answer is a page saying so, not an error dump.
    response = page.goto("/pages/bundles/newborn/guide?region=640104&answer=wants-social-card:maybe")
    assert response is not None and response.status == 422
    assert page.locator("#problem").get_attribute("data-error") == "UNKNOWN_ANSWER"
