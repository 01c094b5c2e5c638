"""The front door and search in Chromium at 1366 and 390 px, signed out (and at 390 px with
JavaScript off): the region asked once and remembered, the one-things listed by life event, search with the
words people use; nothing overflows and axe-core finds nothing serious or critical.
Screenshots go to artifacts/frontdoor-*.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Server, fit_and_axe, signed_in

pytestmark = pytest.mark.browser

WIDTHS = (1366, 390)
REGION = "640104"  # 兴庆区


def anonymous(browser, site: Server, width: int, *, javascript: bool = True):
    return signed_in(browser, site, None, width=width, axe=True, javascript=javascript)


@pytest.mark.parametrize("width", WIDTHS)
def test_front_door_and_search_for_a_citizen(site: Server, browser, width: int, artifacts: Path) -> None:
    ctx, page = anonymous(browser, site, width)
    problems: list[str] = []
    try:
        page.goto("/")
        assert page.locator("#one-things").count() == 0
        problems += fit_and_axe(page, "/ (no region)", width)
        page.select_option("#region-picker select[name=region]", REGION)
        with page.expect_navigation():
            page.click("#region-picker button[type=submit]")
        assert page.url.endswith(f"/?region={REGION}")
        audiences = page.locator("#one-things [data-audience]")
        assert audiences.evaluate_all("els => els.map(e => e.dataset.audience)") == ["个人", "企业"]
        newborn = page.locator("#one-things li[data-bundle='newborn'] a")
        assert newborn.inner_text() == site.catalog.bundles["newborn"].name
        # 中宁县's goji bundle is not offered in 兴庆区.
        assert page.locator("#one-things li[data-bundle='goji-geo-mark']").count() == 0
        problems += fit_and_axe(page, "/?region", width)
        page.screenshot(path=str(artifacts / f"frontdoor-{width}.png"), full_page=True)

        page.goto("/")  # remembered
        assert page.locator("#one-things li[data-bundle='newborn']").count() == 1
        assert page.locator("#region-picker select[name=region]").input_value() == REGION

        page.fill("#search-form input[name=q]", "出生证")
        with page.expect_navigation():
            page.press("#search-form input[name=q]", "Enter")
        results = page.locator("#search-results li")
        found = results.evaluate_all("ls => ls.map(l => l.dataset.key)")
        assert "newborn" in found and "002002102000" in found  # 出生医学证明签发
        text = page.locator("main").inner_text()
        assert "兴庆区" in text and "002002102000" not in text and "newborn" not in text
        problems += fit_and_axe(page, "/pages/search?q=出生证", width)
        page.screenshot(path=str(artifacts / f"frontdoor-search-{width}.png"), full_page=True)

        page.locator("#search-results li[data-key='newborn'] a").click()
        page.wait_for_url(f"**/pages/bundles/newborn/guide?region={REGION}")

        for url in (
            "/pages/search?q=上户口",
            "/pages/bundles",
            "/pages/regions?q=xqq",
            "/pages/regions/640104?q=hkdj",
        ):
            response = page.goto(url)
            assert response is not None and response.status == 200, url
            problems += fit_and_axe(page, url, width)
        page.goto("/pages/bundles")
        assert page.locator("main select").count() == 1
        page.screenshot(path=str(artifacts / f"frontdoor-bundles-{width}.png"), full_page=True)
    finally:
        ctx.close()
    assert problems == [], "\n".join(problems)


def test_anonymous_nav_has_no_staff_pages(site: Server, browser) -> None:
    ctx, page = anonymous(browser, site, 1366)
    try:
        page.goto("/")
        hrefs = page.locator(".topbar nav a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
        assert hrefs == ["/pages/bundles", "/pages/search", "/pages/regions"]
        assert page.locator(".jobs").count() == 0
        response = page.goto("/pages/review")
        assert response is not None and "/pages/login" in page.url
    finally:
        ctx.close()


def test_region_and_search_without_javascript(site: Server, browser) -> None:
    ctx, page = anonymous(browser, site, 390, javascript=False)
    try:
        page.goto("/")
        page.select_option("#region-picker select[name=region]", REGION)
        with page.expect_navigation():
            page.click("#region-picker button[type=submit]")
        assert page.locator("#one-things li[data-bundle='newborn']").count() == 1
        page.goto("/pages/bundles")  # the choice is remembered by the other pages too
        assert page.locator("#bundles-region select[name=region]").input_value() == REGION
        page.fill("#bundles-search input[name=q]", "上户口")
        with page.expect_navigation():
            page.click("#bundles-search button[type=submit]")
        found = page.locator("#bundles li[data-bundle]").evaluate_all("ls => ls.map(l => l.dataset.bundle)")
        # Of the fixture's bundles (the designer's tests add their own to this shared site).
        assert [b for b in found if b in site.catalog.bundles] == ["newborn"]
    finally:
        ctx.close()
