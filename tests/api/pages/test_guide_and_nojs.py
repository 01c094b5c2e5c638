"""The citizen's guide (printable), the landing page, signing in, and every page with JavaScript off."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler import compose, compose_bundle

from .conftest import Server, without_toolbar

pytestmark = pytest.mark.browser


def test_guide_is_the_bundlers_notice_and_prints_without_the_toolbar(
    site: Server, open_page, artifacts: Path
) -> None:
    page = open_page(site, "portal")
    page.goto("/")
    page.click("#job-guide")
    page.wait_for_url("**/pages/bundles")
    rows = page.locator("#bundles li[data-bundle]")
    with site.api("portal") as api:
        stored = [b["id"] for b in api.get("/bundles").json()["bundles"]]  # the designer tests add some
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.bundle)")) == sorted(stored)
    assert set(site.catalog.bundles) <= set(stored)
    # One region choice for the whole list; then each name leads to its guide there.
    page.select_option("#bundles-region select[name=region]", "640104")
    with page.expect_navigation():
        page.click("#bundles-region button[type=submit]")
    page.locator("#bundles li[data-bundle='newborn'] a").click()
    page.wait_for_url("**/pages/bundles/newborn/guide?region=640104")
    workflow = compose_bundle(site.catalog, "newborn", "640104")
    assert site.catalog.bundles["newborn"].name in page.locator("h1").inner_text()
    assert page.locator("#guide-toolbar").is_visible()
    text = page.locator("body").inner_text()
    for material in workflow.materials:
        assert material.name in text
    page.screenshot(path=str(artifacts / "page-guide.png"), full_page=True)

    # Apart from the toolbar, the page is exactly what GET /bundles/{id}/guide serves.
    mine = page.request.get("/pages/bundles/newborn/guide?region=640104").text()
    with site.api("portal") as api:
        theirs = api.get("/bundles/newborn/guide", params={"region": "640104"}).text
    assert without_toolbar(mine) == theirs

    page.emulate_media(media="print")
    assert not page.locator("#guide-toolbar").is_visible()
    assert page.locator("h1").is_visible()


def test_guide_for_a_region_that_cannot_compose_says_why(site: Server, open_page) -> None:
    from bundler import BundleError

    # 枸杞地理标志 is a 中宁县 bundle: from 兴庆区 the bundler cannot resolve every item.
    with pytest.raises(BundleError):
        compose_bundle(site.catalog, "goji-geo-mark", "640104")
    page = open_page(site, "portal")
    answer = page.goto("/pages/bundles/goji-geo-mark/guide?region=640104")
    assert answer is not None and answer.status == 422
    assert page.locator("#problem").get_attribute("data-error") == "NOT_AVAILABLE"
    assert "可办理地区：中宁县" in page.locator("#problem").inner_text()
    # The picker offers only where it can be handled; choosing it shows the guide.
    offered = page.locator("select[name=region] option[value]:not([value=''])")
    codes = offered.evaluate_all("os => os.map(o => o.value)")
    assert codes[0] == "640521" and all(c[:6] == "640521" for c in codes)  # the county and its townships
    page.select_option("select[name=region]", "640521")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert page.locator("#guide-toolbar").is_visible()


def test_every_page_reads_without_javascript(site: Server, open_page, artifacts: Path) -> None:
    page = open_page(site, "admin", javascript=False)  # signing in is a plain form post
    assert "管理员" in page.locator(".topbar .who").inner_text()
    page.goto("/pages/regions")
    page.locator("#region-tree li[data-region='640104'] > .node a").click()
    page.wait_for_url("**/pages/regions/640104")
    page.fill("input[name=q]", "出生")
    page.press("input[name=q]", "Enter")  # the browser submits the form itself
    page.wait_for_url("**q=*")
    names = page.locator("#effective-items tbody tr[data-item] td:first-child").all_inner_texts()
    assert names and "出生" in names[0]  # named ones first, then those needing 出生医学证明
    page.locator("#effective-items tbody tr[data-item] a").first.click()
    page.wait_for_url("**/pages/items/*")
    assert page.locator("#four-same").is_visible() and page.locator("#compare").is_visible()

    # The designer: select, tick, press the button — the server renders the workflow.
    page.goto("/pages/designer")
    page.select_option("#region", "640104")
    page.fill("#search", "00200210")
    page.click("#refresh")
    page.wait_for_url("**edited=1*")
    for code in ("002002101000", "002002102000"):
        page.locator(f"#results input[value='{code}']").check()
    page.click("#refresh")
    page.wait_for_url("**items=*")
    workflow = compose(site.catalog, ["002002101000", "002002102000"], "640104")
    after = page.locator("#metrics .metric[data-metric=materials]").get_attribute("data-after")
    assert after == str(workflow.metrics.materials_after)
    assert page.locator("#graph .graph-wide svg g.node").count() == 2
    page.screenshot(path=str(artifacts / "page-designer-nojs.png"), full_page=True)

    # The review filters are a GET form.
    page.goto("/pages/review")
    page.select_option("select[name=severity]", "warning")
    page.click("#review-filters button[type=submit]")
    page.wait_for_url("**severity=warning*")
    # the fixture has no error; its warnings are revision 3's PROOF_DEMANDED (fixtures/SOURCES.md)
    rules = page.locator("#findings-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.rule)")
    assert rules and set(rules) == {"PROOF_DEMANDED"}

    page.goto("/pages/bundles/newborn/guide?region=640104")
    assert page.locator("h1").is_visible()
    page.goto("/")
    # an admin's entries: the catalog's four, 一窗受理, 部门办件 and 差评整改
    assert page.locator(".jobs a.job").count() == 7


def test_signing_in_and_out(site: Server, open_page) -> None:
    page = open_page(site, None)
    page.goto("/pages/stats")  # a staff page (the published catalog pages are public)
    assert "/pages/login?next=" in page.url
    page.fill("input[name=token]", "not-a-token")
    page.click("#login-form button[type=submit]")
    assert "令牌无效" in page.locator("[role=alert]").inner_text()
    page.fill("input[name=token]", site.tokens["portal"])
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/pages/stats")  # back where the visitor was going
    cookie = next(c for c in page.context.cookies() if c["name"] == "onething_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.click(".topbar .who button")
    page.wait_for_url(site.url + "/")
    page.goto("/pages/stats")
    assert "/pages/login" in page.url
