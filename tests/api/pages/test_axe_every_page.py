"""Every page route, in Chromium at 1366 and 390 px, as a role that can see it: zero serious or
critical axe-core findings and no page wider than the screen.

The routes are read from the app itself (as the sweep reads them), so a page added without a
representative URL here fails `test_every_page_route_has_a_place`. Each URL is filled from the
Ningxia fixture with a second version published over it (so versions, a diff and the review
queue have something to show) and a county's submission held for review. Every failing page is
reported at once. Screenshots of each page at each width go to artifacts/axe/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe

from .conftest import Server, broken, ningxia, serve, signed_in
from .test_sweep import NDJSON, page_routes, partial

pytestmark = pytest.mark.browser

COUNTY = "640104"  # 兴庆区
SUBMITTER = "640105"  # 西夏区, which the second version leaves without a defect
WIDTHS = (1366, 390)
IMPLEMENTATION = "11640104036401041P4002002101000"

#: route (as the app names it) → the pages visited there: (name, URL, role; None: signed out).
#: A route mapped to None serves no page (a file, a download).
PAGES: dict[str, list[tuple[str, str, str | None]] | None] = {
    "/": [
        ("home", "/", None),
        ("home-region", f"/?region={COUNTY}", None),
        ("home-staff", f"/?region={COUNTY}", "reviewer"),
    ],
    "/pages/login": [("login", "/pages/login?next=/pages/review", None)],
    "/pages/search": [("search", f"/pages/search?q={quote('出生证')}&region={COUNTY}", None)],
    "/pages/regions": [("regions", "/pages/regions", None)],
    "/pages/regions/{code:str}": [
        ("region", f"/pages/regions/{COUNTY}", None),
        ("region-search", f"/pages/regions/{COUNTY}?q={quote('出生')}", None),
        ("region-province", "/pages/regions/640000", None),
    ],
    "/pages/items/{code:str}": [("item", "/pages/items/000700104000", None)],
    "/pages/implementations/{code:str}": [
        ("implementation", f"/pages/implementations/{IMPLEMENTATION}", None)
    ],
    "/pages/bundles": [("bundles", f"/pages/bundles?region={COUNTY}", None)],
    "/pages/bundles/{bundle_id:str}/guide": [
        ("guide", f"/pages/bundles/newborn/guide?region={COUNTY}", None),
        ("guide-no-region", "/pages/bundles/newborn/guide", None),
        ("guide-business", f"/pages/bundles/enterprise-opening/guide?region={COUNTY}", None),
    ],
    "/pages/review": [
        ("review", "/pages/review", "reviewer"),
        ("review-rule", "/pages/review?rule=FOUR_SAME_NAME", "reviewer"),
    ],
    "/pages/checks": [
        ("checks", "/pages/checks", "reviewer"),
        ("checks-bundle", "/pages/checks?bundle=newborn", "reviewer"),
    ],
    "/pages/designer": [
        ("designer", f"/pages/designer?bundle=newborn&region={COUNTY}", "designer"),
        ("designer-empty", "/pages/designer", "designer"),
    ],
    "/pages/stats": [
        ("stats", "/pages/stats", "portal"),
        ("stats-city", "/pages/stats?region=640100", "portal"),
    ],
    "/pages/stats/advice": [("advice", "/pages/stats/advice", "portal")],
    "/pages/versions": [("versions", "/pages/versions", "reviewer")],
    "/pages/versions/{a:int}/diff/{b:int}": [("diff", "/pages/versions/1/diff/2", "reviewer")],
    "/pages/review-queue": [("review-queue", "/pages/review-queue", "reviewer")],
    "/pages/submissions": [("submissions", "/pages/submissions", "reviewer")],
    "/pages/submissions/{sid:int}": [("submission", "/pages/submissions/{held}", "reviewer")],
    "/pages/regions/{code:str}/service-points": [
        ("service-points", f"/pages/regions/{COUNTY}/service-points", None)
    ],
    "/pages/cases/new": [("case-new", f"/pages/cases/new?bundle=newborn&region={COUNTY}", "reviewer")],
    "/pages/cases/status": [("case-status", "/pages/cases/status", None)],
    "/pages/cases/figures": [("case-figures", "/pages/cases/figures", None)],
    "/pages/rectifications": [("rectifications", "/pages/rectifications", "reviewer")],
    # An agency's queue needs an agency's session: axe-checked at both widths, with its events,
    # in test_cases_browser.py.
    "/pages/agency/tasks": None,
    "/pages/stats/export": None,
    "/pages/submissions/sheet": None,
    "/pages/static/{file_path:path}": None,
    "/favicon.ico": None,
}
#: Pages no route names: the Chinese error page.
EXTRA = [("not-found", "/pages/nope", None)]
#: Pages checked again on a phone with the 菜单 (the top bar's <details>) open.
MENU_OPEN = {"home", "home-staff"}


@pytest.fixture(scope="module")
def axe_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, int]]:
    """The fixture, a second version over it, and a county's submission held for review (one
    without errors, so its page offers the decision)."""
    clean = ningxia()
    second = broken(clean)
    for server in serve(tmp_path_factory.mktemp("pages-axe"), clean, second):
        store = server.store()
        try:
            token = store.create_token("axe-county-reviewer", "reviewer", region=SUBMITTER)
        finally:
            store.dispose()
        r = httpx.post(
            f"{server.url}/submissions?region={SUBMITTER}&note={quote('压缩时限')}",
            headers={"Authorization": f"Bearer {token}", **NDJSON},
            content=partial(second, SUBMITTER, 1),
            timeout=60,
        )
        assert r.status_code == 201, r.text
        yield server, r.json()["id"]


def test_every_page_route_has_a_place(tmp_path: Path) -> None:
    from litestar.testing import TestClient

    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'routes.db'}", token_ttl=0))
    with TestClient(app) as client:
        routes = page_routes(client)
    assert routes == set(PAGES), "a page route without a page here (or a place for a route gone)"


def _problems(page, name: str, width: int, axe: Axe) -> list[str]:
    out = []
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        out.append(f"{name} @{width}: the page is {scroll} px wide")
    for v in axe.run(page).response["violations"]:
        if v["impact"] in ("serious", "critical"):
            targets = [n["target"] for n in v["nodes"][:4]]
            out.append(f"{name} @{width}: {v['id']} ({v['impact']}, {len(v['nodes'])} nodes) {targets}")
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_passes_axe_and_fits(axe_site, browser, artifacts: Path, width: int) -> None:
    server, held = axe_site
    shots = artifacts / "axe"
    shots.mkdir(exist_ok=True)
    by_role: dict[str | None, list[tuple[str, str]]] = {}
    for pages in PAGES.values():
        for name, url, role in pages or ():
            by_role.setdefault(role, []).append((name, url.format(held=held)))
    for name, url, role in EXTRA:
        by_role.setdefault(role, []).append((name, url))
    axe = Axe()
    problems: list[str] = []
    visited = 0
    for role, pages in by_role.items():
        ctx, page = signed_in(browser, server, role, width=width, axe=True)
        try:
            for name, url in pages:
                response = page.goto(url)
                status = response.status if response is not None else 0
                expected = 404 if name == "not-found" else 200
                if status != expected or (re.search(r"/pages/login", page.url) and name != "login"):
                    problems.append(f"{name} @{width}: {url} answered {status} at {page.url}")
                    continue
                visited += 1
                problems += _problems(page, name, width, axe)
                page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
                if width < 700 and name in MENU_OPEN:
                    page.click("#menu > summary")
                    first = page.locator("#menu nav a").first
                    brand = page.locator(".topbar .brand").bounding_box()
                    box = first.bounding_box() if first.is_visible() else None
                    if box is None or brand is None or box["y"] < brand["y"] + brand["height"]:
                        problems.append(f"{name} @{width}: the 菜单's links are not a row under the brand")
                    problems += _problems(page, f"{name} (菜单)", width, axe)
                    page.screenshot(path=str(shots / f"{name}-menu-{width}.png"), full_page=True)
        finally:
            ctx.close()
    assert visited >= len(PAGES) - 5
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems)
