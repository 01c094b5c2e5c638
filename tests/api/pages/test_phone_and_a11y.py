"""Every page at 1366 px and 390 px: no horizontal page overflow and no serious or critical axe-core
violation; a bundle composed and saved with the keyboard alone; the guide's print PDF with the
checklist on page 1. Screenshots of the guide, designer and review pages go to artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from .conftest import BROWSER_ARGS, Server, printed, signed_in  # noqa: F401 - BROWSER_ARGS documents the launch

pytestmark = pytest.mark.browser

GUIDE = "/pages/bundles/newborn/guide?region=640104"
PAGES = [
    "/",
    "/pages/login",
    "/pages/regions",
    "/pages/regions/640104",
    "/pages/items/000700104000",
    "/pages/review",
    "/pages/checks",
    "/pages/designer?bundle=newborn&region=640104",
    "/pages/bundles",
    "/pages/submissions",
    GUIDE,
    "/pages/regions/640104/service-points",  # revision 3: a region's places
    "/pages/bundles/newborn/guide?region=640521101",  # revision 3: 到哪里办 with a township's 代办
]
WIDTHS = (1366, 390)


def context(browser, site: Server, width: int, role: str | None = "admin"):
    return signed_in(browser, site, role, width=width, axe=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_and_passes_axe(site: Server, browser, width: int) -> None:
    ctx, page = context(browser, site, width)
    axe = Axe()
    problems = []
    try:
        for url in PAGES:
            page.goto(url)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                problems.append(f"{url}: {scroll} px wide")
            result = axe.run(page)
            for v in result.response["violations"]:
                if v["impact"] in ("serious", "critical"):
                    targets = [n["target"] for n in v["nodes"][:3]]
                    problems.append(f"{url}: {v['id']} ({v['impact']}) {targets}")
    finally:
        ctx.close()
    assert problems == [], "\n".join(problems)


def test_a_citizen_reads_the_guide_without_signing_in(site: Server, browser) -> None:
    ctx, page = context(browser, site, 390, role=None)
    try:
        response = page.goto(GUIDE)
        assert response is not None and response.status == 200
        assert page.locator("#checklist li").count() > 0
        assert page.locator("#guide-qr svg[role=img]").count() == 1
        assert page.locator(".topbar").count() == 0 and page.locator("main#guide").count() == 1
    finally:
        ctx.close()


def test_compose_and_save_with_the_keyboard_alone(site: Server, browser) -> None:
    ctx, page = context(browser, site, 1366, role="designer")
    try:
        page.goto("/pages/designer")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "跳到正文"

        def focus(selector: str) -> None:
            for _ in range(80):  # tab until the control has the focus
                if page.evaluate(f"document.activeElement === document.querySelector({selector!r})"):
                    return
                page.keyboard.press("Tab")
            raise AssertionError(f"{selector} is not reachable with Tab")

        focus("#region")
        page.keyboard.press("ArrowDown")  # a select moved with the keyboard submits nothing by itself
        assert page.url.endswith("/pages/designer")
        page.select_option("#region", "640104")  # the keyboard's choice, made at once
        focus("#search")
        page.keyboard.type("00200210")
        page.keyboard.press("Enter")  # the form's first button: 更新预览 (in place)
        page.locator("#results input[value='002002101000']").wait_for()
        for code in ("002002101000", "002002102000"):
            focus(f"#results input[value='{code}']")
            page.keyboard.press("Space")
        focus("#add-picked")
        page.keyboard.press("Enter")
        page.locator("#picked input[value='002002102000']").wait_for()
        focus("#bundle-id")
        page.keyboard.type("keyboard-pair")
        page.keyboard.press("Tab")
        page.keyboard.type("键盘设计的一件事")
        focus("#save")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "已保存" in page.locator("#saved").inner_text()
    finally:
        ctx.close()
    store = site.store()
    try:
        saved = store.bundle("keyboard-pair")
        assert saved is not None and saved.bundle.items == ["002002101000", "002002102000"]
    finally:
        store.dispose()


def test_the_guide_prints_with_the_checklist_on_page_one(site: Server, browser, artifacts: Path) -> None:
    ctx, page = context(browser, site, 1366, role=None)
    try:
        page.goto(GUIDE)
        page.screenshot(path=str(artifacts / "guide-desktop.png"), full_page=True)
        pages = printed(page, artifacts, "guide")
    finally:
        ctx.close()
    first = pages[0]
    assert "需要带的材料" in first and "住院分娩记录" in first
    assert "第 1 " in first and "共 " in first and "打印日期" in first  # the page margin boxes
    assert not any(code in "".join(pages) for code in site.catalog.items)


@pytest.mark.parametrize("width", WIDTHS)
def test_screenshots(site: Server, browser, artifacts: Path, width: int) -> None:
    ctx, page = context(browser, site, width)
    name = "desktop" if width > 700 else "phone"
    try:
        for url, shot in (
            (GUIDE, "guide"),
            ("/pages/designer?bundle=newborn&region=640104", "designer"),
            ("/pages/review", "review"),
        ):
            response = page.goto(url)
            assert response is not None and response.status == 200, url
            # What the screenshot shows is the page, not an error or a page wider than the screen.
            assert page.locator("h1").count() >= 1, url
            assert page.evaluate("document.documentElement.scrollWidth") <= width, url
            path = artifacts / f"{shot}-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    finally:
        ctx.close()
