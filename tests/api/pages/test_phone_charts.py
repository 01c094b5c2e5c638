"""The pages this sweep changed, at 1366 and 390 px: no serious or critical axe finding (the
scroll boxes are focusable named regions), no page wider than the screen, charts that stay
readable on a phone (a list at the page's text size instead of a scaled-down SVG; the precedence
graph without crossing arrows). Screenshots at both widths go to artifacts/."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from .conftest import Server, fit_and_axe
from .test_phone_and_a11y import context

pytestmark = pytest.mark.browser

PAGES = {
    "stats": "/pages/stats",
    "stats-city": "/pages/stats?region=640100",
    "advice": "/pages/stats/advice",
    "checks": "/pages/checks",
    "designer": "/pages/designer?bundle=enterprise-opening&region=640104",
    "versions": "/pages/versions",
    "diff": "/pages/versions/1/diff/2",
    "implementation": "/pages/implementations/11640104036401041P4002002101000",
    "item": "/pages/items/000700104000",
    "region": "/pages/regions/640104",
    "regions": "/pages/regions",
    "bundles": "/pages/bundles",
    "guide": "/pages/bundles/newborn/guide?region=640104",
    "not-found": "/pages/versions/1/diff/99",
}


@pytest.mark.parametrize("width", [1366, 390])
def test_changed_pages_pass_axe_and_fit(defective_site: Server, browser, artifacts: Path, width: int) -> None:
    ctx, page = context(browser, defective_site, width)
    name = "desktop" if width > 700 else "phone"
    problems = []
    with closing(ctx):
        for shot, url in PAGES.items():
            page.goto(url)
            problems += fit_and_axe(page, url, width)
            page.screenshot(path=str(artifacts / f"sweep-{shot}-{name}.png"), full_page=True)
    assert problems == [], "\n".join(problems)


def test_charts_on_a_phone_are_lists_at_text_size(site: Server, browser) -> None:
    ctx, page = context(browser, site, 390)
    try:
        page.goto("/pages/stats")
        assert page.locator(".chart-wide svg").first.is_hidden()
        lists = page.locator(".chart-narrow .bars-list")
        assert lists.count() == 5 and lists.first.is_visible()
        smallest = page.evaluate(
            "Math.min(...[...document.querySelectorAll('.bars-list li span')]"
            ".map(e => parseFloat(getComputedStyle(e).fontSize)))"
        )
        assert smallest >= 12
        # A child region's row leads to its statistics, as the wide chart's links do.
        assert lists.first.locator("a[href^='/pages/stats?region=']").count() >= 1

        page.goto("/pages/designer?bundle=newborn&region=640104")
        assert page.locator("#before-after").is_hidden()  # the metric tiles above say the same
        assert page.locator("#metrics").is_visible()
        tall = page.locator("#graph .graph-narrow svg")
        assert tall.is_visible() and tall.locator("path").count() == 0
        assert tall.locator("text.after").count() > 0

        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto("/pages/stats")
        assert page.locator(".chart-wide svg").first.is_visible()
        assert page.locator(".chart-narrow").first.is_hidden()
    finally:
        ctx.close()
