"""Every state-changing page form needs its session's form token (issue 18 point 5): a form
posted from another site — which the SameSite=Lax cookie alone did not stop for a same-site
attacker, nor for a form without Origin or Referer — is refused and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from api.settings import Settings
from tests.api.conftest import Api, running, small_catalog

LOGIN = re.compile(r'name="csrf" value="([^"]+)"')
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
NEWBORN = ["000100001000", "000100002000", "000100003000"]


@pytest.fixture
def site(sqlite_url: str) -> Iterator[Api]:
    with running(Settings(db_url=sqlite_url, token_ttl=0), small_catalog()) as api:
        yield api


def sign_in(api: Api, role: str) -> str:
    """Signs the client in; returns the form token its pages carry."""
    api.client.cookies.clear()
    form = api.client.get("/pages/login")
    r = api.client.post(
        "/pages/login",
        data={"token": api.tokens[role], "csrf": LOGIN.search(form.text).group(1), "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = api.client.get("/pages/designer")
    assert page.status_code == 200
    tokens = set(TOKEN.findall(page.text))
    assert len(tokens) == 1  # one token, in the logout form and on the save button
    return tokens.pop()


def signed_in(api: Api) -> bool:
    r = api.client.get("/pages/designer", follow_redirects=False)
    return r.status_code == 200


def test_logout_needs_the_token(site: Api):
    token = sign_in(site, "portal")
    cross_site = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    for data in ({}, {"form_token": "0" * 64}, {"form_token": ""}):
        r = site.client.post("/pages/logout", data=data, headers=cross_site, follow_redirects=False)
        assert r.status_code == 403 and "表单已失效" in r.text
        assert signed_in(site)  # still signed in
    r = site.client.post("/pages/logout", data={"form_token": token}, follow_redirects=False)
    assert r.status_code == 303 and not signed_in(site)
    # a token is per session: the old one is no good for the next
    new = sign_in(site, "portal")
    assert new != token
    assert site.client.post("/pages/logout", data={"form_token": token}).status_code == 403


def test_designer_save_and_delete_need_the_token(site: Api):
    token = sign_in(site, "designer")
    form = {"id": "pair", "name": "两件事", "items": NEWBORN[:2], "region": "640104"}
    for extra in ({}, {"form_token": token[:-1] + ("0" if token[-1] != "0" else "1")}):
        r = site.client.post("/pages/designer/save", data={**form, **extra}, follow_redirects=False)
        assert r.status_code == 403, r.text
        assert site.store.bundle("pair") is None
    r = site.client.post("/pages/designer/save", data={**form, "form_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert site.store.bundle("pair") is not None
    delete = {"id": "pair", "version": "1", "region": "640104"}
    assert site.client.post("/pages/designer/delete", data=delete).status_code == 403
    assert site.store.bundle("pair") is not None
    r = site.client.post("/pages/designer/delete", data={**delete, "form_token": token}, follow_redirects=False)
    assert r.status_code == 303 and site.store.bundle("pair") is None


def test_submissions_need_the_token(site: Api):
    token = sign_in(site, "reviewer")
    page = site.client.get("/pages/submissions")
    assert page.status_code == 200 and token in page.text
    body = site.client.get("/catalog", headers=site.auth("reviewer")).content
    upload = {"file": ("list.jsonl", body, "application/x-ndjson")}
    r = site.client.post("/pages/submissions", data={"note": "x"}, files=upload, follow_redirects=False)
    assert r.status_code == 403 and site.store.submissions()[0] == 0
    r = site.client.post(
        "/pages/submissions", data={"note": "x", "form_token": token}, files=upload, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    [held] = site.store.submissions()[1]
    assert token in site.client.get(f"/pages/submissions/{held.id}").text
    for action, data in (("reject", {"reason": "不要"}), ("approve", {})):
        r = site.client.post(f"/pages/submissions/{held.id}/{action}", data=data, follow_redirects=False)
        assert r.status_code == 403
        assert site.store.submissions()[1][0].state == "pending"
    r = site.client.post(
        f"/pages/submissions/{held.id}/reject", data={"reason": "不要", "form_token": token}, follow_redirects=False
    )
    assert r.status_code == 303 and site.store.submissions()[1][0].state == "rejected"


def test_a_post_without_a_session_is_sent_to_sign_in(site: Api):
    site.client.cookies.clear()
    r = site.client.post("/pages/designer/save", data={"id": "x"}, follow_redirects=False)
    assert r.status_code == 401 and site.store.bundle("x") is None
    assert site.client.post("/pages/logout", follow_redirects=False).status_code == 303  # nothing to end
