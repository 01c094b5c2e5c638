"""The bundle checks across regions: `GET /bundles?region=` (bundles offered there, their failed
checks there) and the reviewers' report `GET /checks` (every bundle × every region where it
is offered), on SQLite and PostgreSQL."""

from __future__ import annotations

from bundler import bundle_checks

from .conftest import FOOD, LICENSE, situated_catalog


def test_bundles_offered_in_a_region_with_their_failed_checks(situated):
    r = situated.get("/bundles", params={"region": "640104"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["region"] == "640104" and body["unavailable"] == []
    assert {b["id"]: b["checks"]["failed"] for b in body["bundles"]} == {
        "local": ["ONE_VISIT", "PROOF"],
        "shop": ["ONE_VISIT", "ONE_WINDOW", "PROOF", "TARGET_DAYS"],
    }
    assert body["bundles"][0]["version"] == 1 and body["bundles"][0]["items"] == [LICENSE, FOOD]
    # 大武口区: `local` is not offered there, `shop` is but cannot be composed
    body = situated.get("/bundles", params={"region": "640202"}).json()
    assert body["bundles"] == []
    assert [(u["id"], u["error"]) for u in body["unavailable"]] == [("shop", "NOT_IMPLEMENTED")]
    # the nation: neither is offered; without a region: every bundle, as before
    assert situated.get("/bundles", params={"region": "000000"}).json() == {
        "region": "000000",
        "bundles": [],
        "unavailable": [],
    }
    assert [b["id"] for b in situated.get("/bundles").json()["bundles"]] == ["local", "shop"]
    r = situated.get("/bundles", params={"region": "999999"})
    assert r.status_code == 422 and r.json()["code"] == "UNKNOWN_REGION"


def test_checks_report_every_bundle_in_every_region_where_offered(situated):
    assert situated.get("/checks", role="portal").status_code == 403
    assert situated.get("/checks", role="designer").status_code == 403
    r = situated.get("/checks", role="reviewer")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["revision"] == 1 and report["total"] == 9 and report["limit"] == 1000
    rows = {(row["bundle"], row["region"]): row for row in report["rows"]}
    # local: 银川 and below; shop: 宁夏 and below
    assert sorted(rows) == sorted(
        [("local", c) for c in ("640100", "640104", "640105")]
        + [("shop", c) for c in ("640000", "640100", "640104", "640105", "640200", "640202")]
    )
    catalog = situated_catalog()
    for (bundle, region), row in rows.items():
        (expected,) = bundle_checks(catalog, bundle, [region])
        assert [c["check"] for c in row["failed"]] == [c.check for c in expected.failed]
        assert (row["error"] or {}).get("error") == (expected.error.error if expected.error else None)
    assert rows["shop", "640104"]["failed"][0]["message"].startswith("需到现场 2 次")
    assert rows["shop", "640202"]["error"]["error"] == "NOT_IMPLEMENTED"
    summary = {s["bundle"]: s for s in report["summary"]}
    assert summary["shop"] == {
        "bundle": "shop",
        "name": "开店一件事",
        "regions": 6,
        "passing": 0,
        "failed": {"ONE_VISIT": 1, "ONE_WINDOW": 1, "PROOF": 3, "TARGET_DAYS": 1},
        "errors": {"NOT_IMPLEMENTED": 3},
    }
    assert summary["local"]["failed"] == {"ONE_VISIT": 1, "PROOF": 3}


def test_checks_report_filters_and_pages(situated):
    def get(**params):
        r = situated.get("/checks", role="reviewer", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    assert [(r["bundle"], r["region"]) for r in get(check="ONE_VISIT")["rows"]] == [
        ("local", "640104"),
        ("shop", "640104"),
    ]
    assert get(check="ONE_WINDOW")["total"] == 1
    only = get(bundle="local", region="640100")
    assert [r["region"] for r in only["rows"]] == ["640100", "640104", "640105"]
    assert [s["bundle"] for s in only["summary"]] == ["local"]
    assert get(region="640200")["total"] == 2
    first, second = get(limit=4), get(limit=4, offset=4)
    everything = get()["rows"]
    assert first["rows"] + second["rows"] == everything[:8] and first["total"] == 9
    for bad in ({"limit": 1001}, {"limit": 0}, {"offset": -1}, {"check": "FAST"}):
        assert situated.get("/checks", role="reviewer", params=bad).status_code == 400, bad
    assert situated.get("/checks", role="reviewer", params={"bundle": "nope"}).status_code == 404
    r = situated.get("/checks", role="reviewer", params={"region": "999999"})
    assert r.status_code == 422 and r.json()["code"] == "UNKNOWN_REGION"


def test_a_bundle_write_moves_the_report_and_the_listing(situated):
    before = situated.get("/checks", role="reviewer", params={"bundle": "local"}).json()
    assert before["total"] == 3
    assert [b["id"] for b in situated.get("/bundles", params={"region": "640105"}).json()["bundles"]] == [
        "local",
        "shop",
    ]
    # Replacing a bundle through the API keeps name, items and description: it is offered everywhere now.
    r = situated.put(
        "/bundles/local",
        json={"name": "银川开店一件事", "items": [LICENSE, FOOD]},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    after = situated.get("/checks", role="reviewer", params={"bundle": "local"}).json()
    assert after["total"] == 7  # every region of the catalog
    nation = situated.get("/bundles", params={"region": "000000"}).json()
    assert [(u["id"], u["error"]) for u in nation["unavailable"]] == [("local", "NOT_IMPLEMENTED")]
