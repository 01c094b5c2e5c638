"""The pages under test: a real uvicorn serving `create_app` over a real SQLite file, driven by a
real headless Chromium (Playwright for Python, Debian's /usr/bin/chromium).

Two servers: one with the Ningxia fixture as it is, one with a copy broken on purpose (a
renamed implementation, a promised time over the statutory one, an item nobody implements),
for the review page to have something to show.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import httpx
import msgspec
import pytest
from pypdf import PdfReader

from bench.common import stop
from catalog.model import Catalog, Item
from catalog.store import Store
from catalog.validate import load_file
from tests.conftest import NINGXIA, ROOT, free_port

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROLES = ("portal", "designer", "reviewer", "admin")

# What the broken copy changes (§3 rules the review page must show).
RENAMED_REGION = "640104"  # 兴庆区
RENAMED_ITEM = "000700104000"  # 国(境)内出生登记
SLOW_REGION = "640502"  # 中卫市沙坡头区
ORPHAN_CODE = "000799999000"


@dataclass
class Server:
    url: str
    db_url: str
    tokens: dict[str, str]
    catalog: Catalog
    process: subprocess.Popen

    def api(self, role: str = "portal") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[role]}"}, timeout=30
        )

    def store(self) -> Store:
        return Store(self.db_url)


def ningxia() -> Catalog:
    catalog, report = load_file(NINGXIA)
    assert report.ok, report.findings[:5]
    return catalog


def broken(catalog: Catalog) -> Catalog:
    """The fixture's next version, published over it, with three defects the way they arise in
    a living catalog (spec §6): the national item RENAMED_ITEM is renamed and every region follows
    but RENAMED_REGION (FOUR_SAME_NAME); the statutory days of the item of the first implementation
    in SLOW_REGION change and every region follows but that one (TIME_LIMIT); an item nobody
    implements yet (ORPHAN_ITEM, a warning). The untouched implementations publish flagged."""
    impls = dict(catalog.implementations)
    items = dict(catalog.items)
    renamed_item = items[RENAMED_ITEM]
    new_name = renamed_item.name + "（新）"
    items[RENAMED_ITEM] = msgspec.structs.replace(renamed_item, name=new_name)
    for code, impl in catalog.implementations.items():
        if impl.item == RENAMED_ITEM and impl.region != RENAMED_REGION:
            impls[code] = msgspec.structs.replace(impl, name=new_name)
    slow = next(
        i
        for i in sorted(catalog.implementations.values(), key=lambda i: i.code)
        if i.region == SLOW_REGION and i.item != RENAMED_ITEM
    )
    longer = items[slow.item].statutory_days + 5
    items[slow.item] = msgspec.structs.replace(items[slow.item], statutory_days=longer)
    for code, impl in catalog.implementations.items():
        if impl.item == slow.item and code != slow.code:
            impls[code] = msgspec.structs.replace(impl, statutory_days=longer)
    template = items[RENAMED_ITEM]
    items[ORPHAN_CODE] = Item(
        code=ORPHAN_CODE,
        name="无人实施的测试事项",
        type=template.type,
        basis=list(template.basis),
        owner="000000",
        levels=["county"],
        materials=[],
        statutory_days=5,
    )
    return msgspec.structs.replace(catalog, implementations=impls, items=items, lines={})


def serve(tmp: Path, *versions: Catalog) -> Iterator[Server]:
    """Publish each catalog in turn into a fresh SQLite file and serve the last with uvicorn until
    the test session ends."""
    db_url = f"sqlite:///{tmp / 'onething.db'}"
    store = Store(db_url)
    for catalog in versions:
        store.publish(catalog)
    tokens = {role: store.create_token(f"pages-{role}", role) for role in ROLES}
    store.dispose()
    port = free_port()
    env = {**os.environ, "ONETHING_DB": db_url, "ONETHING_TOKEN_TTL": "0", "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - open for the server's whole life
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to ~30 s for the server to answer
            if process.poll() is not None:
                raise RuntimeError(
                    f"uvicorn exited with {process.returncode}: {(tmp / 'server.log').read_text()}"
                )
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("uvicorn did not answer /health")
        yield Server(url, db_url, tokens, versions[-1], process)
    finally:
        stop(process)
        log.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The Ningxia fixture, clean."""
    yield from serve(tmp_path_factory.mktemp("pages-clean"), ningxia())


@pytest.fixture(scope="session")
def defective_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The Ningxia fixture, then a version with three defects (see `broken`)."""
    clean = ningxia()
    yield from serve(tmp_path_factory.mktemp("pages-broken"), clean, broken(clean))


def stored_bundles(server: Server) -> dict[str, int]:
    """Bundle id → version, as the server's database holds them now."""
    store = server.store()
    try:
        return {b.bundle.id: b.version for b in store.bundles()}
    finally:
        store.dispose()


@pytest.fixture(autouse=True)
def site_bundles_kept(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test leaves the shared `site` with the bundles it found: those it saved (the designer's
    tests, the keyboard's) are deleted afterwards, through the server, which sees its own write at
    once. Left there, they made the tests after them depend on the order: the checks page's
    matrix grew past one page of `GET /checks` (1000 rows) once they had run."""
    site = request.getfixturevalue("site") if "site" in request.fixturenames else None
    if not isinstance(site, Server):  # none, or a module's own `site`
        yield
        return
    before = stored_bundles(site)
    yield
    added = {b: v for b, v in stored_bundles(site).items() if b not in before}
    if added:
        with site.api("designer") as api:
            for bundle, version in sorted(added.items()):
                r = api.delete(f"/bundles/{bundle}", headers={"If-Match": f'"{version}"'})
                assert r.status_code == 204, r.text


@pytest.fixture(scope="package")
def browser(chromium: str):
    """One Chromium for the page tests. Package-scoped: while Playwright's sync API lives it holds
    an event loop on the main thread, and the tests after this package call `asyncio.run`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        yield instance
        instance.close()


def signed_in(
    browser,
    server: Server,
    role: str | None,
    *,
    javascript: bool = True,
    width: int = 1360,
    axe: bool = False,
):
    """A fresh browser context (own cookies), `width` px wide, signed in through the login form when
    `role` is given. With `axe`, the pages' CSP is lifted: axe-core is injected as a script."""
    context = browser.new_context(
        viewport={"width": width, "height": 900},
        locale="zh-CN",
        java_script_enabled=javascript,
        base_url=server.url,
        bypass_csp=axe,
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    if role is not None:
        page.goto("/pages/login?next=/")
        page.fill("input[name=token]", server.tokens[role])
        page.click("#login-form button[type=submit]")
        page.wait_for_url(server.url + "/")
    return context, page


def fit_and_axe(page, label: str, width: int, axe=None) -> list[str]:
    """What is wrong with the page as shown: wider than the screen, or a serious or critical axe finding."""
    from axe_playwright_python.sync_playwright import Axe

    problems = []
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        problems.append(f"{label}: {scroll} px wide")
    for v in (axe or Axe()).run(page).response["violations"]:
        if v["impact"] in ("serious", "critical"):
            problems.append(f"{label}: {v['id']} ({v['impact']}) {[n['target'] for n in v['nodes'][:3]]}")
    return problems


@pytest.fixture
def open_page(browser):
    """`open_page(server, role, javascript=True)` → a signed-in page; contexts are closed afterwards."""
    contexts = []

    def make(server: Server, role: str | None = "portal", *, javascript: bool = True):
        context, page = signed_in(browser, server, role, javascript=javascript)
        contexts.append(context)
        return page

    yield make
    for context in contexts:
        context.close()


def printed(page, artifacts: Path, name: str) -> list[str]:
    """The page as printed: a screenshot in print media and an A4 PDF in artifacts/ (`name`-print.png,
    `name`.pdf), and the PDF's pages as text (NFKC, as a reader copies it)."""
    page.emulate_media(media="print")
    page.screenshot(path=str(artifacts / f"{name}-print.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=True)
    (artifacts / f"{name}.pdf").write_bytes(pdf)
    return [unicodedata.normalize("NFKC", p.extract_text()) for p in PdfReader(BytesIO(pdf)).pages]


def without_toolbar(page_html: str) -> str:
    """A guide page less what the page adds to the bundler's guide (toolbar, QR code, print date)."""
    start = page_html.index("<!-- page toolbar -->")
    end = page_html.index("<!-- /page toolbar -->", start) + len("<!-- /page toolbar -->")
    return page_html[:start] + page_html[end:]
