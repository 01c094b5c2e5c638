"""Hostile bodies and targets (issue 11, points 3, 4 and 9): refused before decoding, never 500.

On SQLite and PostgreSQL (`api`), since PostgreSQL is where a NUL used to turn into a 500.
"""

from __future__ import annotations

import json

import pytest

from api.bodies import MAX_DEPTH, control_character, nesting_depth, too_deep

from .conftest import jsonl, small_catalog

PROBLEM = "application/problem+json"
PAIR = ["000100001000", "000100002000"]


def _problem(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    if code is not None:
        assert body["code"] == code, body
    return body


def _deep(n: int) -> str:
    return "[" * n + "]" * n


def test_depth_scan_skips_strings():
    assert nesting_depth(b'{"a": [[1], {"b": "[[[[[[[["}]}') == 3
    assert nesting_depth(b'{"a": "\\"[[[[[", "b": [[]]}') == 3
    assert nesting_depth(b"[" * 500) == 500
    # brackets inside strings cannot hide a deep nest (they would, were strings counted)
    hidden = (
        b"[" * 20
        + b'"'
        + b"]" * 20
        + b'",'
        + b"[" * 20
        + b"]" * 10
        + b',"'
        + b"[" * 10
        + b'"'
        + b"]" * 10
        + b',"'
        + b"[" * 10
        + b'"'
        + b"]" * 20
    )
    assert nesting_depth(hidden) == 40 and too_deep(hidden, MAX_DEPTH)
    assert not too_deep(b'{"a": [[1], {"b": "' + b"[" * 100 + b'"}]}', MAX_DEPTH)
    assert control_character(b'{"a": "x\\ty\\n"}') is None
    assert control_character(b'{"a": "x\\\\u0000"}') is None  # an escaped backslash, then text
    for bad in (
        b'{"a": "\\u0000"}',
        b'{"a": "\\u001F"}',
        b'{"a": "\\b"}',
        b'{"a": "\\u007f"}',
        b'{"a":"\x01"}',
    ):
        assert control_character(bad) is not None, bad


@pytest.mark.parametrize(
    ("method", "url", "role", "make"),
    [
        (
            "post",
            "/workflows",
            "portal",
            lambda d: f'{{"items": ["000100001000"], "region": "640104", "x": {d}}}',
        ),
        ("post", "/bundles", "designer", lambda d: f'{{"id": "x", "name": "x", "items": {d}}}'),
        ("put", "/bundles/newborn", "designer", lambda d: f'{{"name": "x", "items": {d}}}'),
        ("post", "/tokens", "admin", lambda d: f'{{"name": {d}, "role": "portal"}}'),
    ],
)
def test_deep_json_is_400_before_decoding(api, method, url, role, make):
    for depth in (MAX_DEPTH + 1, 100_000):
        r = getattr(api, method)(
            url,
            role=role,
            content=make(_deep(depth)),
            headers={"Content-Type": "application/json", "If-Match": '"1"'},
        )
        _problem(r, 400, "NESTING_TOO_DEEP")
    assert api.get("/bundles/newborn").json()["version"] == 1


@pytest.mark.parametrize("url", ["/catalog", "/validation"])
def test_a_deep_catalog_line_is_400_naming_the_line(sqlite_api, url):
    lines = jsonl(small_catalog()).splitlines(keepends=True)
    lines.insert(3, ('{"kind": "region", "x": ' + _deep(5000) + "}\n").encode())
    body = b"".join(lines)
    call = sqlite_api.put if url == "/catalog" else sqlite_api.post
    r = call(url, role="reviewer", content=body, headers={"Content-Type": "application/x-ndjson"})
    problem = _problem(r, 400, "NESTING_TOO_DEEP")
    assert problem["errors"][0]["line"] == 4


def test_nul_and_control_characters_are_422(api):
    for name in ("a\u0000b", "a\u0001", "\u001b[31m", "a\u007f", "a\bb"):
        body = {"id": "ctl", "name": name, "items": PAIR}
        _problem(api.post("/bundles", json=body), 422, "CONTROL_CHARACTER")
        body = {"name": name, "items": PAIR}
        _problem(
            api.put("/bundles/newborn", json=body, headers={"If-Match": '"1"'}), 422, "CONTROL_CHARACTER"
        )
        _problem(api.post("/tokens", role="admin", json={"name": name, "role": "portal"}), 422)
        _problem(api.post("/workflows", role="portal", json={"items": [name], "region": "640104"}), 422)
    raw = b'{"id": "raw", "name": "a\x00b", "items": []}'
    _problem(api.post("/bundles", content=raw, headers={"Content-Type": "application/json"}), 422)
    # tab and newline are fine in free text, not in a name
    body = {"id": "tabs", "name": "两件事", "items": PAIR, "description": "第一行\n\t第二行"}
    assert api.post("/bundles", json=body).status_code == 201
    assert api.get("/bundles/tabs").json()["description"] == "第一行\n\t第二行"
    _problem(api.post("/bundles", json={**body, "id": "tab2", "name": "a\tb"}), 400)
    assert api.get("/bundles/newborn").json()["version"] == 1


def test_over_long_strings_are_refused(api):
    _problem(api.post("/bundles", json={"id": "long", "name": "长" * 501, "items": PAIR}), 400)
    _problem(
        api.post("/bundles", json={"id": "long", "name": "x", "items": PAIR, "description": "x" * 5001}), 400
    )
    _problem(api.post("/tokens", role="admin", json={"name": "n" * 201, "role": "portal"}), 400)
    _problem(api.post("/workflows", role="portal", json={"items": ["1" * 33], "region": "640104"}), 400)
    _problem(api.post("/bundles", json={"id": "x" * 201, "name": "x", "items": PAIR}), 400)


@pytest.mark.parametrize("url", ["/tokens/a%00b", "/bundles/a%00b", "/items/%01", "/regions/%00"])
def test_control_characters_in_the_path_are_422(api, url):
    r = api.delete(url, role="admin") if url.startswith("/tokens") else api.get(url)
    _problem(r, 422, "CONTROL_CHARACTER")


def test_control_characters_in_the_query_are_422(api):
    _problem(api.get("/items", params={"q": "a\x00"}), 422, "CONTROL_CHARACTER")
    _problem(api.get("/bundles/newborn/workflow", params={"region": "640104\x00"}), 422)
    assert api.get("/items", params={"q": "出生 登记"}).status_code == 200


@pytest.mark.parametrize(
    "media", [None, "text/plain", "application/xml", "application/x-www-form-urlencoded"]
)
def test_json_bodies_need_a_json_content_type(sqlite_api, media):
    headers = {} if media is None else {"Content-Type": media}
    body = json.dumps({"id": "pair", "name": "两件事", "items": PAIR}).encode()
    r = sqlite_api.post("/bundles", content=body, headers=headers)
    problem = _problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert problem["errors"][0]["field"] == "Content-Type"
    assert sqlite_api.get("/bundles/pair").status_code == 404
    wf = json.dumps({"items": PAIR, "region": "640104"}).encode()
    _problem(sqlite_api.post("/workflows", role="portal", content=wf, headers=headers), 415)
    tok = json.dumps({"name": "t", "role": "portal"}).encode()
    _problem(sqlite_api.post("/tokens", role="admin", content=tok, headers=headers), 415)
    r = sqlite_api.put("/bundles/newborn", content=body, headers={**headers, "If-Match": '"1"'})
    _problem(r, 415)


def test_json_content_types_that_are_fine(sqlite_api):
    body = json.dumps({"id": "pair", "name": "两件事", "items": PAIR}).encode()
    for i, media in enumerate(
        ("application/json", "application/json; charset=utf-8", "application/vnd.x+json")
    ):
        r = sqlite_api.post(
            "/bundles", content=body.replace(b"pair", f"pair{i}".encode()), headers={"Content-Type": media}
        )
        assert r.status_code == 201, (media, r.text)


def test_the_catalog_upload_keeps_its_media_types(sqlite_api):
    body = jsonl(small_catalog())
    for media in (None, "application/x-ndjson", "application/jsonl", "text/plain; charset=utf-8"):
        headers = {} if media is None else {"Content-Type": media}
        assert sqlite_api.put("/catalog", role="reviewer", content=body, headers=headers).status_code == 200
        assert (
            sqlite_api.post("/validation", role="reviewer", content=body, headers=headers).status_code == 200
        )
    r = sqlite_api.put("/catalog", role="reviewer", content=body, headers={"Content-Type": "application/xml"})
    _problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_the_role_check_comes_before_the_body_check(sqlite_api):
    r = sqlite_api.post("/bundles", role=None, content=b"[[[[", headers={"Content-Type": "text/plain"})
    _problem(r, 401)


def test_huge_headers_are_431(sqlite_api):
    r = sqlite_api.get("/regions", headers={"X-Big": "x" * (1 << 20)})
    _problem(r, 431, "HEADERS_TOO_LARGE")
