"""Published reads without a token (and their cache headers), the headers every answer carries,
the per-client rate limit, and the API docs served without a CDN."""

from __future__ import annotations

from api.settings import Settings

from .conftest import running, small_catalog

PUBLIC = ("/regions", "/items", "/bundles")


def test_published_reads_need_no_token_and_are_publicly_cacheable(sqlite_api) -> None:
    bundle = sqlite_api.get("/bundles", role=None).json()["bundles"][0]["id"]
    region = sqlite_api.get("/regions", role=None).json()
    for url in (*PUBLIC, f"/bundles/{bundle}"):
        r = sqlite_api.get(url, role=None)
        assert r.status_code == 200, (url, r.text)
        assert r.headers["cache-control"].startswith("public, max-age="), url
    assert region
    again = sqlite_api.get(f"/bundles/{bundle}", role=None)
    assert (
        sqlite_api.get(
            f"/bundles/{bundle}", role=None, headers={"If-None-Match": again.headers["etag"]}
        ).status_code
        == 304
    )
    # Writes, reviewer data and token management still need their roles.
    assert sqlite_api.post("/bundles", role=None, json={}).status_code == 401
    assert sqlite_api.get("/checks", role=None).status_code == 401
    assert sqlite_api.get("/tokens", role=None).status_code == 401
    # A token that is sent is still checked.
    assert sqlite_api.client.get("/regions", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_public_reads_can_be_turned_off(sqlite_url: str) -> None:
    with running(Settings(db_url=sqlite_url, token_ttl=0, public_read=False), small_catalog()) as api:
        for url in PUBLIC:
            assert api.get(url, role=None).status_code == 401
        assert not api.get("/regions").headers.get("cache-control", "").startswith("public")
        assert api.get("/pages/bundles", role=None, follow_redirects=False).status_code in (302, 303, 401)


def test_every_answer_carries_the_security_headers(sqlite_api) -> None:
    for url in ("/", "/regions", "/pages/login", "/schema", "/nowhere"):
        r = sqlite_api.get(url, role=None)
        assert "default-src 'self'" in r.headers["content-security-policy"], url
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    favicon = sqlite_api.client.get("/favicon.ico")
    assert favicon.status_code == 200 and favicon.headers["content-type"].startswith("image/svg")


def test_the_docs_page_loads_nothing_from_elsewhere(sqlite_api) -> None:
    page = sqlite_api.get("/schema", role=None)
    assert page.status_code == 200
    assert "https://" not in page.text and "src='http" not in page.text  # no CDN
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"):
        assert asset in page.text
        assert sqlite_api.get(asset, role=None).status_code == 200


def test_a_client_past_the_rate_limit_is_told_when_to_come_back(sqlite_url: str) -> None:
    with running(Settings(db_url=sqlite_url, token_ttl=0, rate_limit=3), small_catalog()) as api:
        answers = [api.get("/regions", role=None) for _ in range(4)]
        assert [r.status_code for r in answers[:3]] == [200, 200, 200]
        assert answers[3].status_code == 429
        assert int(answers[3].headers["retry-after"]) > 0
        assert api.get("/health", role=None).status_code == 200  # health checks are not counted
