"""Every request the pages' script makes that fails says so, in Chinese, in an alert region: a server
error, no network, an expired sign-in. The designer's in-place preview is that request; it must
never say "预览已更新" when nothing was updated. At 1366 and 390 px, with axe on the error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from .conftest import Server, signed_in

pytestmark = pytest.mark.browser

DESIGNER = "/pages/designer?bundle=newborn&region=640104"
PREVIEW = re.compile(r"/pages/designer\?")


def designer(browser, site: Server, width: int):
    ctx, page = signed_in(browser, site, "designer", width=width, axe=True)
    page.goto(DESIGNER)
    return ctx, page


def serious(page) -> list[str]:
    found = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']})" for v in found if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("width", [1366, 390])
def test_a_failed_preview_says_so(site: Server, browser, artifacts: Path, width: int) -> None:
    ctx, page = designer(browser, site, width)
    try:
        alert = page.locator("#designer-form [role=alert][data-fetch-error]")
        status = page.locator("#preview-status")
        expect(alert).to_be_hidden()
        steps = page.locator("#steps tbody tr").count()
        assert steps > 0

        # The server answers 500.
        page.route(PREVIEW, lambda route: route.fulfill(status=500, body="Internal Server Error"))
        page.click("#refresh")
        expect(alert).to_be_visible()
        expect(alert).to_contain_text("预览更新失败：服务器出错（500）")
        expect(status).to_have_text("预览未更新")
        assert page.locator("#steps tbody tr").count() == steps  # the old preview stays
        assert serious(page) == []
        name = "desktop" if width > 700 else "phone"
        page.screenshot(path=str(artifacts / f"designer-preview-error-{name}.png"), full_page=False)
        page.unroute(PREVIEW)

        # No network at all.
        page.route(PREVIEW, lambda route: route.abort("internetdisconnected"))
        page.click("#refresh")
        expect(alert).to_contain_text("无法连接服务器")
        expect(status).to_have_text("预览未更新")
        page.unroute(PREVIEW)

        # Working again: the error goes, the preview updates.
        page.click("#refresh")
        expect(status).to_have_text("预览已更新")
        expect(alert).to_be_hidden()

        # Signed out meanwhile: the page does not swap in the login form and call it a preview.
        ctx.clear_cookies()
        page.click("#refresh")
        expect(alert).to_contain_text("登录已失效")
        expect(status).to_have_text("预览未更新")
        assert page.locator("#steps tbody tr").count() == steps
    finally:
        ctx.close()


def test_a_page_error_is_told_in_its_own_words(site: Server, browser) -> None:
    """A 4xx answered by one of our error pages: the alert quotes the page's own Chinese words."""
    ctx, page = designer(browser, site, 1366)
    try:
        page.route(PREVIEW, lambda route: route.continue_(url=site.url + "/pages/versions/1/diff/99"))
        page.click("#refresh")
        alert = page.locator("#preview-error[role=alert]")
        expect(alert).to_contain_text("预览更新失败：")
        text = alert.inner_text()
        assert re.search(r"[\u4e00-\u9fff]", text) and "Not Found" not in text and "version" not in text
    finally:
        ctx.close()
