"""Roles: who may read, write bundles, publish, manage tokens. 401/403 change nothing."""

from __future__ import annotations

import pytest

READS = [
    "/regions",
    "/regions/640104",
    "/regions/640104/items",
    "/items",
    "/items/000100001000",
    "/bundles",
    "/bundles/newborn",
    "/bundles/newborn/workflow?region=640104",
    "/bundles/newborn/guide?region=640104",
    "/catalog",
]


@pytest.mark.parametrize("url", READS)
def test_reads_need_a_token(sqlite_api, url):
    r = sqlite_api.get(url, role=None)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert r.headers["content-type"] == "application/problem+json"
    assert sqlite_api.get(url, headers={"Authorization": "Bearer not-a-token"}, role=None).status_code == 401
    assert sqlite_api.get(url, headers={"Authorization": "Basic dXNlcjpwdw=="}, role=None).status_code == 401
    for role in ("portal", "designer", "reviewer", "admin"):
        assert sqlite_api.get(url, role=role).status_code == 200, role


def test_bundle_writes_need_designer(api):
    body = {"id": "pair", "name": "两件事", "items": ["000100001000", "000100002000"]}
    for role, status in ((None, 401), ("portal", 403), ("reviewer", 403)):
        assert api.post("/bundles", role=role, json=body).status_code == status
        assert (
            api.put("/bundles/newborn", role=role, json=body, headers={"If-Match": '"1"'}).status_code
            == status
        )
        assert api.delete("/bundles/newborn", role=role, headers={"If-Match": '"1"'}).status_code == status
    assert [b["id"] for b in api.get("/bundles").json()["bundles"]] == ["far", "newborn"]
    assert api.get("/bundles/newborn").json()["version"] == 1
    assert api.post("/bundles", role="admin", json=body).status_code == 201


def test_tokens_through_the_api(api):
    for role in ("portal", "designer", "reviewer"):
        assert api.get("/tokens", role=role).status_code == 403
        assert api.post("/tokens", role=role, json={"name": "x", "role": "admin"}).status_code == 403
    r = api.post("/tokens", role="admin", json={"name": "kiosk", "role": "portal"})
    assert r.status_code == 201
    token = r.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/regions", role=None, headers=headers).status_code == 200
    assert api.post("/bundles", role=None, headers=headers, json={}).status_code == 403
    listed = api.get("/tokens", role="admin").json()["tokens"]
    assert {"name": "kiosk", "role": "portal"} in [{"name": t["name"], "role": t["role"]} for t in listed]
    assert token not in api.get("/tokens", role="admin").text
    assert api.delete("/tokens/kiosk", role="admin").json() == {"name": "kiosk", "revoked": 1}
    assert api.get("/regions", role=None, headers=headers).status_code == 401
    assert api.delete("/tokens/kiosk", role="admin").status_code == 404
    assert api.post("/tokens", role="admin", json={"name": "x", "role": "root"}).status_code == 400


def test_health_and_schema_are_public(sqlite_api):
    assert sqlite_api.get("/health", role=None).status_code == 200
    schema = sqlite_api.get("/schema/openapi.json", role=None)
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/regions",
        "/items",
        "/bundles",
        "/bundles/{bundle_id}/workflow",
        "/workflows",
        "/validation",
        "/catalog",
        "/tokens",
        "/health",
    ):
        assert path in paths, path
    assert schema.json()["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
