"""Workflows and guides: the §4 document over HTTP, ETags and 304, the cache and its invalidation."""

from __future__ import annotations

import msgspec
import pytest

from api.settings import Settings
from bundler import compose_bundle

from .conftest import running, small_catalog

NEWBORN = ["000100001000", "000100002000", "000100003000"]


def test_bundle_workflow_is_the_bundlers_document(api):
    r = api.get("/bundles/newborn/workflow", params={"region": "640104"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    composed = compose_bundle(small_catalog(), "newborn", "640104")
    expected = msgspec.json.decode(msgspec.json.encode(msgspec.structs.replace(composed, revision=1)))
    assert r.json() == expected
    assert r.json()["metrics"]["materials_after"] == 2
    assert r.headers["x-cache"] == "miss"
    again = api.get("/bundles/newborn/workflow", params={"region": "640104"})
    assert again.headers["x-cache"] == "hit" and again.content == r.content
    assert again.headers["etag"] == r.headers["etag"]


def test_if_none_match_gives_304_and_regions_differ(api):
    r = api.get("/bundles/newborn/workflow", params={"region": "640104"})
    etag = r.headers["etag"]
    r304 = api.get("/bundles/newborn/workflow", params={"region": "640104"}, headers={"If-None-Match": etag})
    assert r304.status_code == 304 and r304.content == b"" and r304.headers["etag"] == etag
    other = api.get("/bundles/newborn/workflow", params={"region": "640105"})
    assert other.status_code == 200 and other.headers["etag"] != etag
    assert (
        api.get(
            "/bundles/newborn/workflow", params={"region": "640105"}, headers={"If-None-Match": etag}
        ).status_code
        == 200
    )


def test_guide_is_html_with_its_own_etag(api):
    wf = api.get("/bundles/newborn/workflow", params={"region": "640104"})
    r = api.get("/bundles/newborn/guide", params={"region": "640104"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "新生儿出生一件事" in r.text or "出生医学证明签发" in r.text
    assert r.headers["etag"] != wf.headers["etag"]
    assert (
        api.get(
            "/bundles/newborn/guide",
            params={"region": "640104"},
            headers={"If-None-Match": r.headers["etag"]},
        ).status_code
        == 304
    )


def test_bundling_errors_are_problems(api):
    r = api.get("/bundles/far/workflow", params={"region": "640104"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "NOT_IMPLEMENTED" and body["items"] == ["000100004000", "000100005000"]
    assert body["type"] == "urn:onething:problem:not-implemented"
    # the same error again comes from the cache and is still a problem
    assert api.get("/bundles/far/workflow", params={"region": "640104"}).json()["code"] == "NOT_IMPLEMENTED"
    assert api.get("/bundles/far/workflow", params={"region": "640202"}).status_code == 200
    r = api.get("/bundles/newborn/workflow", params={"region": "999999"})
    assert r.status_code == 422 and r.json()["code"] == "UNKNOWN_REGION"
    r = api.get("/bundles/nope/workflow", params={"region": "640104"})
    assert r.status_code == 404 and r.json()["code"] == "UNKNOWN_BUNDLE"
    r = api.get("/bundles/newborn/workflow")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "region"
    assert api.get("/bundles/nope/guide", params={"region": "640104"}).status_code == 404


def test_adhoc_workflow(api):
    r = api.post("/workflows", role="portal", json={"items": NEWBORN[:2], "region": "640104"})
    assert r.status_code == 200, r.text
    assert r.json()["bundle"] is None or "bundle" not in r.json()
    assert [s["item"] for s in r.json()["steps"]] == NEWBORN[:2]
    r = api.post("/workflows", role="portal", json={"items": ["000199999000"], "region": "640104"})
    assert r.status_code == 422 and r.json()["code"] == "UNKNOWN_ITEM"
    r = api.post("/workflows", role="portal", json={"items": NEWBORN, "region": "640202"})
    assert r.status_code == 422 and r.json()["code"] == "NOT_IMPLEMENTED"
    assert api.post("/workflows", role="portal", json={"items": [], "region": "640104"}).status_code == 400


def test_a_bundle_change_invalidates_its_workflow_only(api):
    first = api.get("/bundles/newborn/workflow", params={"region": "640104"})
    far = api.get("/bundles/far/workflow", params={"region": "640202"})
    r = api.put(
        "/bundles/newborn", json={"name": "新生儿", "items": NEWBORN[:2]}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200
    after = api.get(
        "/bundles/newborn/workflow",
        params={"region": "640104"},
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert after.status_code == 200 and after.headers["x-cache"] == "miss"
    assert [s["item"] for s in after.json()["steps"]] == NEWBORN[:2]
    still = api.get(
        "/bundles/far/workflow", params={"region": "640202"}, headers={"If-None-Match": far.headers["etag"]}
    )
    assert still.status_code == 304


def test_a_catalog_publish_invalidates_workflows(api):
    first = api.get("/bundles/newborn/workflow", params={"region": "640104"})
    catalog = small_catalog()
    code = next(c for c, i in catalog.implementations.items() if i.region == "640104")
    catalog.implementations[code] = msgspec.structs.replace(catalog.implementations[code], promised_days=1)
    from .conftest import jsonl

    r = api.put("/catalog", role="reviewer", content=jsonl(catalog))
    assert r.status_code == 200, r.text
    after = api.get(
        "/bundles/newborn/workflow",
        params={"region": "640104"},
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert after.status_code == 200 and after.headers["etag"] != first.headers["etag"]
    assert after.json()["steps"][0]["promised_days"] == 1


@pytest.mark.redis
def test_two_instances_share_one_redis_and_see_each_others_invalidation(sqlite_url, redis_url):
    import uuid

    # A database of its own means a catalog of its own: keys cannot collide with other runs.
    settings = Settings(db_url=sqlite_url, redis_url=redis_url, token_ttl=0)
    catalog = small_catalog()
    catalog.header = msgspec.structs.replace(catalog.header, version=f"test-{uuid.uuid4().hex[:8]}")
    url = "/bundles/newborn/workflow?region=640104"
    with running(settings, catalog) as a, running(settings, tokens=a.tokens) as b:
        assert a.get("/health", role=None).json()["cache"] == "redis"
        ra = a.get(url)
        assert ra.status_code == 200 and ra.headers["x-cache"] == "miss"
        rb = b.get(url)
        assert rb.headers["x-cache"] == "hit" and rb.content == ra.content  # computed by a, served by b
        w = b.put(
            "/bundles/newborn", json={"name": "新生儿", "items": NEWBORN[:2]}, headers={"If-Match": '"1"'}
        )
        assert w.status_code == 200
        ra2 = a.get(url, headers={"If-None-Match": ra.headers["etag"]})
        assert ra2.status_code == 200 and ra2.headers["x-cache"] == "miss"
        assert len(ra2.json()["steps"]) == 2
        rb2 = b.get(url)
        assert rb2.headers["x-cache"] == "hit" and rb2.headers["etag"] == ra2.headers["etag"]


def test_memory_cache_is_per_instance(sqlite_url):
    settings = Settings(db_url=sqlite_url, token_ttl=0)
    with running(settings, small_catalog()) as a, running(settings, tokens=a.tokens) as b:
        url = "/bundles/newborn/workflow?region=640104"
        assert a.get(url).headers["x-cache"] == "miss"
        assert b.get(url).headers["x-cache"] == "miss"
        # and b still sees a's write through the shared database
        a.put("/bundles/newborn", json={"name": "x", "items": NEWBORN[:2]}, headers={"If-Match": '"1"'})
        assert len(b.get(url).json()["steps"]) == 2


def test_a_redis_outage_degrades_health_but_workflows_still_come(sqlite_url):
    settings = Settings(db_url=sqlite_url, redis_url="redis://127.0.0.1:1/0", token_ttl=0)
    with running(settings, small_catalog()) as api:
        health = api.get("/health", role=None)
        assert health.status_code == 503 and health.json()["cache"] == "unavailable"
        r = api.get("/bundles/newborn/workflow", params={"region": "640104"})
        assert r.status_code == 200 and r.headers["x-cache"] == "miss"
