"""Reads: health, regions, items, the catalog export — against SQLite and PostgreSQL."""

from __future__ import annotations

from catalog.validate import load_bytes

from .conftest import jsonl, small_catalog


def test_health_is_public_and_summarises_the_catalog(api):
    r = api.get("/health", role=None)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["cache"] == "memory"
    assert body["revision"] >= 1
    assert body["catalog"] == {
        "version": "test.1",
        "title": "测试目录",
        "regions": 7,
        "materials": 6,
        "fields": 2,
        "items": 5,
        "implementations": 6,
        "bundles": 2,
    }


def test_health_before_any_publish(empty_api):
    r = empty_api.get("/health", role=None)
    assert r.status_code == 200 and r.json()["catalog"] is None
    r = empty_api.get("/regions")
    assert r.status_code == 409 and r.json()["code"] == "NO_CATALOG"


def test_region_tree(api):
    r = api.get("/regions")
    assert r.status_code == 200
    tree = r.json()
    assert tree["count"] == 7
    (root,) = tree["roots"]
    assert root["code"] == "000000"
    (nx,) = root["children"]
    assert nx["code"] == "640000"
    assert [c["code"] for c in nx["children"]] == ["640100", "640200"]
    assert [c["code"] for c in nx["children"][0]["children"]] == ["640104", "640105"]


def test_regions_by_level_or_parent_come_a_page_at_a_time(api):
    """`level` and `parent` page the regions by code (`next` to the page after); the tree
    without them is as before."""
    counties = api.get("/regions?level=county&limit=1").json()
    assert counties["total"] == 3 and counties["limit"] == 1
    got = [r["code"] for r in counties["regions"]]
    while counties["next"] is not None:
        counties = api.get(f"/regions?level=county&limit=1&after={counties['next']}").json()
        got.extend(r["code"] for r in counties["regions"])
    assert got == ["640104", "640105", "640202"]
    under = api.get("/regions?parent=640000").json()
    assert under["regions"] == [
        {"code": "640100", "name": under["regions"][0]["name"], "level": "city", "parent": "640000", "children": 2},
        {"code": "640200", "name": under["regions"][1]["name"], "level": "city", "parent": "640000", "children": 1},
    ]
    assert under["next"] is None and under["total"] == 2
    assert api.get("/regions?parent=640100&level=city").json()["regions"] == []
    assert api.get("/regions?parent=999999").status_code == 404
    assert api.get("/regions?level=planet").status_code == 400


def test_one_region_has_its_path(api):
    r = api.get("/regions/640104")
    assert r.json()["path"] == ["640104", "640100", "640000", "000000"]
    assert api.get("/regions/640100").json()["children"] == ["640104", "640105"]
    r = api.get("/regions/999999")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_items_effective_in_a_region_resolve_to_the_nearest_level(api):
    r = api.get("/regions/640104/items")
    assert r.status_code == 200
    page = r.json()
    got = {e["item"]: (e["region"], e["level"]) for e in page["items"]}
    assert got == {
        "000100001000": ("640104", "county"),
        "000100002000": ("640100", "city"),
        "000100003000": ("640000", "province"),
    }
    assert page["total"] == 3
    far = {e["item"] for e in api.get("/regions/640202/items").json()["items"]}
    assert far == {"000100003000", "000100004000", "000100005000"}
    page = api.get("/regions/640104/items", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 3 and [e["item"] for e in page["items"]] == ["000100002000"]


def test_item_search_by_name_code_type_region_with_pagination(api):
    def codes(**params):
        r = api.get("/items", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    assert codes()["total"] == 5
    assert [i["code"] for i in codes(q="出生")["items"]] == ["000100001000", "000100002000"]
    assert [i["code"] for i in codes(code="00010000300")["items"]] == ["000100003000"]
    assert codes(type="01")["total"] == 5 and codes(type="20")["total"] == 0
    assert {i["code"] for i in codes(region="640104")["items"]} == {
        "000100001000",
        "000100002000",
        "000100003000",
    }
    page = codes(limit=2, offset=4)
    assert page["total"] == 5 and len(page["items"]) == 1 and page["offset"] == 4
    assert codes(q="出生")["items"][0]["implementations"] == 2
    assert api.get("/items", params={"type": "99"}).status_code == 400
    assert api.get("/items", params={"region": "123456"}).status_code == 404
    assert api.get("/items", params={"limit": 0}).status_code == 400


def test_item_with_implementations_side_by_side(api):
    r = api.get("/items/000100001000")
    assert r.status_code == 200
    detail = r.json()
    assert detail["item"]["name"] == "出生医学证明签发"
    views = detail["implementations"]
    assert [v["implementation"]["region"] for v in views] == ["640104", "640105"]
    assert views[0]["region_name"] == "兴庆区" and views[0]["level"] == "county"
    assert [q["req"] for q in views[0]["requirements"]] == ["identity", "layout"]
    assert views[0]["findings"] == []
    assert api.get("/items/000199999000").status_code == 404


def test_catalog_export_round_trips(api):
    r = api.get("/catalog")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    catalog, report = load_bytes(r.content)
    assert report.ok
    expected = small_catalog()
    assert catalog.items == expected.items and catalog.implementations == expected.implementations
    assert catalog.bundles == expected.bundles
    again = api.get("/catalog", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert jsonl(catalog) == r.content
