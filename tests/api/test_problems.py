"""Every error is an RFC 9457 problem document, including Litestar's own."""

from __future__ import annotations

import pytest

PROBLEM = "application/problem+json"


def _is_problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


def test_unknown_route_and_method(sqlite_api):
    _is_problem(sqlite_api.get("/no/such/thing"), 404)
    body = _is_problem(sqlite_api.client.patch("/bundles/newborn"), 405)
    assert body["type"] == "about:blank"
    r = sqlite_api.client.post("/health")
    assert "GET" in r.headers["allow"]


def test_bad_json_and_bad_fields_name_the_field(sqlite_api):
    body = _is_problem(
        sqlite_api.post("/bundles", content=b"{not json", headers={"Content-Type": "application/json"}), 400
    )
    assert body["code"] == "INVALID_REQUEST"
    body = _is_problem(sqlite_api.post("/bundles", json={"id": "a", "name": "b", "items": "nope"}), 400)
    assert body["errors"] and body["errors"][0]["message"]
    body = _is_problem(sqlite_api.get("/items", params={"limit": "many"}), 400)
    assert body["errors"][0]["field"] == "limit"


@pytest.mark.parametrize("url", ["/regions/%00", "/items/%F0%9F%92%A9", "/bundles/..%2F..%2Fetc"])
def test_odd_paths_are_not_500(sqlite_api, url):
    assert sqlite_api.get(url).status_code in (400, 404, 422)


def test_large_ordinary_bodies_are_413(sqlite_api):
    r = sqlite_api.post(
        "/workflows",
        role="portal",
        content=b"[" + b"1," * 1_000_000 + b"1]",
        headers={"Content-Type": "application/json"},
    )
    _is_problem(r, 413)
