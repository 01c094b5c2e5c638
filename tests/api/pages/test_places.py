"""A region's service points (revision 3), in a real browser: the places an applicant can go to,
nearest first, and those under the region; and the guide's 到哪里办 naming them."""

from __future__ import annotations

import pytest

from .conftest import Server

pytestmark = pytest.mark.browser


def test_a_regions_service_points(site: Server, open_page) -> None:
    page = open_page(site, "portal")
    page.goto("/pages/regions/640104")
    page.click("#places-link")
    page.wait_for_url("**/pages/regions/640104/service-points")
    reach = page.locator("#reach tbody tr").evaluate_all("rows => rows.map(r => r.dataset.point)")
    assert reach == ["640104-hall"]
    hall = page.locator("#reach tbody tr").first.inner_text()
    assert "兴庆区政务服务大厅" in hall and "数字经济产业园" in hall and "综合受理窗口" in hall
    under = page.locator("#under tbody tr").evaluate_all("rows => rows.map(r => r.dataset.point)")
    # 16 township centres and six villages' stations (fixtures/SOURCES.md)
    assert len(under) == 22 and under[0] == "640104001-center" and "640104012002-station" in under
    # a township's applicant reaches its own centre first, then the county hall; its villages'
    # stations are under it
    page.goto("/pages/regions/640104100/service-points")
    reach = page.locator("#reach tbody tr").evaluate_all("rows => rows.map(r => r.dataset.point)")
    assert reach == ["640104100-center", "640104-hall"]
    under = page.locator("#under tbody tr").evaluate_all("rows => rows.map(r => r.dataset.point)")
    assert under == ["640104100200-station", "640104100201-station", "640104100203-station"]
    # the village's applicant: station, centre, hall; nothing under a village
    page.goto("/pages/regions/640104100200/service-points")
    reach = page.locator("#reach tbody tr").evaluate_all("rows => rows.map(r => r.dataset.point)")
    assert reach == ["640104100200-station", "640104100-center", "640104-hall"]
    assert "掌政村代办点" in page.locator("#reach tbody tr").first.inner_text()
    assert page.locator("#under-none").count() == 1


def test_the_guide_names_the_township_centre(site: Server, open_page) -> None:
    page = open_page(site, "portal")
    page.goto("/pages/bundles/newborn/guide?region=640521101")
    nearer = page.locator("#nearer").inner_text()
    assert "鸣沙镇便民服务中心可代为受理" in nearer
