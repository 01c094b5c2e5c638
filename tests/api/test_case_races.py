"""Cases under concurrent writers, on SQLite and PostgreSQL: the same event key from several
agency retries at once applies once; hand-ins at once get distinct serials; the counters stay
equal to a recount."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import msgspec
import pytest

from casework import EventIn, HandIn, Transition, check
from tests.api.case_helpers import case_api, newborn, recounted, stored_counters, task_of


@pytest.fixture
def c(db_url, monkeypatch):
    with case_api(db_url, monkeypatch) as api:
        yield api


def _plan(c, body):
    from bundler import compose

    service = c.api.client.app.state.cases
    catalog = c.api.store.catalog()
    hand_in = msgspec.convert(body, HandIn)
    workflow = compose(
        catalog, catalog.bundles["newborn"].items, "640104", "newborn", answers=hand_in.answers
    )
    return hand_in, check(hand_in, workflow, catalog), service.calendar()


def test_hand_ins_at_once_get_distinct_serials(c):
    hand_in, plan, calendar = _plan(c, newborn())
    store = c.api.store.cases

    def one(_):
        return store.create(
            hand_in, plan, revision=1, today=date(2026, 12, 4), calendar=calendar
        ).loaded.case.id

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(one, range(12)))
    assert sorted(ids) == [f"640104-20261204-{n:04d}" for n in range(1, 13)]
    assert c.api.client.get("/stats/cases").json()["cases"] == 12


def test_two_instances_number_cases_apart_and_a_quiet_day_stays_dense(c):
    """Two stores on one database (two processes, two instances) hand out serials from blocks
    each reserves: never the same id, and one instance alone numbers a day from 0001 without
    gaps."""
    from catalog.store import Store

    hand_in, plan, calendar = _plan(c, newborn())
    other = Store(c.api.store.url).cases
    stores = [c.api.store.cases, other]
    try:
        day = date(2026, 12, 4)
        ids = [
            stores[n % 2].create(hand_in, plan, revision=1, today=day, calendar=calendar).loaded.case.id
            for n in range(40)
        ]
        with ThreadPoolExecutor(6) as pool:
            ids += pool.map(
                lambda n: (
                    stores[n % 2]
                    .create(hand_in, plan, revision=1, today=day, calendar=calendar)
                    .loaded.case.id
                ),
                range(40),
            )
        assert len(set(ids)) == 80 and all(i.startswith("640104-20261204-") for i in ids)
        alone = [
            other.create(hand_in, plan, revision=1, today=date(2026, 12, 7), calendar=calendar).loaded.case.id
            for _ in range(5)
        ]
        assert alone == [f"640104-20261207-{n:04d}" for n in range(1, 6)]
        assert c.api.client.get("/stats/cases").json()["cases"] == 85
        assert stored_counters(c) == recounted(c)
    finally:
        other.engine.dispose()


def test_the_same_key_at_once_applies_once_and_the_counters_equal_a_recount(c):
    case = c.hand_in().json()
    store = c.api.store.cases
    calendar = c.api.client.app.state.cases.calendar()
    first, second = task_of(case, 1)["id"], task_of(case, 2)["id"]

    def send(args):
        task, key, event = args
        try:
            return store.event(
                task, EventIn(event=event, key=key), by="t", today=date(2026, 12, 4), calendar=calendar
            )[0].task.state
        except Transition:
            return "409"

    work = [(first, "same", "accept")] * 6 + [(second, f"k{n}", "accept") for n in range(6)]
    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(send, work))
    assert got[:6] == ["accepted"] * 6  # one applied, five answered the first answer
    assert sorted(got[6:]) == ["409"] * 5 + ["accepted"]
    assert len(store.events(first)) == 1 and len(store.events(second)) == 1
    assert stored_counters(c) == recounted(c)
    figures = c.api.client.get("/stats/cases").json()
    assert figures["cases"] == 1 and figures["open"] == 1 and figures["tasks"] == 9
    by_health = c.api.client.get("/stats/cases?agency=11640104036401041P").json()
    assert by_health["cases"] == 4 and by_health["open"] == 4


def test_counters_equal_a_recount_after_every_kind_of_move(c):
    from tests.api.case_helpers import finish

    made = [c.hand_in().json() for _ in range(3)]
    finish(c, made[0]["id"], made[0]["access"])
    c.event(task_of(made[1], 2)["id"], "reject", "health", note="不予受理")
    c.event(task_of(made[2], 1)["id"], "accept", "health")
    c.event(task_of(made[2], 1)["id"], "return", "health", missing=["delivery-record"])
    finish(c, made[1]["id"], made[1]["access"])
    rectifications = []
    for case, tasks in ((made[0], {task_of(made[0], 4)["id"]: 5}), (made[1], {task_of(made[1], 1)["id"]: 1})):
        r = c.api.client.post(
            f"/cases/{case['id']}/rating",
            json={"score": 2, "tasks": tasks},
            headers={"X-Case-Access": case["access"]},
        )
        rectifications += [x["id"] for x in r.json()["rectifications"]]
    assert len(rectifications) == 3
    assert stored_counters(c) == recounted(c)
    answer = {"finding": "窗口指引不清", "action_text": "增设导办员"}
    store = c.api.store.cases
    for rid, moves in zip(
        rectifications, (["answer"], ["answer", "close"], ["answer", "reopen"]), strict=True
    ):
        for move in moves:
            store.move_rectification(rid, move, by="t", **(answer if move == "answer" else {}))
        assert stored_counters(c) == recounted(c)
    states = c.api.client.get("/stats/cases").json()["rectifications"]
    assert states == {"open": 1, "answered": 1, "closed": 1, "overdue": 0}
