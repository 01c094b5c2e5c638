"""Cases (§7) through the API, on SQLite and PostgreSQL: hand-in and every refusal, each
transition and its 409, idempotent retries, cancellation, working days, overdue, ratings and
rectifications, figures against a recount."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.api.case_helpers import (
    HEALTH,
    INSURANCE,
    POLICE,
    case_api,
    finish,
    newborn,
    outputs_of,
    task_of,
)


@pytest.fixture
def c(db_url, monkeypatch):
    with case_api(db_url, monkeypatch) as api:
        yield api


def problem(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code, body
    return body


# -- hand-in (§7.1) ------------------------------------------------------------------------------


def test_a_hand_in_creates_the_case_its_tasks_and_a_readable_id(c):
    r = c.hand_in()
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["id"] == "640104-20261204-0001"
    assert r.headers["location"] == f"/cases/{case['id']}"
    assert case["state"] == "open" and case["revision"] == 1
    assert case["due"] == "2026-12-11"  # Fri 4 Dec + 5 working days
    assert len(case["access"]) >= 20
    assert not set(case["access"]) & set("0O1IlL"), case["access"]  # no look-alikes on the receipt
    states = [(t["stage"], t["state"]) for t in case["tasks"]]
    assert states[:2] == [(0, "ready"), (0, "ready")]
    assert all(s == "waiting" for stage, s in states if stage > 0)
    assert {"id", "item", "implementation", "agency", "stage", "state", "promised_days", "due"} <= set(
        case["tasks"][0]
    )
    assert case["tasks"][0]["due"] is None
    assert c.hand_in().json()["id"] == "640104-20261204-0002"
    c.clock.today = date(2026, 12, 7)
    assert c.hand_in().json()["id"] == "640104-20261207-0001"
    # the access code is shown once: not in a later read
    again = c.read(case["id"], case["access"]).json()
    assert "access" not in again and again["tasks"] == case["tasks"]


def _refusals():
    bad_form = newborn()
    bad_form["form"]["mother.id_number"] = "640104199204152440"
    return [
        (newborn(answers={}), "UNANSWERED", "question", "wants-social-card"),
        (bad_form, "FORM", "field", "mother.id_number"),
        (
            newborn(materials={"delivery-record": "handed", "medical-invoice": "handed"}),
            "MATERIALS",
            "material",
            "bank-card",
        ),
        (newborn(consent=False), "CONSENT", "material", "id-card"),
        (newborn(bundle="freight-transport", answers={}), "NOT_OFFERED", "field", "region"),
        (newborn(bundle="no-such-thing"), "UNKNOWN_BUNDLE", "field", "bundle"),
        (newborn(region="640199"), "UNKNOWN_REGION", "field", "region"),
        (newborn(bundle=None, items=["000000000000"]), "UNKNOWN_ITEM", "field", "items"),
        (
            newborn(bundle="freight-transport", region="640500", answers={}),
            "NOT_IMPLEMENTED",
            "field",
            "items",
        ),
        (newborn(answers={"wants-social-card": "maybe"}), "UNKNOWN_ANSWER", "question", "wants-social-card"),
    ]


def test_every_refusal_is_a_422_problem_naming_what_is_at_fault_and_creates_nothing(c):
    for body, code, kind, name in _refusals():
        found = problem(c.hand_in(body), 422, code)
        assert any(e.get(kind) == name for e in found["errors"]), (code, found["errors"])
        assert all(e["reason"] and re.search(r"[\u4e00-\u9fff]", e["reason"]) for e in found["errors"])
    figures = c.api.client.get("/stats/cases").json()
    assert figures["cases"] == 0
    # a body that does not match the schema at all is a 400
    assert c.api.post("/cases", role=None, json={"region": "640104"}).status_code == 400


def test_an_ad_hoc_case_of_items(c):
    body = newborn(bundle=None, items=["002002101000", "002002102000"], answers={})
    body["form"] = {k: v for k, v in body["form"].items() if k.startswith(("mother.", "father.", "child."))}
    body["materials"] = {"delivery-record": "handed"}
    r = c.hand_in(body)
    assert r.status_code == 201, r.text
    assert r.json().get("bundle") is None and len(r.json()["tasks"]) == 2


# -- tasks and events (§7.2) ---------------------------------------------------------------------


def test_each_transition_its_409_and_who_may_act(c):
    case = c.hand_in().json()
    first, later = task_of(case, 1)["id"], task_of(case, 3)["id"]
    problem(c.event(later, "accept", "insurance"), 409, "TRANSITION")  # waiting
    problem(c.event(first, "approve", "health"), 409, "TRANSITION")  # ready
    problem(c.event(first, "resubmit", "health"), 409, "TRANSITION")
    problem(c.event(first, "return", "health", missing=["x"]), 409, "TRANSITION")
    problem(c.event(first, "accept", "police"), 403, "FORBIDDEN")  # another agency's task
    problem(
        c.api.client.post(f"/tasks/{first}/events", json={"event": "accept", "key": "k"}),
        401,
        "UNAUTHENTICATED",
    )

    accepted = c.event(first, "accept", "health").json()
    assert accepted["state"] == "accepted" and accepted["due"] == "2026-12-07"
    problem(c.event(first, "accept", "health", key="again"), 409, "TRANSITION")
    problem(c.event(first, "return", "health", key="r0"), 422, "MISSING")
    returned = c.event(first, "return", "health", missing=["delivery-record"]).json()
    assert returned["state"] == "returned" and returned["due"] is None
    assert returned["missing"] == ["delivery-record"]
    assert c.read(case["id"], case["access"]).json()["tasks"][0]["missing"] == ["delivery-record"]
    problem(c.event(first, "approve", "health", key="a0"), 409, "TRANSITION")
    # the applicant resubmits with the access code (and may do nothing else)
    r = c.api.client.post(
        f"/tasks/{first}/events",
        json={"event": "accept", "key": "x"},
        headers={"X-Case-Access": case["access"]},
    )
    problem(r, 403, "FORBIDDEN")
    c.clock.today = date(2026, 12, 9)
    r = c.api.client.post(
        f"/tasks/{first}/events",
        json={"event": "resubmit", "key": "applicant-1"},
        headers={"X-Case-Access": case["access"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "accepted" and r.json()["due"] == "2026-12-10"
    problem(c.event(first, "approve", "health", key="a1"), 422, "OUTPUTS")
    done = c.event(first, "approve", "health", outputs=outputs_of(c, "002002101000")).json()
    assert done["state"] == "done" and done["outputs"]
    for event in ("accept", "return", "resubmit", "approve", "reject"):
        problem(
            c.event(first, event, "health", key=f"late-{event}", note="n", missing=["x"]), 409, "TRANSITION"
        )
    # reject: from ready, with a note only
    second = task_of(case, 2)["id"]
    problem(c.event(second, "reject", "health", key="no-note"), 422, "NOTE")
    rejected = c.event(second, "reject", "health", note="出生医学证明材料不实").json()
    assert rejected["state"] == "rejected" and rejected["note"] == "出生医学证明材料不实"


def test_a_retried_event_returns_the_first_answer_and_changes_nothing(c):
    case = c.hand_in().json()
    first = task_of(case, 1)["id"]
    one = c.event(first, "accept", "health", key="retry-me")
    c.clock.today = date(2026, 12, 8)  # a retry on another day must not move the clock
    two = c.event(first, "accept", "health", key="retry-me")
    assert one.status_code == two.status_code == 200
    assert one.json() == two.json()
    assert c.api.store.cases.events(first)[0][:2] == ("accept", "retry-me")
    assert len(c.api.store.cases.events(first)) == 1
    # the same key after the task moved on still answers what it answered first
    c.event(first, "approve", "health", outputs=outputs_of(c, "002002101000"))
    assert c.event(first, "accept", "health", key="retry-me").json() == one.json()
    assert len(c.api.store.cases.events(first)) == 2


def test_outputs_flow_on_and_a_rejection_cancels_what_needs_it(c):
    case = c.hand_in().json()
    cid, access = case["id"], case["access"]
    first = task_of(case, 1)["id"]
    c.event(first, "accept", "health")
    c.event(first, "approve", "health", outputs={"birth-service-cert": "SY-2026-001"})
    after = c.read(cid, access).json()
    assert task_of(after, 3)["state"] == "waiting"  # still waits for 出生医学证明
    assert task_of(after, 3)["received"] == {"birth-service-cert": "SY-2026-001"}
    second = task_of(case, 2)["id"]
    c.event(second, "accept", "health")
    c.event(second, "reject", "health", note="不予签发")
    after = c.read(cid, access).json()
    states = {t["id"].rsplit("-", 1)[1]: t["state"] for t in after["tasks"]}
    assert states == {
        "1": "done",
        "2": "rejected",
        "3": "cancelled",
        "4": "cancelled",
        "5": "cancelled",
        "6": "cancelled",
        "7": "cancelled",
        "8": "cancelled",
        "9": "cancelled",
    }
    assert after["state"] == "closed" and after["ended_on"] == "2026-12-04"
    assert after["result"] == [{"task": first, "material": "birth-service-cert", "number": "SY-2026-001"}]


def test_the_agency_queue_pages_by_cursor_and_sees_only_its_own(c):
    for _ in range(3):
        c.hand_in()
    seen, after = [], None
    while True:
        url = f"/agencies/{HEALTH}/tasks?limit=4&state=ready" + (f"&after={after}" if after else "")
        r = c.api.client.get(url, headers=c.as_agency("health"))
        assert r.status_code == 200, r.text
        page = r.json()
        seen += page["tasks"]
        after = page["next"]
        if after is None:
            break
    assert len(seen) == 6 and len({t["id"] for t in seen}) == 6
    assert all(t["agency"] == HEALTH and t["state"] == "ready" for t in seen)
    assert seen[0]["case"] == "640104-20261204-0001" and "mother.name" in seen[0]["form"]
    assert seen[1]["materials"]["delivery-record"] == "handed"
    waiting = c.api.client.get(
        f"/agencies/{HEALTH}/tasks?state=waiting", headers=c.as_agency("health")
    ).json()
    assert len(waiting["tasks"]) == 6
    problem(c.api.client.get(f"/agencies/{POLICE}/tasks", headers=c.as_agency("health")), 403, "FORBIDDEN")
    assert c.api.get(f"/agencies/{POLICE}/tasks", role="portal").status_code == 403
    assert c.api.get(f"/agencies/{POLICE}/tasks", role="admin").status_code == 200
    assert c.api.client.get(f"/agencies/{POLICE}/tasks").status_code == 401


# -- working days, overdue ------------------------------------------------------------------------


def test_due_dates_across_national_day_and_its_adjusted_saturday(c):
    c.clock.today = date(2026, 9, 30)
    case = c.hand_in().json()
    # 5 working days from Wed 30 Sep: 1–7 Oct off; 8, 9, Sat 10 (调休), 12, 13
    assert case["due"] == "2026-10-13" and "due_provisional" not in case
    first = task_of(case, 1)["id"]
    c.clock.today = date(2026, 10, 9)
    assert c.event(first, "accept", "health").json()["due"] == "2026-10-10"  # the Saturday worked


def test_overdue_tasks_and_cases(c):
    case = c.hand_in().json()
    first = task_of(case, 1)["id"]
    c.event(first, "accept", "health")  # due Mon 7 Dec
    c.clock.today = date(2026, 12, 7)
    read = c.read(case["id"], case["access"]).json()
    assert not task_of(read, 1).get("overdue") and not read.get("overdue")
    c.clock.today = date(2026, 12, 8)
    read = c.read(case["id"], case["access"]).json()
    assert task_of(read, 1)["overdue"] is True and not read.get("overdue")
    figures = c.api.client.get("/stats/cases?region=640000").json()
    assert figures["tasks_overdue"] == 1 and figures["overdue"] == 0
    c.clock.today = date(2026, 12, 14)  # past the case's due (11 Dec)
    assert c.read(case["id"], case["access"]).json()["overdue"] is True
    assert c.api.client.get("/stats/cases").json()["overdue"] == 1


# -- ratings and rectifications (§7.3) ----------------------------------------------------------------


def test_rating_rectifications_and_their_paths(c):
    case = c.hand_in().json()
    cid, access = case["id"], case["access"]
    rate = {
        "score": 2,
        "comment": "跑了两趟",
        "tasks": {task_of(case, 4)["id"]: 1, task_of(case, 1)["id"]: 5},
    }
    headers = {"X-Case-Access": access}
    problem(c.api.client.post(f"/cases/{cid}/rating", json=rate, headers=headers), 409, "NOT_FINAL")
    done = finish(c, cid, access)
    assert done["state"] == "done" and len(done["result"]) == 6
    problem(c.api.client.post(f"/cases/{cid}/rating", json=rate), 401, "UNAUTHENTICATED")
    problem(
        c.api.client.post(f"/cases/{cid}/rating", json=rate, headers={"X-Case-Access": "nope"}),
        403,
        "FORBIDDEN",
    )
    problem(c.api.client.post(f"/cases/{cid}/rating", json={"score": 9}, headers=headers), 422, "RATING")
    r = c.api.client.post(f"/cases/{cid}/rating", json=rate, headers=headers)
    assert r.status_code == 201, r.text
    opened = r.json()["rectifications"]
    # the case's own score goes to the first task's agency; the task's 1 to its agency
    assert [(x["task"], x["agency"], x["score"]) for x in opened] == [
        (None, HEALTH, 2),
        (task_of(case, 4)["id"], POLICE, 1),
    ]
    assert all(x["state"] == "open" for x in opened)
    assert opened[0]["due"] == "2026-12-25"  # 15 working days from Fri 4 Dec
    problem(c.api.client.post(f"/cases/{cid}/rating", json=rate, headers=headers), 409, "RATED")

    own, police = opened[0]["id"], opened[1]["id"]
    answer = {"finding": "窗口指引不清", "action": "增设导办员"}
    post = c.api.client.post
    # only the agency answers (its own), only a reviewer of the region closes and reopens
    problem(
        post(f"/rectifications/{own}/answer", json=answer, headers=c.as_agency("police")), 404, "NOT_FOUND"
    )
    problem(c.api.post(f"/rectifications/{own}/answer", role="reviewer", json=answer), 403, "FORBIDDEN")
    problem(post(f"/rectifications/{own}/close", headers=c.as_agency("health")), 403, "FORBIDDEN")
    problem(c.api.post(f"/rectifications/{own}/close", role="reviewer"), 409, "TRANSITION")  # still open
    problem(
        post(
            f"/rectifications/{own}/answer", json={"finding": "", "action": ""}, headers=c.as_agency("health")
        ),
        422,
        "ANSWER",
    )
    answered = post(f"/rectifications/{own}/answer", json=answer, headers=c.as_agency("health")).json()
    assert answered["state"] == "answered" and answered["finding"] == "窗口指引不清"
    problem(
        post(f"/rectifications/{own}/answer", json=answer, headers=c.as_agency("health")), 409, "TRANSITION"
    )
    reopened = c.api.post(f"/rectifications/{own}/reopen", role="reviewer").json()
    assert reopened["state"] == "open"
    post(f"/rectifications/{own}/answer", json=answer, headers=c.as_agency("health"))
    closed = c.api.post(f"/rectifications/{own}/close", role="reviewer").json()
    assert closed["state"] == "closed"
    # lists: an agency its own, filters, overdue
    mine = c.api.client.get("/rectifications", headers=c.as_agency("police")).json()["rectifications"]
    assert [x["id"] for x in mine] == [police]
    assert c.api.get("/rectifications?state=closed", role="admin").json()["rectifications"][0]["id"] == own
    assert c.api.get("/rectifications?overdue=true", role="reviewer").json()["rectifications"] == []
    c.clock.today = date(2026, 12, 28)
    late = c.api.get("/rectifications?overdue=true&region=640100", role="reviewer").json()["rectifications"]
    assert [x["id"] for x in late] == [police] and late[0]["overdue"] is True
    assert c.api.get("/rectifications", role="portal").status_code == 403
    figures = c.api.client.get("/stats/cases?region=640104").json()
    assert figures["rectifications"] == {"open": 1, "answered": 0, "closed": 1, "overdue": 1}
    assert figures["ratings"] == 1 and figures["bad"] == 1 and figures["good_rate"] == 0.0
    by_agency = c.api.client.get(f"/stats/cases?agency={POLICE}").json()
    assert by_agency["ratings"] == 1 and by_agency["bad"] == 1 and by_agency["rectifications"]["open"] == 1


def test_a_scoped_reviewer_acts_only_within_its_region(c):
    case = c.hand_in().json()
    finish(c, case["id"], case["access"])
    r = c.api.client.post(
        f"/cases/{case['id']}/rating", json={"score": 1}, headers={"X-Case-Access": case["access"]}
    )
    rid = r.json()["rectifications"][0]["id"]
    c.api.client.post(
        f"/rectifications/{rid}/answer", json={"finding": "f", "action": "a"}, headers=c.as_agency("health")
    )
    far = c.api.store.create_token("reviewer-far", "reviewer", region="640500")
    near = c.api.store.create_token("reviewer-near", "reviewer", region="640100")
    problem(
        c.api.client.post(f"/rectifications/{rid}/close", headers={"Authorization": f"Bearer {far}"}),
        403,
        "FORBIDDEN",
    )
    r = c.api.client.post(f"/rectifications/{rid}/close", headers={"Authorization": f"Bearer {near}"})
    assert r.status_code == 200 and r.json()["state"] == "closed"


# -- figures (§7.4) --------------------------------------------------------------------------------


def _scan(
    c, today: date, *, region_prefix: str = "", bundle=None, item=None, agency=None, start=None, end=None
):
    """The figures counted case by case from the store (what the counters must equal)."""
    import statistics

    import sqlalchemy as sa

    from catalog.store.schema import CaseRow, RectificationRow

    with c.api.store.engine.connect() as conn:
        ids = [i for (i,) in conn.execute(sa.select(CaseRow.id).order_by(CaseRow.id))]
    out = dict.fromkeys(
        ("cases", "open", "done", "closed", "overdue", "tasks", "tasks_overdue", "ratings", "bad"), 0
    )
    days, scores = [], []
    for cid in ids:
        loaded = c.api.store.cases.load(cid)
        case = loaded.case
        if not case.region.startswith(region_prefix) or (bundle and case.bundle != bundle):
            continue
        if (start and case.handed_on < start) or (end and case.handed_on > end):
            continue
        tasks = [
            t
            for t in loaded.tasks
            if (item is None or t.task.item == item) and (agency is None or t.task.agency == agency)
        ]
        running = [t for t in loaded.tasks if t.task.state not in ("done", "rejected", "cancelled")]
        if item is None and agency is None:
            out["cases"] += 1
            out[case.state] += 1
            out["overdue"] += case.state == "open" and today > case.due
            out["tasks"] += len(loaded.tasks)
            if case.state != "open":
                days.append(case.took)
            if loaded.rating:
                scores.append(loaded.rating.score)
        else:
            for t in tasks:
                state = t.task.state
                out["cases"] += 1
                out["tasks"] += 1
                out["open" if t in running else "done" if state == "done" else "closed"] += 1
                out["overdue"] += t in running and t.task.due is not None and today > t.task.due
                if t not in running:
                    days.append(t.took)
                if loaded.rating and t.task.id in loaded.rating.tasks:
                    scores.append(loaded.rating.tasks[t.task.id])
        out["tasks_overdue"] += sum(
            1 for t in running if t in tasks and t.task.due is not None and today > t.task.due
        )
    out["ratings"] = len(scores)
    out["bad"] = sum(s <= 2 for s in scores)
    out["days_median"] = statistics.median(days) if days else None
    rectified = dict.fromkeys(("open", "answered", "closed", "overdue"), 0)
    with c.api.store.engine.connect() as conn:
        for r in conn.execute(sa.select(RectificationRow.__table__)):
            if not r.region.startswith(region_prefix) or (bundle and r.bundle != bundle):
                continue
            if (item and r.item != item) or (agency and r.agency != agency):
                continue
            if (start and r.day < start) or (end and r.day > end):
                continue
            rectified[r.state] += 1
            rectified["overdue"] += r.state != "closed" and r.due < today
    out["rectifications"] = rectified
    return out


def test_figures_are_counters_that_equal_a_recount(c):
    made = []
    for n in range(5):
        c.clock.today = date(2026, 12, 1) + timedelta(days=n)
        made.append(c.hand_in().json())
    c.clock.today = date(2026, 12, 7)
    finish(c, made[0]["id"], made[0]["access"])
    c.clock.today = date(2026, 12, 10)
    finish(c, made[1]["id"], made[1]["access"])
    second = task_of(made[2], 2)["id"]
    c.event(second, "reject", "health", note="不予受理")
    c.event(task_of(made[2], 1)["id"], "reject", "health", note="不予受理")
    c.event(task_of(made[3], 1)["id"], "accept", "health")
    c.api.client.post(
        f"/cases/{made[0]['id']}/rating",
        json={"score": 5, "tasks": {task_of(made[0], 3)["id"]: 2}},
        headers={"X-Case-Access": made[0]["access"]},
    )
    c.api.client.post(
        f"/cases/{made[1]['id']}/rating", json={"score": 1}, headers={"X-Case-Access": made[1]["access"]}
    )
    c.clock.today = date(2026, 12, 20)
    queries = [
        ({}, {}),
        ({"region": "640000"}, {"region_prefix": "64"}),
        ({"region": "640100"}, {"region_prefix": "6401"}),
        ({"region": "640500"}, {"region_prefix": "6405"}),
        ({"bundle": "newborn"}, {"bundle": "newborn"}),
        ({"item": "000500108000"}, {"item": "000500108000"}),
        ({"agency": HEALTH}, {"agency": HEALTH}),
        ({"agency": INSURANCE, "region": "640104"}, {"agency": INSURANCE, "region_prefix": "640104"}),
        ({"from": "2026-12-02", "to": "2026-12-03"}, {"start": date(2026, 12, 2), "end": date(2026, 12, 3)}),
    ]
    for params, scan in queries:
        got = c.api.client.get("/stats/cases", params=params).json()
        want = _scan(c, c.clock.today, **scan)
        for key, value in want.items():
            assert got[key] == value, (params, key, got[key], value)
    whole = c.api.client.get("/stats/cases").json()
    assert whole["cases"] == 5 and whole["done"] == 2 and whole["closed"] == 1 and whole["open"] == 2
    assert whole["score_mean"] == 3.0 and whole["good_rate"] == 0.5
    assert "applicant" not in str(whole) and "张三" not in str(whole)


def test_figures_over_months_and_levels_equal_a_recount(c):
    """The counters are rolled up to months and to the region at each level: a range of whole
    months, partial edge months, one partial month, open ends and every level (and prefixes of
    no level) give what a case-by-case recount gives."""
    days = [date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 15), date(2026, 10, 31)]
    days += [date(2026, 11, 1), date(2026, 11, 16), date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 4)]
    made = []
    for day in days:
        c.clock.today = day
        made.append(c.hand_in().json())
    c.clock.today = date(2026, 12, 7)
    for n in (0, 2, 5):
        finish(c, made[n]["id"], made[n]["access"])
    c.event(task_of(made[1], 1)["id"], "reject", "health", note="不予受理")
    c.event(task_of(made[4], 1)["id"], "accept", "health")
    c.event(task_of(made[6], 2)["id"], "accept", "health")
    rectifications = []
    for n, score in ((0, 2), (2, 5), (5, 4)):
        r = c.api.client.post(
            f"/cases/{made[n]['id']}/rating",
            json={"score": score, "tasks": {task_of(made[n], 1)["id"]: 6 - score}},
            headers={"X-Case-Access": made[n]["access"]},
        )
        assert r.status_code in (200, 201), r.text
        rectifications += [x["id"] for x in r.json()["rectifications"]]
    answer = {"finding": "窗口指引不清", "action_text": "增设导办员"}
    c.api.store.cases.move_rectification(rectifications[0], "answer", by="t", **answer)
    c.api.store.cases.move_rectification(rectifications[1], "answer", by="t", **answer)
    c.api.store.cases.move_rectification(rectifications[1], "close", by="t")
    c.clock.today = date(2026, 12, 31)  # the open ones (due 25 Dec) overdue
    spans = [
        (None, None),
        ("2026-10-01", "2026-11-30"),  # whole months
        ("2026-09-30", "2026-12-01"),  # a day at each edge
        ("2026-10-02", "2026-10-31"),  # one partial month
        ("2026-10-15", "2026-10-15"),
        ("2026-10-16", "2026-11-15"),  # two partial months, no whole one
        ("2026-10-31", "2026-11-01"),
        ("2026-10-01", None),
        (None, "2026-10-31"),
        ("2026-10-02", None),
        (None, "2026-11-29"),
        ("2026-11-30", "2026-10-01"),  # backwards: nothing
    ]
    regions = [(None, ""), ("640000", "64"), ("640100", "6401"), ("640104", "640104"), ("640105", "640105")]
    regions += [("000000", ""), ("64", "64"), ("640", "640"), ("6401041", "6401041"), ("650000", "65")]
    others = [
        ({}, {}),
        ({"agency": HEALTH}, {"agency": HEALTH}),
        ({"item": "000500108000"}, {"item": "000500108000"}),
    ]
    others.append(({"bundle": "newborn"}, {"bundle": "newborn"}))
    queries = [(s, r, o) for s in spans for r in regions[:5] for o in others[:2]]
    queries += [(s, r, ({}, {})) for s in spans[:3] for r in regions[5:]]
    queries += [(s, ("640100", "6401"), o) for s in spans[:4] for o in others[2:]]
    for (start, end), (region, prefix), (extra, scan_extra) in queries:
        params = {"from": start, "to": end, "region": region, **extra}
        got = c.api.client.get("/stats/cases", params={k: v for k, v in params.items() if v}).json()
        want = _scan(
            c,
            c.clock.today,
            region_prefix=prefix,
            start=start and date.fromisoformat(start),
            end=end and date.fromisoformat(end),
            **scan_extra,
        )
        for key, value in want.items():
            assert got[key] == value, (params, key, got[key], value)
    whole = c.api.client.get("/stats/cases", params={"region": "640000"}).json()
    assert whole["cases"] == len(days)
    assert whole["rectifications"] == {"open": 1, "answered": 1, "closed": 1, "overdue": 2}


def test_figures_are_public_and_validate_their_filters(c):
    assert c.api.client.get("/stats/cases?region=640104").status_code == 200
    assert c.api.client.get("/stats/cases?from=yesterday").status_code == 400
