"""Roles: who may read, write bundles, publish, manage tokens. 401/403 change nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.settings import Settings

from .conftest import Api, running, small_catalog

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


@pytest.fixture(scope="module")
def closed_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """Public reads turned off (`ONETHING_PUBLIC_READ=0`)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('closed') / 'closed.db'}"
    with running(Settings(db_url=url, token_ttl=0, public_read=False), small_catalog()) as api:
        yield api


@pytest.mark.parametrize("url", READS)
def test_reads_need_a_token_when_public_reads_are_off(closed_api, url):
    sqlite_api = closed_api
    r = sqlite_api.get(url, role=None)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert r.headers["content-type"] == "application/problem+json"
    assert sqlite_api.get(url, headers={"Authorization": "Bearer not-a-token"}, role=None).status_code == 401
    assert sqlite_api.get(url, headers={"Authorization": "Basic dXNlcjpwdw=="}, role=None).status_code == 401
    for role in ("portal", "designer", "reviewer", "admin"):
        assert sqlite_api.get(url, role=role).status_code == 200, role


@pytest.mark.parametrize("url", READS)
def test_published_reads_are_public_but_a_token_sent_is_checked(sqlite_api, url):
    expected = 401 if url == "/catalog" else 200  # the export is not a published read
    assert sqlite_api.get(url, role=None).status_code == expected
    assert sqlite_api.get(url, headers={"Authorization": "Bearer not-a-token"}, role=None).status_code == 401


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
