"""Pages sign-in (issue 11, point 10): a server-side session whose id is all the browser holds,
ended at logout and when its token is revoked; login CSRF refused; `Secure` behind a trusted
proxy; failed sign-ins counted and rate-limited; token lookups in a bounded LRU."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa

from api.auth import TokenChecker
from api.settings import Settings
from catalog.store.schema import PageSessionRow
from catalog.store.tokens import token_digest
from tests.conftest import onething

from .conftest import Api, running, serving, small_catalog

FORM = re.compile(r'name="csrf" value="([^"]+)"')


def _form(api: Api) -> str:
    r = api.client.get("/pages/login?next=/pages/regions")
    assert r.status_code == 200
    assert "onething_login" in r.headers["set-cookie"]
    return FORM.search(r.text).group(1)


def _sign_in(api: Api, token: str, **headers: str):
    csrf = _form(api)
    return api.client.post(
        "/pages/login",
        data={"token": token, "next": "/pages/regions", "csrf": csrf},
        headers=headers,
        follow_redirects=False,
    )


def _page(api: Api, session_id: str, url: str = "/pages/stats"):  # a staff page: needs a session
    api.client.cookies.clear()
    api.client.cookies.set("onething_session", session_id)
    return api.client.get(url, follow_redirects=False)


def _session_rows(api: Api) -> list:
    with api.store.engine.connect() as conn:
        return list(conn.execute(sa.select(PageSessionRow.__table__)))


def test_the_cookie_holds_a_session_id_never_the_token(api):
    token = api.tokens["portal"]
    r = _sign_in(api, token)
    assert r.status_code == 303 and r.headers["location"] == "/pages/regions"
    set_cookie = "\n".join(r.headers.get_list("set-cookie"))
    assert token not in set_cookie
    session_id = r.cookies["onething_session"]
    assert (
        len(session_id) >= 40
        and "HttpOnly" in set_cookie
        and "SameSite=lax" in set_cookie.replace("Lax", "lax")
    )
    rows = _session_rows(api)
    assert [(row.digest, row.token_digest) for row in rows] == [(token_digest(session_id), token_digest(token))]
    assert _page(api, session_id).status_code == 200
    # signing out (with the form's token) ends the session: the same cookie no longer signs anyone in
    api.client.cookies.clear()
    api.client.cookies.set("onething_session", session_id)
    form_token = re.search(r'name="form_token" value="([^"]+)"', api.client.get("/pages/regions").text).group(1)
    out = api.client.post("/pages/logout", data={"form_token": form_token}, follow_redirects=False)
    assert out.status_code == 303 and 'onething_session=""' in out.headers["set-cookie"]
    assert _session_rows(api) == []
    r = _page(api, session_id)
    assert r.status_code == 303 and r.headers["location"].startswith("/pages/login")


def test_revoking_the_token_ends_its_sessions(api):
    created = api.post("/tokens", role="admin", json={"name": "kiosk", "role": "reviewer"}).json()
    session_id = _sign_in(api, created["token"]).cookies["onething_session"]
    assert _page(api, session_id, "/pages/review").status_code == 200
    assert api.delete("/tokens/kiosk", role="admin").status_code == 200
    r = _page(api, session_id, "/pages/review")
    assert r.status_code == 303 and r.headers["location"].startswith("/pages/login")
    assert _session_rows(api) == []


def test_cross_site_sign_in_sets_no_cookie(sqlite_api):
    token = sqlite_api.tokens["admin"]
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        r = _sign_in(sqlite_api, token, **headers)
        assert r.status_code == 403, headers
        assert "onething_session" not in r.headers.get("set-cookie", "")
    # a form posted without the double-submit value (a hand-made cross-site form) is refused too
    sqlite_api.client.cookies.clear()
    r = sqlite_api.client.post("/pages/login", data={"token": token}, follow_redirects=False)
    assert r.status_code == 403 and "onething_session" not in r.headers.get("set-cookie", "")
    assert _session_rows(sqlite_api) == []
    # same origin is fine
    r = _sign_in(sqlite_api, token, Origin="http://testserver.local", **{"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303 and r.cookies["onething_session"]


@contextmanager
def _serving(sqlite_url: str, **env: str) -> Iterator[str]:
    """`onething serve` for real (its peer is 127.0.0.1, which uvicorn's own proxy handling would
    trust), with `env` added; yields the base URL."""
    with serving(
        sqlite_url,
        env={**os.environ, "ONETHING_SIGNIN_FAILURES": "2", **env},
        ok=(200, 503),
        stderr=subprocess.DEVNULL,
    ) as (_, base):
        yield base


def _attempt(base: str, token: str, **headers: str) -> httpx.Response:
    with httpx.Client(base_url=base, headers=headers) as client:
        form = client.get("/pages/login")
        csrf = FORM.search(form.text).group(1)
        return client.post("/pages/login", data={"token": token, "csrf": csrf, "next": "/"})


def test_a_forged_forwarded_for_from_an_unlisted_peer_does_not_reset_the_lockout(sqlite_url):
    """Issue 18 point 5: by default no peer is a trusted proxy, loopback included: a new
    X-Forwarded-For on every try is still the same client, locked out after 2 failures, and a
    forged X-Forwarded-Proto does not make cookies Secure."""
    with _serving(sqlite_url) as base:
        for n in range(2):
            assert _attempt(base, "wrong", **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code == 401
        r = _attempt(base, "wrong", **{"X-Forwarded-For": "198.51.100.9"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        r = httpx.get(f"{base}/pages/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" not in r.headers["set-cookie"]


def test_a_listed_proxy_names_the_client(sqlite_url):
    with _serving(sqlite_url, ONETHING_TRUSTED_PROXIES="10.0.0.1, 127.0.0.1") as base:
        client = {"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}  # through two listed proxies
        for _ in range(2):
            assert _attempt(base, "wrong", **client).status_code == 401
        assert _attempt(base, "wrong", **client).status_code == 429  # that client is locked out
        # another client behind the same proxy is not; a hop the client wrote itself in front of
        # the real one changes nothing (the first unlisted address from the end is the client)
        assert _attempt(base, "wrong", **{"X-Forwarded-For": "203.0.113.8"}).status_code == 401
        forged = {"X-Forwarded-For": "192.0.2.1, 203.0.113.7"}
        assert _attempt(base, "wrong", **forged).status_code == 429
        r = httpx.get(f"{base}/pages/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in r.headers["set-cookie"]


def test_trusted_proxies_are_addresses_or_networks(sqlite_url):
    from api.proxies import TrustedProxies
    from api.settings import SettingsError

    trusted = TrustedProxies(["10.0.0.0/8", "::1"])
    assert trusted.client("10.1.2.3", "203.0.113.7:4321, 10.9.9.9") == "203.0.113.7"
    assert trusted.client("::1", "[2001:db8::1]:80") == "2001:db8::1"
    assert trusted.client("192.0.2.1", "203.0.113.7") is None  # not a listed peer: the peer it is
    assert TrustedProxies([]).client("127.0.0.1", "203.0.113.7") is None
    assert Settings.from_env({}).trusted_proxies == ()
    for env in ({"ONETHING_TRUSTED_PROXIES": "10.0.0.300"}, {"ONETHING_TRUST_PROXY": "1"}):
        with pytest.raises(SettingsError):
            Settings.from_env(env)
    done = onething("serve", "--db", sqlite_url, env={**os.environ, "ONETHING_TRUSTED_PROXIES": "proxy.local"})
    assert done.returncode == 2 and "proxy.local" in done.stderr


def test_failed_sign_ins_are_counted_and_rate_limited(sqlite_url, captured):
    settings = Settings(db_url=sqlite_url, token_ttl=0, signin_failures=3, signin_window=600)
    with running(settings, small_catalog()) as api:
        for _ in range(3):
            r = _sign_in(api, "not-a-token")
            assert r.status_code == 401 and "onething_session" not in r.headers.get("set-cookie", "")
        r = _sign_in(api, api.tokens["admin"])  # even a good token: this client must wait
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert "onething_session" not in r.headers.get("set-cookie", "")
        assert api.client.app.state.signins.failures == 3
        # the API's bearer tokens are not affected
        assert api.get("/regions").status_code == 200
    failed = [r.getMessage() for r in captured.records if "failed sign-in" in r.getMessage()]
    assert len(failed) == 3 and "testclient" in failed[0]


def test_token_lookups_are_a_bounded_lru(sqlite_api):
    store = sqlite_api.store
    checker = TokenChecker(store, ttl=60, size=100)
    good = sqlite_api.tokens["portal"]
    assert checker.role(good) == "portal"
    for i in range(1000):
        assert checker.role(f"unknown-{i}") is None
        if i % 50 == 0:
            assert checker.role(good) == "portal"  # recently used: kept
    assert len(checker._seen) == 100
    assert checker.cached(good).role == "portal"  # the caller (name, role, region) is kept
    assert checker.cached("unknown-0") is False  # evicted, looked up again next time
