"""The applicant's situation over HTTP: `answer=Q:A` on the workflow and guide, `answers` on
POST /workflows, UNKNOWN_ANSWER, answers in the cache key and the ETag, and a portal asking
the open questions one at a time."""

from __future__ import annotations

import msgspec

from bundler import compose, compose_bundle

from .conftest import CARD, FOOD, LICENSE, situated_catalog


def as_json(workflow, revision: int = 1) -> dict:
    return msgspec.json.decode(msgspec.json.encode(msgspec.structs.replace(workflow, revision=revision)))


def test_a_portal_asks_the_open_questions_one_at_a_time(situated):
    catalog = situated_catalog()
    given: list[tuple[str, str]] = []
    asked = []
    while True:
        r = situated.get(
            "/bundles/shop/workflow",
            params=[("region", "640105"), *(("answer", f"{q}:{a}") for q, a in given)],
        )
        assert r.status_code == 200, r.text
        workflow = r.json()
        assert workflow["answers"] == dict(given)
        assert workflow["revision"] == 1
        if not workflow.get("questions"):
            break
        question = workflow["questions"][0]  # the next question to put to the applicant
        asked.append(question["id"])
        given.append((question["id"], max(question["answers"])))
    assert sorted(asked) == ["card", "premises"]
    assert not workflow.get("conditional")
    assert workflow == as_json(compose_bundle(catalog, "shop", "640105", answers=dict(given)))
    assert {s["item"] for s in workflow["steps"]} == {LICENSE, FOOD, CARD}  # card: yes


def test_answers_are_in_the_etag_and_the_cache_key_in_any_order(situated):
    url = "/bundles/shop/workflow"
    none = situated.get(url, params={"region": "640105"})
    one = situated.get(
        url, params=[("region", "640105"), ("answer", "premises:lease"), ("answer", "card:no")]
    )
    other = situated.get(
        url, params=[("region", "640105"), ("answer", "card:no"), ("answer", "premises:lease")]
    )
    assert one.status_code == other.status_code == 200
    assert one.headers["etag"] == other.headers["etag"] != none.headers["etag"]
    assert one.headers["x-cache"] == "miss" and other.headers["x-cache"] == "hit"
    assert one.json()["answers"] == {"card": "no", "premises": "lease"}
    assert [m["id"] for m in one.json()["materials"]] == ["lease-contract", "no-crime"]
    again = situated.get(
        url,
        params=[("region", "640105"), ("answer", "card:no"), ("answer", "premises:lease")],
        headers={"If-None-Match": one.headers["etag"]},
    )
    assert again.status_code == 304
    owned = situated.get(
        url,
        params=[("region", "640105"), ("answer", "card:no"), ("answer", "premises:own")],
        headers={"If-None-Match": one.headers["etag"]},
    )
    assert owned.status_code == 200 and "property-cert" in [m["id"] for m in owned.json()["materials"]]


def test_unknown_or_malformed_answers(situated):
    r = situated.get("/bundles/shop/workflow", params={"region": "640105", "answer": "pets:cat"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "UNKNOWN_ANSWER" and "目录中没有情形问题“pets”" in body["detail"]
    assert body["errors"][0]["key"] == "pets" and body["errors"][0]["source"] == "query"
    r = situated.get("/bundles/shop/guide", params={"region": "640105", "answer": "premises:rent"})
    assert r.status_code == 422 and r.json()["code"] == "UNKNOWN_ANSWER"
    assert "没有答案“rent”" in r.json()["detail"] and "own（答own）" in r.json()["detail"]
    for bad in ("premises", "premises:", ":own"):
        r = situated.get("/bundles/shop/workflow", params={"region": "640105", "answer": bad})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "answer", bad
    r = situated.get(
        "/bundles/shop/workflow",
        params=[("region", "640105"), ("answer", "premises:own"), ("answer", "premises:lease")],
    )
    assert r.status_code == 422 and "两个不同的答案" in r.json()["detail"]


def test_guide_follows_the_answers(situated):
    plain = situated.get("/bundles/shop/guide", params={"region": "640105"})
    answered = situated.get(
        "/bundles/shop/guide",
        params=[("region", "640105"), ("answer", "premises:lease"), ("answer", "card:yes")],
    )
    assert plain.status_code == answered.status_code == 200
    assert answered.headers["etag"] != plain.headers["etag"]
    assert "房屋租赁合同" in answered.text and "社保卡申领" in answered.text
    # Unanswered, they are not on the checklist: the guide asks about them instead.
    checklist = plain.text.split('id="checklist"')[1].split("</ol>")[0]
    assert "房屋租赁合同" not in checklist and "房屋租赁合同" in plain.text.split('id="situations"')[1]
    assert "还将一并办理「社保卡申领」" in plain.text


def test_adhoc_workflow_takes_answers_in_the_body(situated):
    body = {"items": [LICENSE, FOOD], "region": "640105", "answers": {"premises": "own"}}
    r = situated.post("/workflows", role="portal", json=body)
    assert r.status_code == 200, r.text
    expected = compose(situated_catalog(), [LICENSE, FOOD], "640105", answers={"premises": "own"})
    assert r.json() == as_json(expected)
    plain = situated.post("/workflows", role="portal", json={**body, "answers": {}})
    assert plain.json()["questions"][0]["id"] == "premises" and r.headers["etag"] != plain.headers["etag"]
    r = situated.post("/workflows", role="portal", json={**body, "answers": {"premises": "tent"}})
    assert r.status_code == 422 and r.json()["code"] == "UNKNOWN_ANSWER"
    assert r.json()["errors"][0]["source"] == "body"
