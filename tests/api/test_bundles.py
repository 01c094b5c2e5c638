"""Bundles: create, read, replace, delete — with versions, If-Match and no lost update."""

from __future__ import annotations

import contextlib
import threading

from api.settings import Settings

from .conftest import append_to_newborn, running, small_catalog
from .test_notify import wait_until

NEWBORN = ["000100001000", "000100002000", "000100003000"]


def test_list_and_read_with_etag(api):
    r = api.get("/bundles")
    assert r.status_code == 200
    assert [b["id"] for b in r.json()["bundles"]] == ["far", "newborn"]
    r = api.get("/bundles/newborn")
    assert r.status_code == 200 and r.json()["items"] == NEWBORN and r.json()["version"] == 1
    assert r.headers["etag"] == '"1"'
    assert api.get("/bundles/newborn", headers={"If-None-Match": '"1"'}).status_code == 304
    assert api.get("/bundles/nope").status_code == 404


def test_create_replace_delete(api):
    body = {"id": "pair", "name": "两件事", "items": NEWBORN[:2]}
    r = api.post("/bundles", json=body)
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == '"1"' and r.headers["location"] == "/bundles/pair"
    assert api.post("/bundles", json=body).status_code == 409

    r = api.put("/bundles/pair", json={"name": "两件事（新）", "items": NEWBORN}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    assert api.get("/bundles/pair").json()["name"] == "两件事（新）"

    assert api.delete("/bundles/pair", headers={"If-Match": '"1"'}).status_code == 412
    assert api.delete("/bundles/pair", headers={"If-Match": '"2"'}).status_code == 204
    assert api.get("/bundles/pair").status_code == 404
    assert api.delete("/bundles/pair", headers={"If-Match": '"2"'}).status_code == 404


def test_writes_need_if_match(api):
    r = api.put("/bundles/newborn", json={"name": "x", "items": NEWBORN})
    assert r.status_code == 428 and r.json()["code"] == "PRECONDITION_REQUIRED"
    assert api.delete("/bundles/newborn").status_code == 428
    r = api.put("/bundles/newborn", json={"name": "x", "items": NEWBORN}, headers={"If-Match": '"7"'})
    assert r.status_code == 412 and r.headers["etag"] == '"1"'
    # Said in Chinese, by the bundle's name: no English, no version arithmetic to decode.
    assert r.json()["detail"] == (
        "一件事“新生儿出生一件事”已被他人修改，现在是第 1 版，不是您读取时的第 7 版："
        "请重新读取后再修改，以免覆盖他人的更改。"
    )
    assert r.json()["code"] == "STALE_VERSION" and r.json()["errors"][0]["message"] == "当前是第 1 版"
    assert (
        api.put(
            "/bundles/newborn", json={"name": "x", "items": NEWBORN}, headers={"If-Match": "garbage"}
        ).status_code
        == 412
    )
    garbled = api.put("/bundles/newborn", json={"name": "x", "items": NEWBORN}, headers={"If-Match": "x"})
    assert "不是这个一件事的某一版" in garbled.json()["detail"]
    assert api.get("/bundles/newborn").json()["name"] == "新生儿出生一件事"  # nothing changed
    r = api.put("/bundles/newborn", json={"name": "x", "items": NEWBORN}, headers={"If-Match": "*"})
    assert r.status_code == 200 and r.json()["version"] == 2
    r = api.put("/bundles/ghost", json={"name": "x", "items": NEWBORN}, headers={"If-Match": '"1"'})
    assert r.status_code == 404


def test_invalid_bundles_are_refused_with_findings(api):
    r = api.post("/bundles", json={"id": "solo", "name": "一件", "items": NEWBORN[:1]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["rule"] == "BUNDLE"
    r = api.post("/bundles", json={"id": "ghost", "name": "鬼", "items": [NEWBORN[0], "000199999000"]})
    assert r.status_code == 422 and any(e["rule"] == "UNKNOWN_REF" for e in r.json()["errors"])
    r = api.post("/bundles", json={"id": "x", "name": "x", "items": NEWBORN, "colour": "red"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    r = api.post("/bundles", json={"id": "bad id/", "name": "x", "items": NEWBORN})
    assert r.status_code == 400
    r = api.put("/bundles/newborn", json={"name": "x", "items": NEWBORN[:1]}, headers={"If-Match": '"1"'})
    assert r.status_code == 422
    assert [b["id"] for b in api.get("/bundles").json()["bundles"]] == ["far", "newborn"]


def test_concurrent_writers_lose_no_update(db_url):
    """Four instances sharing one database, each appending its own marker to the description
    with read → PUT If-Match; the losers get 412 and retry. Every success must survive."""
    writers, rounds = 4, 5
    settings = Settings(db_url=db_url, token_ttl=0)
    with contextlib.ExitStack() as stack:
        # Apps are built here (Litestar's lazy imports are not thread-safe); each thread
        # then drives its own instance, with its own portal, session pool and cache.
        first = stack.enter_context(running(settings, small_catalog()))
        instances = [stack.enter_context(running(settings, tokens=first.tokens)) for _ in range(writers)]
        conflicts = [0] * writers
        errors: list[str] = []
        barrier = threading.Barrier(writers, timeout=60)

        def writer(n: int) -> None:
            api = instances[n]
            try:
                barrier.wait()
                for k in range(rounds):
                    conflicts[n] += append_to_newborn(api, f"[{n}.{k}]")
            except BaseException as exc:  # noqa: BLE001 - reported in the main thread
                errors.append(repr(exc))

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        # `first` wrote nothing: it learns of the others' saves within a second (`api.notify`).
        assert wait_until(lambda: first.get("/bundles/newborn").json()["version"] == 1 + writers * rounds)
        final = first.get("/bundles/newborn").json()
        marks = [f"[{n}.{k}]" for n in range(writers) for k in range(rounds)]
        assert sorted(m for m in marks if m in final["description"]) == sorted(marks)
        assert final["version"] == 1 + writers * rounds
        for n in range(writers):  # each writer's own updates in its own order
            positions = [final["description"].index(f"[{n}.{k}]") for k in range(rounds)]
            assert positions == sorted(positions)


def test_a_bundle_round_trips_its_window_target_days_regions_and_situations(db_url):
    """What revision 2 added to a bundle is read and written through the API: a GET, changed and
    PUT back, keeps it; a situation on an item outside the bundle, or naming an unknown answer,
    is refused with its finding."""
    from catalog.validate import load_file
    from tests.conftest import NINGXIA

    catalog, _ = load_file(NINGXIA)
    with running(Settings(db_url=db_url, token_ttl=0), catalog) as api:
        for bundle_id in ("engineering-project", "newborn"):
            read = api.get(f"/bundles/{bundle_id}").json()
            stored = catalog.bundles[bundle_id]
            assert (read["window"], read["target_days"], read["when"], read["regions"]) == (
                stored.window,
                stored.target_days,
                stored.when,
                stored.regions,
            )
            body = {k: v for k, v in read.items() if k not in ("id", "version")} | {
                "name": stored.name + "（调整）"
            }
            r = api.put(f"/bundles/{bundle_id}", json=body, headers={"If-Match": '"1"'})
            assert r.status_code == 200, r.text
            again = api.get(f"/bundles/{bundle_id}").json()
            assert again == {**read, "name": stored.name + "（调整）", "version": 2}

        newborn = api.get("/bundles/newborn").json()
        item = next(iter(newborn["when"]))
        made = {
            "id": "newborn-lite",
            "name": "新生儿出生（精简）",
            "items": newborn["items"],
            "window": "出生一件事综合窗口",
            "target_days": 10,
            "when": {item: {"wants-social-card": ["yes"]}},
        }
        r = api.post("/bundles", json=made)
        assert r.status_code == 201, r.text
        assert {k: r.json()[k] for k in made} == made

        outside = {**made, "id": "odd", "when": {"000100023000": {"wants-social-card": ["yes"]}}}
        r = api.post("/bundles", json=outside)
        assert r.status_code == 422 and [e["rule"] for e in r.json()["errors"]] == ["BUNDLE"]
        unknown = {**made, "id": "odd", "when": {item: {"wants-social-card": ["maybe"]}}}
        r = api.post("/bundles", json=unknown)
        assert r.status_code == 422 and [e["rule"] for e in r.json()["errors"]] == ["UNKNOWN_REF"]
        assert api.post("/bundles", json={**made, "id": "odd", "target_days": -1}).status_code == 400
