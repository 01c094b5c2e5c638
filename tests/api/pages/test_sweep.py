"""The sweep: every page route, filled from the Ningxia fixture, as every role, answers without a 5xx.

The app is the real one (`create_app`) over a real SQLite file behind Litestar's test client:
the fixture published, then a second version over it (so versions, diffs and the review
queue have something to show), a county's submission held, another rejected. Each role signs
in through a server-side session as the pages do. The routes are read from the app itself, so
a page added without a place in the sweep fails `test_every_page_route_is_swept`.

The page environments run with `StrictUndefined` (a key a template names but the context lacks
raises and is a 500 here), which `test_templates_are_strict` keeps so.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import msgspec
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.pages.csrf import FIELD, token_for
from api.settings import Settings
from catalog.model import Catalog, record_encoder
from tests.api.pages.conftest import broken, ningxia

COUNTY, CITY, PROVINCE = "640104", "6401", "64"
REGION_CODES = {"county": COUNTY, "city": "640100", "province": "640000"}
ROLES: dict[str, tuple[str, str | None] | None] = {
    "anonymous": None,
    "portal": ("portal", None),
    "designer": ("designer", None),
    "reviewer": ("reviewer", None),
    "county-reviewer": ("reviewer", "640104"),
    "county-designer": ("designer", "640104"),
    "admin": ("admin", None),
}
NDJSON = {"Content-Type": "application/x-ndjson"}


@dataclass
class Swept:
    client: TestClient
    cookies: dict[str, str | None]
    """role → its session cookie header (None: anonymous)."""
    catalog: Catalog
    submissions: list[int]

    def get(self, url: str, role: str):
        cookie = self.cookies[role]
        return self.client.get(url, headers={"Cookie": cookie} if cookie else {}, follow_redirects=False)


def partial(catalog: Catalog, region: str, days: int) -> bytes:
    """The header and the region's own implementations, each promising `days` days (a submission)."""
    lines = [record_encoder.encode(catalog.header)]
    for _, impl in sorted(catalog.implementations.items()):
        if impl.region == region:
            lines.append(record_encoder.encode(msgspec.structs.replace(impl, promised_days=days)))
    return b"".join(line + b"\n" for line in lines)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swept]:
    db = tmp_path_factory.mktemp("sweep") / "onething.db"
    app = create_app(Settings(db_url=f"sqlite:///{db}", token_ttl=0))
    store = app.state.store
    clean = ningxia()
    store.publish(clean)
    store.publish(broken(clean))
    tokens = {}
    for name, held in ROLES.items():
        if held is not None:
            role, region = held
            tokens[name] = store.create_token(f"sweep-{name}", role, region=region)
    with TestClient(app, raise_server_exceptions=False) as client:
        bearer = {"Authorization": f"Bearer {tokens['county-reviewer']}", **NDJSON}
        held = client.post(
            f"/submissions?region={COUNTY}&note=压缩时限", headers=bearer, content=partial(clean, COUNTY, 1)
        )
        assert held.status_code == 201, held.text
        other = client.post(
            f"/submissions?region={COUNTY}&note=再压缩", headers=bearer, content=partial(clean, COUNTY, 2)
        )
        assert other.status_code == 201, other.text
        rejected = client.post(
            f"/submissions/{other.json()['id']}/reject",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
            json={"reason": "重复提交"},
        )
        assert rejected.status_code == 200, rejected.text
        sessions = app.state.tokens.sessions
        cookies: dict[str, str | None] = {
            name: None if name not in tokens else f"onething_session={sessions.open(tokens[name])}"
            for name in ROLES
        }
        yield Swept(client, cookies, clean, [held.json()["id"], other.json()["id"]])


def offered(catalog: Catalog, bundle: str) -> list[str]:
    """The regions a bundle names (where it is offered) and a county under each."""
    out = []
    for code in catalog.bundles[bundle].regions or ():
        out.append(code)
        under = sorted(
            c for c, r in catalog.regions.items() if r.level == "county" and c.startswith(code[:4])
        )
        out += under[:1]
    return [c for c in dict.fromkeys(out) if c != COUNTY]


def _with(url: str, **query: str) -> str:
    return url + "?" + urlencode(query)


def _urls(s: Swept) -> dict[str, list[str]]:
    """For each GET route of the pages (its path template as the app names it): the URLs swept."""
    catalog = s.catalog
    bundles = sorted(catalog.bundles)
    regions = [COUNTY, REGION_CODES["city"], REGION_CODES["province"], "000000"]
    bundle_items = sorted({i for b in catalog.bundles.values() for i in b.items})
    impls = sorted(
        code
        for code, impl in catalog.implementations.items()
        if impl.item in bundle_items and impl.region in regions
    )
    guides = []
    for b in bundles:
        for r in [*regions, *offered(catalog, b)]:
            guides.append(_with(f"/pages/bundles/{b}/guide", region=r))
        # each question of the bundle's items answered with each of its answers
        for q, question in sorted(catalog.questions.items()):
            for a in question.answers:
                guides.append(_with(f"/pages/bundles/{b}/guide", region=COUNTY, answer=f"{q}:{a}"))
    guides += [
        "/pages/bundles/newborn/guide",
        _with("/pages/bundles/newborn/guide", region="999999"),
        _with("/pages/bundles/newborn/guide", region=COUNTY, answer="nope:nope"),
        _with("/pages/bundles/newborn/guide", region=COUNTY, answer="garbage"),
        "/pages/bundles/nope/guide",
    ]
    designer = ["/pages/designer", _with("/pages/designer", q="出生"), _with("/pages/designer", q="0007")]
    for b in bundles:
        designer.append(_with("/pages/designer", bundle=b))
        for r in [*regions, *offered(catalog, b)]:
            designer.append(_with("/pages/designer", bundle=b, region=r))
    designer.append(_with("/pages/designer", bundle=bundles[0], region=COUNTY, delete="1"))
    designer.append(_with("/pages/designer", deleted="某件事", region=COUNTY))
    designer.append(_with("/pages/designer", items="nope", region=COUNTY, edited="1"))
    for item in sorted(catalog.items):  # every item alone, and beside a neighbour
        designer.append(_with("/pages/designer", items=item, region=COUNTY, edited="1"))
    pairs = sorted(catalog.items)
    for a, b in itertools.pairwise(pairs):
        designer.append(f"/pages/designer?items={a}&items={b}&region={COUNTY}&edited=1")
    checks = ["/pages/checks", _with("/pages/checks", page="999")]
    checks += [_with("/pages/checks", bundle=b) for b in bundles]
    checks += [_with("/pages/checks", region=r) for r in regions]
    checks += [_with("/pages/checks", check=c) for c in ("ONE_VISIT", "OFFERED", "PROOF", "nope")]
    review = ["/pages/review", _with("/pages/review", page="999"), _with("/pages/review", rule="nope")]
    review += [_with("/pages/review", region=r) for r in regions]
    review += [_with("/pages/review", severity=v) for v in ("error", "warning")]
    review += [_with("/pages/review", rule=r) for r in ("FOUR_SAME_NAME", "TIME_LIMIT", "ORPHAN_ITEM")]
    sid = s.submissions
    return {
        "/": ["/", _with("/", region=COUNTY)],
        "/favicon.ico": ["/favicon.ico"],
        "/pages/login": ["/pages/login", _with("/pages/login", next="/pages/regions")],
        "/pages/regions": ["/pages/regions"],
        "/pages/regions/{code:str}": [
            *(f"/pages/regions/{r}" for r in regions),
            _with(f"/pages/regions/{COUNTY}", q="出生"),
            "/pages/regions/nope",
        ],
        "/pages/regions/{code:str}/service-points": [
            *(f"/pages/regions/{r}/service-points" for r in regions),
            "/pages/regions/nope/service-points",
        ],
        "/pages/items/{code:str}": [*(f"/pages/items/{i}" for i in sorted(catalog.items)), "/pages/items/9"],
        "/pages/implementations/{code:str}": [
            *(f"/pages/implementations/{c}" for c in impls),
            "/pages/implementations/nope",
        ],
        "/pages/review": review,
        "/pages/checks": checks,
        "/pages/designer": designer,
        "/pages/bundles": ["/pages/bundles", _with("/pages/bundles", region=COUNTY)],
        "/pages/search": [
            "/pages/search",
            _with("/pages/search", q="出生"),
            _with("/pages/search", q="出生", region=COUNTY),
            _with("/pages/search", q="csz", region=REGION_CODES["city"]),
            _with("/pages/search", q="0007", region="all"),
            _with("/pages/search", q="出生", region="nope"),
            _with("/pages/search", q="出生", region=""),
            _with("/pages/search", q="《》%_\\" + "长" * 300),
        ],
        "/pages/bundles/{bundle_id:str}/guide": guides,
        "/pages/stats": ["/pages/stats", *(_with("/pages/stats", region=r) for r in regions)],
        "/pages/stats/advice": ["/pages/stats/advice"],
        "/pages/stats/export": [_with("/pages/stats/export", format=f) for f in ("jsonl", "cpsv-ap", "nope")],
        "/pages/versions": ["/pages/versions"],
        "/pages/versions/{a:int}/diff/{b:int}": [
            "/pages/versions/1/diff/2",
            "/pages/versions/2/diff/1",
            _with("/pages/versions/1/diff/2", kind="implementation", page="2"),
            _with("/pages/versions/1/diff/2", kind="nope"),
            "/pages/versions/1/diff/99",
        ],
        "/pages/review-queue": [
            "/pages/review-queue",
            _with("/pages/review-queue", region=COUNTY),
            _with("/pages/review-queue", rule="FOUR_SAME_NAME"),
            _with("/pages/review-queue", item="000700104000"),
            _with("/pages/review-queue", page="999"),
        ],
        "/pages/submissions": ["/pages/submissions"],
        "/pages/submissions/sheet": [
            _with("/pages/submissions/sheet", region=COUNTY, format="csv"),
            _with("/pages/submissions/sheet", region=COUNTY, format="xlsx"),
            _with("/pages/submissions/sheet", region="", format="csv"),
        ],
        "/pages/submissions/{sid:int}": [
            *(f"/pages/submissions/{i}" for i in sid),
            _with(f"/pages/submissions/{sid[0]}", done="approved"),
            "/pages/submissions/999",
        ],
        "/pages/static/{file_path:path}": ["/pages/static/pages.css", "/pages/static/pages.js"],
        "/pages/cases/new": [
            "/pages/cases/new",
            _with("/pages/cases/new", bundle="newborn", region=COUNTY),
            _with("/pages/cases/new", bundle="newborn", region=COUNTY, answer="wants-social-card:yes"),
            _with("/pages/cases/new", bundle="newborn", region=COUNTY, answer="nope:nope"),
            _with("/pages/cases/new", bundle="freight-transport", region=COUNTY),
            *(_with("/pages/cases/new", bundle=b, region=COUNTY) for b in bundles),
            _with("/pages/cases/new", bundle="nope", region="nope"),
        ],
        "/pages/cases/status": ["/pages/cases/status", _with("/pages/cases/status", case="640104-20261204-0001")],
        "/pages/cases/figures": [
            "/pages/cases/figures",
            *(_with("/pages/cases/figures", region=r) for r in regions),
            _with("/pages/cases/figures", bundle="newborn", **{"from": "2026-01-01", "to": "2026-12-31"}),
            _with("/pages/cases/figures", region="nope", bundle="nope", **{"from": "x"}),
        ],
        "/pages/agency/tasks": [
            "/pages/agency/tasks",
            _with("/pages/agency/tasks", state="ready"),
            _with("/pages/agency/tasks", agency="11640104036401041P", after="x"),
            _with("/pages/agency/tasks", agency="nope", state="nope"),
        ],
        "/pages/rectifications": [
            "/pages/rectifications",
            _with("/pages/rectifications", state="open", overdue="yes"),
            _with("/pages/rectifications", state="nope", overdue="nope"),
        ],
    }


def page_routes(client: TestClient, method: str = "GET") -> set[str]:
    """The routes the pages' router and static files mount: `/` and everything under /pages/."""
    found = {
        r.path
        for r in client.app.routes
        if method in getattr(r, "methods", ()) and (r.path == "/" or r.path.startswith("/pages/"))
    }
    return found | {"/favicon.ico"} if method == "GET" else found


#: Each form's POST with nothing filled in, or naming what is not there: a page that says what is
#: wrong, never a 5xx. (Nothing here may change the store: no submission that exists is decided.)
POSTS: dict[str, list[tuple[str, dict]]] = {
    "/pages/login": [("/pages/login", {}), ("/pages/login", {"token": "nope", "csrf": "x"})],
    "/pages/designer/save": [
        ("/pages/designer/save", {}),
        ("/pages/designer/save", {"items": ["nope", "nope2"], "id": "x y", "region": "nope"}),
        ("/pages/designer/save", {"id": "newborn", "original": "newborn", "version": "x", "items": ["a"]}),
    ],
    "/pages/designer/delete": [
        ("/pages/designer/delete", {}),
        ("/pages/designer/delete", {"id": "nope", "version": "1"}),
    ],
    "/pages/submissions": [("/pages/submissions", {})],
    "/pages/submissions/{sid:int}/approve": [("/pages/submissions/999/approve", {})],
    "/pages/submissions/{sid:int}/reject": [("/pages/submissions/999/reject", {"reason": "不对"})],
    "/pages/cases": [
        ("/pages/cases", {}),
        ("/pages/cases", {"bundle": "newborn", "region": COUNTY, "op": "update", "answer": "nope:nope"}),
        ("/pages/cases", {"bundle": "newborn", "region": COUNTY, "applicant.id_number": "x"}),
    ],
    "/pages/cases/status": [("/pages/cases/status", {}), ("/pages/cases/status", {"case": "x", "access": "y"})],
    "/pages/cases/status/forget": [("/pages/cases/status/forget", {})],
    "/pages/cases/status/rating": [("/pages/cases/status/rating", {"score": "9"})],
    "/pages/cases/status/resubmit": [("/pages/cases/status/resubmit", {"task": "x"})],
    "/pages/agency/tasks/{task_id:str}/events": [
        ("/pages/agency/tasks/nope/events", {}),
        ("/pages/agency/tasks/nope/events", {"event": "accept", "key": "k"}),
    ],
    "/pages/rectifications/{rid:int}/{action:str}": [
        ("/pages/rectifications/999/answer", {"finding": "", "action": ""}),
        ("/pages/rectifications/999/nope", {}),
    ],
}


def test_every_page_route_is_swept(swept: Swept) -> None:
    urls = _urls(swept)
    assert page_routes(swept.client) == set(urls), "a page route the sweep does not visit (or no more has)"
    assert all(urls.values())
    # Signing out is swept as the anonymous visitor only (it would end the others' sessions).
    assert page_routes(swept.client, "POST") == {*POSTS, "/pages/logout"}


@pytest.mark.parametrize("role", list(ROLES))
def test_every_form_answers_without_a_5xx(swept: Swept, role: str) -> None:
    cookie = swept.cookies[role]
    failures = []
    posts = [p for each in POSTS.values() for p in each]
    if role == "anonymous":
        posts.append(("/pages/logout", {}))
    # Each form as the page sends it (with the session's form token, so the handler itself
    # answers), and once without the token (the CSRF guard's refusal is a Chinese page too).
    token = {} if cookie is None else {FIELD: token_for(cookie.split("=", 1)[1])}
    for (url, data), with_token in itertools.product(posts, (True, False)):
        if with_token and url != "/pages/login":
            data = {**data, **token}
        elif not token:
            continue  # anonymous: no session, no token to leave out
        r = swept.client.post(
            url, data=data, headers={"Cookie": cookie} if cookie else {}, follow_redirects=False
        )
        if r.status_code >= 500:
            failures.append(f"{r.status_code} POST {url} {data}")
        elif r.status_code >= 400 and (problem := not_a_chinese_page(r)):
            failures.append(f"{r.status_code} POST {url}: {problem}")
        elif not with_token and url != "/pages/login" and r.status_code != 403:
            failures.append(f"{r.status_code} POST {url} without the form token")
    assert failures == [], "\n".join(failures)


def is_html(response) -> bool:
    return response.headers.get("content-type", "").startswith("text/html")


ENGLISH = re.compile(r"\b(no|not|failed|invalid|version|found|error|the)\b", re.IGNORECASE)


def not_a_chinese_page(response) -> str | None:
    """Why an error answer is not a page in Chinese with a way back (None: it is)."""
    if not is_html(response) or "<html" not in response.text:
        return f"not a page ({response.headers.get('content-type')})"
    lead = re.search(r'<p class="lead">(.*?)</p>', response.text, re.DOTALL)
    if lead is None:
        return None  # a page of its own (the guide's region picker, the submissions page)
    if ENGLISH.search(lead.group(1)) or not re.search(r"[\u4e00-\u9fff]", lead.group(1)):
        return f"not Chinese: {lead.group(1)!r}"
    if 'href="/"' not in response.text:
        return "no way back"
    return None


#: Routes whose URLs each role visits; the rest (many URLs, the same code for every role) are
#: visited by anonymous, a portal and the admin only.
HEAVY = {"/pages/items/{code:str}", "/pages/implementations/{code:str}", "/pages/designer"}


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_renders_for_every_role(swept: Swept, role: str) -> None:
    failures: list[str] = []
    seen = 0
    for route, urls in _urls(swept).items():
        if route in HEAVY and role not in ("anonymous", "portal", "county-designer", "admin"):
            urls = urls[:8]
        for url in urls:
            r = swept.get(url, role)
            seen += 1
            if r.status_code >= 500:
                failures.append(f"{r.status_code} {url}")
            elif r.status_code >= 400 and (problem := not_a_chinese_page(r)):
                failures.append(f"{r.status_code} {url}: {problem}")
    assert seen > 100
    assert failures == [], f"{len(failures)} of {seen} URLs failed as {role}:\n" + "\n".join(failures[:40])


def test_templates_are_strict() -> None:
    """A key the template names and the context lacks is an error, never an empty string."""
    from jinja2 import StrictUndefined

    from api.pages.render import env
    from bundler.render import _environment

    assert env.undefined is StrictUndefined
    assert _environment().undefined is StrictUndefined


def test_the_designer_names_every_waiver_and_requirement(swept: Swept) -> None:
    """企业开办 waives application forms for the merged one (一表申请), which once was a 500; the
    requirements read as the materials that meet them, never as their ids."""
    r = swept.get(f"/pages/designer?bundle=enterprise-opening&region={COUNTY}", "designer")
    assert r.status_code == 200, r.text[:300]
    reasons = re.findall(r'data-reason="([a-z_]+)"', r.text)
    assert "merged_form" in reasons
    assert "一表申请" in r.text
    waived = r.text[r.text.index('id="waived"') :]
    waived = waived[: waived.index("</table>")]
    ids = {req.req for item in swept.catalog.items.values() for req in item.materials}
    shown = set(re.findall(r"」([^<]+)</td>", waived))
    assert shown and not shown & ids, shown & ids


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/pages/nope", 404, "没有这个页面"),
        ("/pages/versions/1/diff/99", 404, "没有第 99 版"),
        ("/pages/versions/99/diff/1", 404, "没有第 99 版"),
        ("/pages/submissions/999", 404, "没有这个提交"),
        ("/pages/submissions/abc", 404, "没有这个页面"),
        ("/pages/items/9", 404, "不在目录中"),
        ("/pages/bundles/nope/guide", 404, "一件事"),
        ("/pages/stats/export?format=nope", 400, "参数有误"),
        ("/pages/review?page=0", 400, "参数有误"),
        ("/pages/static/nope.css", 404, "没有这个页面"),
    ],
)
def test_errors_under_pages_are_pages_in_chinese(swept: Swept, url: str, status: int, words: str) -> None:
    r = swept.get(url, "admin")
    assert r.status_code == status, r.text[:300]
    assert not_a_chinese_page(r) is None, not_a_chinese_page(r)
    assert words in r.text
    assert "<h1>" in r.text and 'href="/"' in r.text
    if url.startswith(("/pages/versions", "/pages/submissions/")):
        assert 'id="back"' in r.text  # the section, not only the home page


@pytest.mark.parametrize("url", ["/pages", "/pages/"])
def test_the_pages_home_is_the_front_door(swept: Swept, url: str) -> None:
    """A visitor typing /pages/ lands on the front door (it was a 404 before there was one)."""
    for role in ("anonymous", "admin"):
        r = swept.get(url, role)
        assert r.status_code == 302 and r.headers["location"] == "/", (role, r.status_code)


def test_the_api_keeps_its_problem_documents(swept: Swept) -> None:
    r = swept.client.get("/regions/nope")
    assert r.status_code in (401, 404) and r.headers["content-type"].startswith("application/problem+json")
    r = swept.client.get("/nope")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
