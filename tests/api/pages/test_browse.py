"""The catalog browser in a real browser: region tree → region → item, and what the item page shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler import BundleError
from bundler.graph import resolve
from catalog.model import ITEM_TYPES

from .conftest import RENAMED_ITEM, RENAMED_REGION, Server

pytestmark = pytest.mark.browser


def effective(server: Server, region: str) -> list[str]:
    """The items an applicant in `region` can apply for, resolved by the bundler itself."""
    out = []
    for code in server.catalog.items:
        try:
            resolve(server.catalog, [code], region)
        except BundleError:
            continue
        out.append(code)
    return sorted(out)


def test_browse_from_the_region_tree_to_an_item(site: Server, open_page, artifacts: Path) -> None:
    catalog = site.catalog
    page = open_page(site, "portal")
    page.goto("/")
    # A portal token's pages: no review (reviewers' only), and the window's hand-in (一窗受理).
    assert page.locator(".jobs a.job").evaluate_all("as => as.map(a => a.getAttribute('href'))") == [
        "/pages/regions",
        "/pages/designer",
        "/pages/bundles",
        "/pages/cases/new",
    ]
    page.screenshot(path=str(artifacts / "page-home.png"), full_page=True)
    page.click("#job-browse")
    page.wait_for_url("**/pages/regions")
    tree = page.locator("#region-tree")
    # Province → city → county, every region of the catalog in the tree.
    assert tree.locator("li[data-region]").count() == len(catalog.regions)
    assert (
        tree.locator("li[data-region='640000'] li[data-region='640100'] li[data-region='640104']").count()
        == 1
    )
    page.screenshot(path=str(artifacts / "page-region-tree.png"), full_page=True)

    tree.locator("li[data-region='640104'] > .node a").click()
    page.wait_for_url("**/pages/regions/640104")
    assert "兴庆区" in page.locator("h1").inner_text()
    expected = effective(site, "640104")
    rows = page.locator("#effective-items tbody tr[data-item]")
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.item)")) == expected

    # Search narrows the list: the items whose name holds the words first, then those that ask
    # for or issue a material so named (出生医学证明), all of them the region's.
    page.fill("input[name=q]", "出生")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/pages/regions/640104?q=*")
    wanted = [c for c in expected if "出生" in catalog.items[c].name]
    assert 0 < len(wanted) < len(expected)
    shown = rows.evaluate_all("rows => rows.map(r => r.dataset.item)")
    assert sorted(shown[: len(wanted)]) == wanted and set(shown) < set(expected)
    page.screenshot(path=str(artifacts / "page-region.png"), full_page=True)

    rows.filter(has=page.locator(f"a[href='/pages/items/{RENAMED_ITEM}']")).locator("td a").first.click()
    page.wait_for_url(f"**/pages/items/{RENAMED_ITEM}")
    item = catalog.items[RENAMED_ITEM]
    four = page.locator("#four-same")
    assert four.locator("[data-field=name]").inner_text() == item.name
    assert ITEM_TYPES[item.type] in four.locator("[data-field=type]").inner_text()
    assert four.locator("[data-field=basis]").inner_text().split("\n") == item.basis
    assert four.locator("[data-field=code]").inner_text() == item.code
    impls = sorted(i.code for i in catalog.implementations.values() if i.item == RENAMED_ITEM)
    columns = page.locator("#compare thead th[data-impl]")
    assert sorted(columns.evaluate_all("ths => ths.map(t => t.dataset.impl)")) == impls
    # A clean catalog: nothing is marked as deviating.
    assert page.locator("#compare td.dev").count() == 0
    # Reduced materials (只减不增) are shown, not flagged as errors.
    reduced = [
        i
        for i in catalog.implementations.values()
        if i.item == RENAMED_ITEM and i.materials is not None and i.materials != item.materials
    ]
    assert page.locator("#compare td.reduced[data-row=materials]").count() == len(reduced) > 0
    page.screenshot(path=str(artifacts / "page-item.png"), full_page=True)


def test_item_page_highlights_what_deviates(defective_site: Server, open_page, artifacts: Path) -> None:
    catalog = defective_site.catalog
    renamed = next(
        i for i in catalog.implementations.values() if i.item == RENAMED_ITEM and i.region == RENAMED_REGION
    )
    page = open_page(defective_site, "portal")
    page.goto(f"/pages/items/{RENAMED_ITEM}")
    marked = page.locator("#compare td.dev")
    assert marked.count() == 1
    assert marked.get_attribute("data-row") == "name"
    assert renamed.name in marked.inner_text() and "名称与基本目录不一致" in marked.inner_text()
    header = page.locator(f"#compare th[data-impl='{renamed.code}']")
    assert "不符合四同" in header.inner_text()
    assert page.locator("#compare thead .pill.bad").count() == 1
    page.locator(f"#impl-{renamed.code}").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "page-item-deviation.png"), full_page=True)

    # An item that is not there is a page too, not a JSON problem.
    missing = page.request.get("/pages/items/000000000000")
    assert missing.status == 404 and missing.headers["content-type"].startswith("text/html")
    assert "找不到页面" in missing.text()

    # The implementation's own page names the rule.
    header.locator("a").click()
    page.wait_for_url(f"**/pages/implementations/{renamed.code}")
    assert "FOUR_SAME_NAME" in page.locator("#impl-findings").inner_text()
