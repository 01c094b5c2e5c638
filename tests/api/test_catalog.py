"""Publishing a catalog (all or nothing) and the reviewer's validation report."""

from __future__ import annotations

import msgspec

from .conftest import jsonl, small_catalog

NEWBORN = ["000100001000", "000100002000", "000100003000"]


def _broken() -> bytes:
    catalog = small_catalog()
    code = next(c for c, i in catalog.implementations.items() if i.region == "640105")
    catalog.implementations[code] = msgspec.structs.replace(catalog.implementations[code], name="出生证明")
    return jsonl(catalog)


def test_publish_replaces_the_catalog(api):
    catalog = small_catalog()
    catalog.header = msgspec.structs.replace(catalog.header, version="test.2")
    del catalog.bundles["far"]
    r = api.put(
        "/catalog", role="reviewer", content=jsonl(catalog), headers={"Content-Type": "application/x-ndjson"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["catalog"]["version"] == "test.2" and body["summary"] == {"errors": 0, "warnings": 0}
    assert body["catalog"]["bundles"] == 2  # `far` was not in the file: kept
    assert api.get("/health", role=None).json()["catalog"]["version"] == "test.2"
    assert api.get("/bundles/newborn").json()["version"] == 1  # unchanged bundle keeps its version


def test_publish_with_errors_changes_nothing(api):
    before = api.get("/catalog").content
    revision = api.get("/health", role=None).json()["revision"]
    r = api.put("/catalog", role="reviewer", content=_broken())
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["code"] == "INVALID_CATALOG"
    (error,) = problem["errors"]
    assert error["rule"] == "FOUR_SAME_NAME" and error["kind"] == "implementation" and error["line"] > 1
    assert api.get("/catalog").content == before
    assert api.get("/health", role=None).json()["revision"] == revision


def test_publish_garbage_is_422_not_500(api):
    for body in (b"", b"not json\n", b'{"kind":"catalog","format":"other/9","version":"1"}\n', b"\xff\xfe\n"):
        r = api.put("/catalog", role="reviewer", content=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["errors"]


def test_stored_bundles_must_still_hold_against_the_new_catalog(api):
    r = api.post("/bundles", json={"id": "mine", "name": "我的", "items": ["000100004000", "000100005000"]})
    assert r.status_code == 201
    catalog = small_catalog()
    del catalog.bundles["far"]  # the file does not name them: the stored `far` and `mine` are kept
    del catalog.items["000100005000"]
    for code in [c for c, i in catalog.implementations.items() if i.item == "000100005000"]:
        del catalog.implementations[code]
    r = api.put("/catalog", role="reviewer", content=jsonl(catalog))
    assert r.status_code == 422, r.text
    assert any(e["rule"] == "UNKNOWN_REF" and e["key"] == "mine" for e in r.json()["errors"])
    assert api.get("/items/000100005000").status_code == 200


def test_a_publish_keeps_a_designers_edit_unless_asked_to_take_the_files(api):
    r = api.put("/bundles/newborn", json={"name": "在线改过的一件事", "items": NEWBORN}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    r = api.put("/catalog", role="reviewer", content=jsonl(small_catalog()))
    assert r.status_code == 200, r.text
    [kept] = r.json()["kept_bundles"]
    assert kept["id"] == "newborn" and "在线改过的一件事" in kept["message"]
    assert api.get("/bundles/newborn").json()["name"] == "在线改过的一件事"
    r = api.put("/catalog?take_bundles=true", role="reviewer", content=jsonl(small_catalog()))
    assert r.status_code == 200 and r.json()["kept_bundles"] == []
    assert api.get("/bundles/newborn").json()["name"] == "新生儿出生一件事"


def test_publish_needs_the_reviewer_role(api):
    for role, status in ((None, 401), ("portal", 403), ("designer", 403)):
        assert api.put("/catalog", role=role, content=jsonl(small_catalog())).status_code == status
    assert api.put("/catalog", role="admin", content=jsonl(small_catalog())).status_code == 200


def test_publish_body_limit(sqlite_url):
    from api.settings import Settings

    from .conftest import running

    with running(Settings(db_url=sqlite_url, token_ttl=0, max_catalog_body=1000), small_catalog()) as api:
        r = api.put("/catalog", role="reviewer", content=jsonl(small_catalog()))
        assert r.status_code == 413 and r.json()["code"] == "BODY_TOO_LARGE"

        def chunks():  # no Content-Length: the limit holds while streaming
            yield jsonl(small_catalog())

        assert api.put("/catalog", role="reviewer", content=chunks()).status_code == 413
        assert (
            api.post("/bundles", json={"id": "x" * 10, "name": "y" * 2_000_000, "items": []}).status_code
            == 413
        )


def test_validation_report_and_filters(api):
    # publish a catalog with a warning (an item nobody implements) to have something to see
    catalog = small_catalog()
    for code in [c for c, i in catalog.implementations.items() if i.item == "000100005000"]:
        del catalog.implementations[code]
    assert api.put("/catalog", role="reviewer", content=jsonl(catalog)).status_code == 200
    r = api.get("/validation", role="reviewer")
    assert r.status_code == 200
    report = r.json()
    assert report["summary"] == {"errors": 0, "warnings": 1}
    assert [(f["rule"], f["key"]) for f in report["findings"]] == [("ORPHAN_ITEM", "000100005000")]
    assert {c["region"] for c in report["conformity"]} >= {"640104", "640100", "640000"}
    assert all(c["rate"] == 1.0 for c in report["conformity"])
    assert api.get("/validation", role="reviewer", params={"severity": "error"}).json()["total"] == 0
    assert api.get("/validation", role="reviewer", params={"rule": "ORPHAN_ITEM"}).json()["total"] == 1
    scoped = api.get("/validation", role="reviewer", params={"region": "640100"}).json()
    assert {c["region"] for c in scoped["conformity"]} == {"640100", "640104", "640105"}
    assert scoped["total"] == 0
    assert api.get("/validation", role="portal").status_code == 403
    assert api.get("/validation", role="reviewer", params={"severity": "fatal"}).status_code == 400


def test_validating_an_upload_publishes_nothing(api):
    revision = api.get("/health", role=None).json()["revision"]
    r = api.post("/validation", role="reviewer", content=_broken())
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["summary"]["errors"] == 1 and report["revision"] is None
    assert report["findings"][0]["rule"] == "FOUR_SAME_NAME"
    assert api.get("/health", role=None).json()["revision"] == revision
