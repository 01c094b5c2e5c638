"""The API under test: a real app (real SQLite or PostgreSQL, real Redis where asked) behind
Litestar's test client, a small valid catalog published, and one token per role."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.settings import Settings
from catalog.model import Catalog, record_encoder
from tests.bundler.build import Builder, req
from tests.conftest import ROOT, free_port

ROLES = ("portal", "designer", "reviewer", "admin")


def small_catalog() -> Catalog:
    """Seven regions, five items, implementations at every level, two bundles.

    newborn (三 items) resolves in 640104 to a county, a city and a province
    implementation; item 4 is implemented only in 石嘴山, so `far` cannot be
    composed for 兴庆区 (NOT_IMPLEMENTED) but can for 大武口区.
    """
    b = Builder()
    b.material("id-card", "居民身份证", e_license=True)
    b.material("household-book", "户口簿")
    b.material("passport", "护照")
    b.material("photo", "照片")
    b.material("lease", "租赁合同")
    b.field("applicant.name", "申请人姓名")
    b.field("applicant.phone", "联系电话", "phone")
    birth = b.item(
        1,
        req("identity", "id-card", "passport"),
        req("layout", "lease", optional=True),
        outputs=("birth-cert",),
        fields=("applicant.name",),
        days=10,
        name="出生医学证明签发",
    )
    hukou = b.item(
        2,
        req("proof", "birth-cert"),
        req("book", "household-book", "passport"),
        fields=("applicant.name", "applicant.phone"),
        days=20,
        name="出生登记",
    )
    insure = b.item(
        3, req("identity", "id-card", "passport"), req("photo", "photo"), days=15, name="城乡居民参保登记"
    )
    far = b.item(4, req("book", "household-book"), days=5, name="石嘴山特色事项")
    lonely = b.item(5, req("book", "household-book"), days=5, name="无人实施事项")
    b.implement(birth, "640104", promised_days=3, visits=1)
    b.implement(birth, "640105", promised_days=4, visits=1)
    b.implement(hukou, "640100", promised_days=5, visits=2)
    b.implement(insure, "640000", promised_days=7, visits=1)
    b.implement(far, "640202", promised_days=2, visits=1)
    b.implement(lonely, "640202", promised_days=2, visits=1)
    b.bundle("newborn", birth, hukou, insure, name="新生儿出生一件事")
    b.bundle("far", far, lonely, name="远方一件事")
    return b.catalog


def jsonl(catalog: Catalog) -> bytes:
    return b"".join(record_encoder.encode(r) + b"\n" for r in catalog.records())


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]

    def auth(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, url: str, role: str | None = "portal", **kw):
        return self.client.get(url, headers={**self.auth(role), **kw.pop("headers", {})}, **kw)

    def post(self, url: str, role: str | None = "designer", **kw):
        return self.client.post(url, headers={**self.auth(role), **kw.pop("headers", {})}, **kw)

    def put(self, url: str, role: str | None = "designer", **kw):
        return self.client.put(url, headers={**self.auth(role), **kw.pop("headers", {})}, **kw)

    def delete(self, url: str, role: str | None = "designer", **kw):
        return self.client.delete(url, headers={**self.auth(role), **kw.pop("headers", {})}, **kw)

    @property
    def store(self):
        return self.client.app.state.store

    def sign_in(self, role: str, next: str = "/") -> None:
        """Sign the client in through the login form (its CSRF token, then the token of `role`)."""
        form = self.client.get(f"/pages/login?next={next}")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        r = self.client.post(
            "/pages/login",
            data={"token": self.tokens[role], "next": next, "csrf": csrf},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text


def append_to_newborn(api: Api, mark: str, statuses: list[int] | None = None) -> int:
    """Append `mark` to the newborn bundle's description: read, then PUT If-Match its ETag, again
    while the PUT is refused with 412. How many times it was refused; every status answered goes
    into `statuses`."""
    seen = [] if statuses is None else statuses
    conflicts = 0
    while True:
        r = api.get("/bundles/newborn")
        seen.append(r.status_code)
        current = r.json()
        body = {
            "name": current["name"],
            "items": current["items"],
            "description": current["description"] + mark,
        }
        w = api.put("/bundles/newborn", json=body, headers={"If-Match": r.headers["etag"]})
        seen.append(w.status_code)
        if w.status_code == 200:
            return conflicts
        assert w.status_code == 412, w.text
        conflicts += 1


@contextmanager
def running(
    settings: Settings, catalog: Catalog | None = None, tokens: dict[str, str] | None = None
) -> Iterator[Api]:
    app = create_app(settings)
    store = app.state.store
    if catalog is not None:
        store.publish(catalog)
    if tokens is None:
        tokens = {role: store.create_token(f"test-{role}", role) for role in ROLES}
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, tokens)


@contextmanager
def serving(
    db_url: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    ready: str = "/health",
    ok: tuple[int, ...] = (200,),
    stderr: int | None = None,
) -> Iterator[tuple[subprocess.Popen, str]]:
    """`onething serve` for real (uvicorn in a subprocess, HTTP over a socket) on the store at
    `db_url`, with `args` added, once `ready` answers with a status in `ok`; yields the process and its base URL,
    and stops it at the end unless it has ended."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "onething", "serve", "--db", db_url, "--port", str(port), "--log-level", "warning", *args],
        cwd=ROOT,
        env=env,
        stderr=stderr,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}{ready}", timeout=1).status_code in ok:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("onething serve did not come up")
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    """SQLite and PostgreSQL, in-process cache, the small catalog published."""
    with running(Settings(db_url=db_url, token_ttl=0), small_catalog()) as api:
        yield api


@pytest.fixture
def sqlite_api(sqlite_url: str) -> Iterator[Api]:
    """For tests whose subject is not the database."""
    with running(Settings(db_url=sqlite_url, token_ttl=0), small_catalog()) as api:
        yield api


@pytest.fixture
def empty_api(sqlite_url: str) -> Iterator[Api]:
    with running(Settings(db_url=sqlite_url, token_ttl=0)) as api:
        yield api


class Captured(logging.Handler):
    """What the app logs under `onething` (Litestar's logging config replaces the root handlers
    at start-up, so pytest's caplog would miss it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def text(self) -> str:
        return "\n".join(self.format(r) for r in self.records)


@pytest.fixture
def captured():
    handler = Captured()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("onething")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


# Items of `situated_catalog` (Builder codes: national 行政许可 items by serial).
LICENSE, FOOD, CARD = "000100001000", "000100002000", "000100003000"


def situated_catalog() -> Catalog:
    """Two questions, two bundles with `regions`, checks that fail in some regions only.

    `shop` (宁夏 640000 and below; target 8 days): 营业执照 → 食品经营许可, and 社保卡申领
    only when `card` is `yes`; 营业执照 asks the property certificate or the lease by `premises`.
    `local` (银川 640100 and below, one window): the first two. Both items are implemented by
    银川市 640100, so 石嘴山's regions and 宁夏 itself cannot compose them (NOT_IMPLEMENTED);
    兴庆区 640104 has its own 食品经营许可 with 2 visits at its own window, a day slower (ONE_VISIT;
    ONE_WINDOW and TARGET_DAYS where the bundle names no window but a target). The non-retained 无犯罪记录证明 fails PROOF
    wherever a bundle composes.
    """
    b = Builder()
    b.material("id-card", "居民身份证", e_license=True)
    b.material("property-cert", "不动产权证书", category="license")
    b.material("lease-contract", "房屋租赁合同", category="contract")
    b.material("card-form", "社保卡申领登记表", category="form")
    b.material("no-crime", "无犯罪记录证明", category="certificate")
    b.question("premises", "own", "lease")
    b.question("card", "yes", "no")
    license_ = b.item(
        1,
        req("identity", "id-card"),
        req("own", "property-cert", when={"premises": ["own"]}),
        req("lease", "lease-contract", when={"premises": ["lease"]}),
        outputs=("business-license",),
        days=5,
        name="营业执照",
    )
    food = b.item(
        2, req("license", "business-license"), req("proof", "no-crime"), days=10, name="食品经营许可"
    )
    card = b.item(3, req("identity", "id-card"), req("form", "card-form"), days=3, name="社保卡申领")
    b.implement(license_, "640100", promised_days=3, visits=1)
    b.implement(food, "640100", promised_days=5, visits=1)
    b.implement(food, "640104", promised_days=6, visits=2)
    b.implement(card, "640000", promised_days=3, visits=1)
    b.bundle(
        "shop",
        license_,
        food,
        card,
        name="开店一件事",
        regions=["640000"],
        target_days=8,
        when={card: {"card": ["yes"]}},
    )
    b.bundle(
        "local", license_, food, name="银川开店一件事", regions=["640100"], window="银川市一件事综合窗口"
    )
    return b.catalog


@pytest.fixture
def situated(db_url: str) -> Iterator[Api]:
    """SQLite and PostgreSQL, in-process cache, `situated_catalog` published."""
    with running(Settings(db_url=db_url, token_ttl=0), situated_catalog()) as api:
        yield api
