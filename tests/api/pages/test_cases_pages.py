"""The pages of cases through the real app (Litestar's test client over a real SQLite file, the
Ningxia fixture, the case service's clock held on 2026-12-04): the clerk's hand-in and each
refusal beside what it names, the receipt, the applicant's status page with its access code, an
agency's queue acting on events, the rating, the rectifications, the public figures."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.pages.csrf import token_for
from api.settings import Settings
from catalog.store.cases import Sealer
from tests.api.case_helpers import AGENCIES, NEWBORN, Clock, outputs_of  # noqa: F401
from tests.conftest import NINGXIA

COUNTY = "640104"


@dataclass
class Site:
    client: TestClient
    sessions: dict[str, str]
    """role or agency name → session id"""

    def _headers(self, who: str | None) -> dict[str, str]:
        return {"Cookie": f"onething_session={self.sessions[who]}"} if who else {}

    def get(self, url: str, who: str | None = None):
        return self.client.get(url, headers=self._headers(who), follow_redirects=False)

    def post(self, url: str, data: Any, who: str | None = None, **kw: Any):
        pairs = _pairs(data)
        if who:
            pairs.append(("form_token", token_for(self.sessions[who])))
        form: dict[str, list[str]] = {}
        for k, v in pairs:
            form.setdefault(k, []).append(v)
        return self.client.post(url, data=form, headers=self._headers(who), follow_redirects=False, **kw)


def _pairs(data: Any) -> list[tuple[str, str]]:
    return list(data.items()) if isinstance(data, dict) else list(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db = tmp_path_factory.mktemp("case-pages") / "onething.db"
    old = os.environ.get("ONETHING_CASE_KEY")
    os.environ["ONETHING_CASE_KEY"] = Sealer.new_key()
    try:
        app = create_app(Settings(db_url=f"sqlite:///{db}", token_ttl=0))
        store = app.state.store
        store.publish_file(NINGXIA)
        tokens = {r: store.create_token(f"pages-{r}", r) for r in ("portal", "designer", "reviewer", "admin")}
        for name, uscc in AGENCIES.items():
            tokens[name] = store.create_token(f"agency-{name}", "agency", agency=uscc)
        with TestClient(app, raise_server_exceptions=False) as client:
            app.state.cases.clock = Clock()
            sessions = {who: app.state.tokens.sessions.open(t) for who, t in tokens.items()}
            yield Site(client, sessions)
    finally:
        if old is None:
            os.environ.pop("ONETHING_CASE_KEY", None)
        else:
            os.environ["ONETHING_CASE_KEY"] = old


def hand_in_form(body: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """The clerk's form as a browser sends it, from a §7.1 body."""
    body = body or NEWBORN
    out = [("bundle", body["bundle"]), ("region", body["region"])]
    out += [("answer", f"{q}:{a}") for q, a in body["answers"].items()]
    out += [(f"applicant.{k}", v) for k, v in body["applicant"].items()]
    out += [(f"f.{k}", str(v)) for k, v in body["form"].items()]
    out += [(f"m.{k}", v) for k, v in body["materials"].items()]
    if body.get("consent"):
        out.append(("consent", "yes"))
    return out


def without(form: list[tuple[str, str]], key: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in form if k != key]


def receipt(site: Site, form: list[tuple[str, str]] | None = None) -> tuple[str, str, str]:
    """Hand in; (case id, access code, page)."""
    r = site.post("/pages/cases", form or hand_in_form(), "portal")
    assert r.status_code == 200, r.text[:2000]
    case_id = re.search(r'id="case-number">([^<]+)<', r.text).group(1)
    access = re.search(r'id="access-code">([^<]+)<', r.text).group(1)
    return case_id, access, r.text


def test_the_clerk_form_is_the_guides_merged_form(site: Site) -> None:
    r = site.get(f"/pages/cases/new?bundle=newborn&region={COUNTY}&answer=wants-social-card:yes", "portal")
    assert r.status_code == 200, r.text[:500]
    for field in ("mother.id_number", "child.birth_date", "bank.account"):
        assert f'data-field="{field}"' in r.text
    assert 'type="date"' in r.text and 'name="f.child.birth_date"' in r.text
    assert 'data-material="bank-card"' in r.text
    assert 'name="consent"' in r.text
    # the clerk's page is not for designers or agencies, and asks anonymous visitors to sign in
    assert site.get("/pages/cases/new", "designer").status_code == 403
    assert site.get("/pages/cases/new", "health").status_code == 403
    assert site.get("/pages/cases/new").status_code in (302, 303, 401)


def test_an_answer_the_catalog_does_not_know_asks_again_in_chinese(site: Site) -> None:
    """A link (or a stale bookmark) with an unknown question or choice redraws the form with
    the reason, not a server error."""
    for answer, said in (("wants-social-card:perhaps", "没有答案"), ("no-such-question:yes", "没有情形问题")):
        r = site.get(f"/pages/cases/new?bundle=newborn&region={COUNTY}&answer={answer}", "portal")
        assert r.status_code == 200, (answer, r.text[:500])
        assert "开始受理" in r.text and 'role="alert"' in r.text and said in r.text
    # a malformed answer in the link is dropped: the form asks the questions again
    r = site.get(f"/pages/cases/new?bundle=newborn&region={COUNTY}&answer=malformed", "portal")
    assert r.status_code == 200 and "开始受理" in r.text


def test_a_hand_in_prints_the_receipt_once(site: Site) -> None:
    form = hand_in_form()
    once = ("once", "form-1")
    case_id, access, page = receipt(site, [*form, once])
    assert re.fullmatch(r"640104-20261204-\d{4}", case_id)
    assert "读作：兴庆区 · 2026年12月4日 · 第" in page
    assert "兴庆区卫生健康局" in page and "出生医学证明" in page
    assert 'id="receipt-qr"' in page and "<svg" in page
    assert "/pages/cases/status?case=" + case_id in page and access not in page.split('id="access-code"')[0]
    assert 'id="case-due">2026-12-11' in page
    # the same form again (a reload) hands in nothing and shows no code
    again = site.post("/pages/cases", [*form, once], "portal")
    assert again.status_code == 200 and case_id in again.text and access not in again.text


@pytest.mark.parametrize(
    ("change", "code", "place"),
    [
        (lambda f: without(f, "answer"), "UNANSWERED", 'data-question="wants-social-card"'),
        (
            lambda f: [(k, "640104199204152440" if k == "f.mother.id_number" else v) for k, v in f],
            "FORM",
            'data-field="mother.id_number"',
        ),
        (lambda f: without(f, "m.bank-card"), "MATERIALS", 'data-material="bank-card"'),
        (lambda f: without(f, "consent"), "CONSENT", 'id="consent-box"'),
        (
            lambda f: [(k, "1380000" if k == "applicant.phone" else v) for k, v in f],
            "FORM",
            'id="applicant-phone"',
        ),
    ],
)
def test_each_refusal_is_shown_beside_what_it_names(site: Site, change, code: str, place: str) -> None:
    r = site.post("/pages/cases", change(hand_in_form()), "portal")
    assert r.status_code == 422, r.text[:500]
    assert f'data-code="{code}"' in r.text
    at = r.text.index(place)
    near = r.text[at : at + 2500]
    assert 'class="field-error"' in near, near[:600]
    # what was typed stays
    assert "李四" in r.text


def test_a_bundle_not_offered_here_is_refused_in_chinese(site: Site) -> None:
    body = {**NEWBORN, "bundle": "freight-transport", "answers": {}}
    r = site.post("/pages/cases", hand_in_form(body), "portal")
    assert r.status_code == 422
    assert 'data-code="NOT_OFFERED"' in r.text or "无法办理" in r.text or "不提供" in r.text


def status_of(site: Site, case_id: str, access: str):
    looked = site.post("/pages/cases/status", {"case": case_id, "access": access})
    assert looked.status_code == 303, looked.text[:500]
    cookie = looked.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert access not in looked.headers["location"]
    return site.client.get("/pages/cases/status", follow_redirects=False)


def test_the_status_page_needs_the_access_code(site: Site) -> None:
    case_id, access, _ = receipt(site)
    wrong = site.post("/pages/cases/status", {"case": case_id, "access": "nope"})
    assert wrong.status_code == 403 and "查询码不正确" in wrong.text
    page = status_of(site, case_id, access)
    assert page.status_code == 200
    assert "办理进度" in page.text and "待受理" in page.text and "第1步" in page.text
    assert 'id="rating-form"' not in page.text  # not final yet
    site.client.post("/pages/cases/status/forget", follow_redirects=False)
    site.client.cookies.clear()


def act(site: Site, agency: str, task: str, event: str, **fields: str):
    """Find the task's form for `event` on the agency's queue page and send it."""
    page = site.get("/pages/agency/tasks?state=" + ("ready" if event in ("accept",) else "accepted"), agency)
    assert page.status_code == 200, page.text[:500]
    forms = re.findall(
        r'<form method="post" action="(/pages/agency/tasks/([^/]+)/events)"[^>]*data-event="(\w+)">(.*?)</form>',
        page.text,
        re.DOTALL,
    )
    for action, task_id, e, inner in forms:
        if e == event and task_id == task:
            key = re.search(r'name="key" value="([^"]+)"', inner).group(1)
            data = [("event", event), ("key", key), *fields.items()]
            return site.post(action, data, agency), key, action
    raise AssertionError(f"no {event} form for task {task}")


def test_an_agency_acts_on_its_queue_and_the_applicant_sees_it(site: Site) -> None:
    case_id, access, _ = receipt(site)
    tasks = site.client.app.state.store.cases.load(case_id).tasks
    health = next(t.task for t in tasks if t.task.agency == AGENCIES["health"] and t.task.state == "ready")
    n = int(health.id.rsplit("-", 1)[1])
    queue = site.get("/pages/agency/tasks?state=ready", "health")
    assert case_id in queue.text and health.name in queue.text
    assert "兴庆区医疗保障局" not in queue.text  # only its own agency's tasks
    r, key, action = act(site, "health", health.id, "accept")
    assert r.status_code == 303 and "done=accept" in r.headers["location"]
    # the same form sent again acts once
    again = site.post(action, [("event", "accept"), ("key", key)], "health")
    assert again.status_code == 303
    # a reject without a note is refused beside the task
    refused, _, _ = act(site, "health", health.id, "reject", note="")
    assert refused.status_code == 422 and "理由" in refused.text
    material = next(iter(site.client.app.state.store.cases.load(case_id).tasks[n - 1].materials), None)
    if material is not None:
        r, _, _ = act(site, "health", health.id, "return", missing=material)
        assert r.status_code == 303
        status = status_of(site, case_id, access)
        assert "补正中" in status.text and "请补正以下材料" in status.text
        resubmit = re.search(r'name="task" value="([^"]+)"><input type="hidden" name="key" value="([^"]+)"', status.text)
        r = site.client.post(
            "/pages/cases/status/resubmit", data={"task": resubmit.group(1), "key": resubmit.group(2)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        site.client.cookies.clear()
    page = site.get("/pages/agency/tasks?state=accepted", "health")
    assert health.name in page.text
    # the wrong state: accept an accepted task is a 409 shown on the page
    r = site.post(f"/pages/agency/tasks/{health.id}/events", [("event", "accept"), ("key", "other")], "health")
    assert r.status_code == 409 and "不能受理" in r.text


def finish(site: Site, case_id: str) -> None:
    """Every agency accepts and approves its ready tasks through the pages until none is left."""
    store = site.client.app.state.store
    by_uscc = {u: name for name, u in AGENCIES.items()}
    catalog = store.dictionaries(store.revision())
    for _ in range(10):
        tasks = [t.task for t in store.cases.load(case_id).tasks]
        ready = [t for t in tasks if t.state in ("ready", "accepted")]
        if not ready:
            return
        for t in ready:
            who = by_uscc[t.agency]
            base = f"/pages/agency/tasks/{t.id}/events"
            if t.state == "ready":
                assert site.post(base, [("event", "accept"), ("key", f"a-{t.id}")], who).status_code == 303
            outputs = [(f"o.{m}", f"宁{m[:3]}第{n}号") for n, m in enumerate(catalog.items[t.item].outputs)]
            r = site.post(base, [("event", "approve"), ("key", f"p-{t.id}"), *outputs], who)
            assert r.status_code == 303, r.text[:800]


def test_the_result_the_rating_and_the_rectification(site: Site) -> None:
    case_id, access, _ = receipt(site)
    finish(site, case_id)
    page = status_of(site, case_id, access)
    assert "办理结果（统一出件）" in page.text and "第0号" in page.text
    assert 'id="rating-form"' in page.text
    task_inputs = sorted(set(re.findall(r'name="(t\.[^"]+)"', page.text)))
    assert task_inputs
    rated = site.client.post(
        "/pages/cases/status/rating",
        data={"score": "2", "comment": "等了太久", task_inputs[0]: "1", **{t: "5" for t in task_inputs[1:]}},
        follow_redirects=False,
    )
    assert rated.status_code == 303, rated.text[:500]
    shown = site.client.get("/pages/cases/status")
    assert 'id="rated"' in shown.text and "不满意" in shown.text and "等了太久" in shown.text
    twice = site.client.post("/pages/cases/status/rating", data={"score": "5"}, follow_redirects=False)
    assert twice.status_code == 409 and "只能评价一次" in twice.text
    site.client.cookies.clear()

    # the agencies see their rectifications and answer; a reviewer closes, then reopens
    listing = site.get("/pages/rectifications?state=open", "admin")
    assert case_id in listing.text and "等了太久" in listing.text
    store = site.client.app.state.store
    mine = store.cases.rectifications(today=Clock()(), state="open")
    rect = next(r for r in mine if r.case == case_id)
    who = {u: name for name, u in AGENCIES.items()}[rect.agency]
    page = site.get("/pages/rectifications", who)
    assert f'id="r-{rect.id}"' in page.text
    empty = site.post(f"/pages/rectifications/{rect.id}/answer", {"finding": "", "action": ""}, who)
    assert empty.status_code == 422 and "必填" in empty.text
    r = site.post(f"/pages/rectifications/{rect.id}/answer", {"finding": "窗口人手不足", "action": "增设窗口"}, who)
    assert r.status_code == 303
    assert site.post(f"/pages/rectifications/{rect.id}/close", {}, who).status_code == 403
    r = site.post(f"/pages/rectifications/{rect.id}/close", {}, "reviewer")
    assert r.status_code == 303 and store.cases.rectification(rect.id).state == "closed"
    r = site.post(f"/pages/rectifications/{rect.id}/reopen", {}, "reviewer")
    assert r.status_code == 303 and store.cases.rectification(rect.id).state == "open"
    assert site.get("/pages/rectifications", "portal").status_code == 403


def test_the_public_figures(site: Site) -> None:
    receipt(site)
    r = site.get("/pages/cases/figures")
    assert r.status_code == 200
    assert 'id="figures"' in r.text and "好评率" in r.text
    r = site.get("/pages/cases/figures?region=640000&bundle=newborn&from=2026-12-01&to=2026-12-31")
    assert r.status_code == 200 and "银川市" in r.text and "bars-list" in r.text
    r = site.get("/pages/cases/figures?from=yesterday")
    assert r.status_code == 200 and "已忽略" in r.text


def test_the_guide_leads_a_clerk_to_the_hand_in_with_its_answers(site: Site) -> None:
    url = f"/pages/bundles/newborn/guide?region={COUNTY}&answer=wants-social-card:yes"
    shown = site.get(url, "portal")
    link = re.search(r'<a href="([^"]+)" id="hand-in-here">', shown.text)
    assert link is not None
    target = link.group(1).replace("&amp;", "&")
    assert "answer=wants-social-card%3Ayes" in target and "bundle=newborn" in target
    form = site.get(target, "portal")
    assert form.status_code == 200 and 'value="wants-social-card:yes" selected' in form.text
    assert 'id="hand-in-here"' not in site.get(url).text  # not for a citizen
    assert 'id="hand-in-here"' not in site.get(url, "designer").text


def test_a_refusal_reads_without_the_apis_field_names(site: Site) -> None:
    r = site.post("/pages/cases", without(hand_in_form(), "consent"), "portal")
    lead = re.search(r'id="refusal"[^>]*>(.*?)</div>', r.text, re.DOTALL).group(1)
    assert "电子证照" in lead and not re.search(r"[A-Za-z]{3,}", lead.replace('data-code="CONSENT"', ""))


def test_the_queue_pages_by_cursor(site: Site) -> None:
    for _ in range(6):  # each case gives the health agency four tasks
        receipt(site)
    first = site.get("/pages/agency/tasks", "health")
    link = re.search(r'<a href="([^"]+)" id="next-page">', first.text)
    assert link is not None
    second = site.get(link.group(1).replace("&amp;", "&"), "health")
    assert second.status_code == 200
    ids = re.compile(r'action="/pages/agency/tasks/([^/]+)/events"')
    assert set(ids.findall(first.text)).isdisjoint(ids.findall(second.text))
    assert "第一页" in second.text


def test_an_overdue_rectification_is_marked(site: Site) -> None:
    store = site.client.app.state.store
    clock = site.client.app.state.cases.clock
    if not store.cases.rectifications(today=clock()):
        pytest.skip("needs the rating test's rectification")
    before = clock.today
    try:
        clock.today = date(2027, 6, 1)
        page = site.get("/pages/rectifications?overdue=yes", "admin")
        assert page.status_code == 200 and "已超期" in page.text
    finally:
        clock.today = before


def test_an_approval_without_its_numbers_names_each_output(site: Site) -> None:
    case_id, _, _ = receipt(site)
    store = site.client.app.state.store
    task = next(t.task for t in store.cases.load(case_id).tasks if t.task.agency == AGENCIES["health"])
    base = f"/pages/agency/tasks/{task.id}/events"
    assert site.post(base, [("event", "accept"), ("key", "acc-" + task.id)], "health").status_code == 303
    r = site.post(base, [("event", "approve"), ("key", "app-" + task.id), ("state", "accepted")], "health")
    assert r.status_code == 422
    catalog = store.dictionaries(store.revision())
    notice = r.text[r.text.index('role="alert"') :]
    notice = notice[: notice.index("</div>")]
    for output in catalog.items[task.item].outputs:
        assert f"{catalog.materials[output].name}：缺少结果编号" in notice and output not in notice
    again = next(t.task for t in store.cases.load(case_id).tasks if t.task.id == task.id)
    assert again.state == "accepted"
