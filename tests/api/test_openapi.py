"""The OpenAPI document says what the server does (issue 11, point 8); the fuzz of every
operation with every schemathesis check is `test_fuzz.py`."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def document(sqlite_api) -> dict:
    return sqlite_api.get("/schema/openapi.json", role=None).json()


def test_if_match_is_documented_where_it_is_required(document):
    for method in ("put", "delete"):
        operation = document["paths"]["/bundles/{bundle_id}"][method]
        header = next(p for p in operation["parameters"] if p["name"] == "If-Match")
        assert header["in"] == "header" and header["required"] is True
        assert {"412", "428"} <= operation["responses"].keys()
    revoke = document["paths"]["/tokens/{name}"]["delete"]
    assert not {"412", "428"} & revoke["responses"].keys()
    assert not any(p["name"] == "If-Match" for p in revoke.get("parameters", []))


def test_bodies_keep_their_limits_and_refuse_unknown_fields(document):
    schemas = document["components"]["schemas"]
    for name in ("BundleCreate", "BundleReplace", "WorkflowRequest", "TokenCreate"):
        assert schemas[name]["additionalProperties"] is False, name
    item = schemas["BundleCreate"]["properties"]["items"]["items"]
    assert item["maxLength"] == 32 and item["minLength"] == 1 and item["pattern"]
    assert schemas["WorkflowRequest"]["properties"]["items"]["items"]["maxLength"] == 32
    assert "\\x00" in schemas["BundleCreate"]["properties"]["name"]["pattern"]
    post = document["paths"]["/bundles"]["post"]["responses"]
    assert {"415", "422", "503"} <= post.keys()


def test_health_is_public_in_the_document_too(document):
    assert document["paths"]["/health"]["get"]["security"] == []
    assert document["security"] == [{"bearer": []}]
    assert document["paths"]["/regions"]["get"]["security"] == [{}, {"bearer": []}]  # a public read
    assert "security" not in document["paths"]["/catalog"]["get"]


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("/bundles", "GET, OPTIONS, POST"),
        ("/bundles/newborn", "DELETE, GET, OPTIONS, PUT"),
        ("/catalog", "GET, OPTIONS, PUT"),
        ("/health", "GET, OPTIONS"),
        ("/tokens", "GET, OPTIONS, POST"),
        ("/tokens/x", "DELETE, OPTIONS"),
        ("/bundles/newborn/workflow", "GET, OPTIONS"),
    ],
)
def test_options_lists_every_method_and_needs_no_token(sqlite_api, url, allow):
    r = sqlite_api.client.options(url)
    assert r.status_code == 204 and r.headers["allow"] == allow


def test_unknown_query_parameters_are_400(sqlite_api):
    r = sqlite_api.get("/validation", role="reviewer", params={"limit": 1, "": "x"})
    assert r.status_code == 400 and r.json()["code"] == "UNKNOWN_PARAMETER"
    r = sqlite_api.get("/items", params={"qq": "出生"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "qq"
    assert sqlite_api.get("/items", params={"q": "出生", "limit": 5}).status_code == 200


def test_refusals_of_valid_requests_are_declared(document, sqlite_api):
    """Issue 18 point 6: what the server refuses of a schema-valid request is in the document,
    status and code, and the server answers with what it declares."""
    paths = document["paths"]
    listed = paths["/bundles"]["get"]
    assert listed["x-refusals"] == {"422": ["UNKNOWN_REGION"]}
    assert "UNKNOWN_REGION" in listed["responses"]["422"]["description"]
    r = sqlite_api.get("/bundles?region=999999")
    assert r.status_code == 422 and r.json()["code"] == "UNKNOWN_REGION"
    created = paths["/bundles"]["post"]
    assert created["x-refusals"]["409"] == ["BUNDLE_EXISTS"] and "409" in created["responses"]
    body = {"id": "newborn", "name": "x", "items": ["000100001000", "000100002000"]}
    r = sqlite_api.post("/bundles", json=body)
    assert r.status_code == 409 and r.json()["code"] == "BUNDLE_EXISTS"
    workflow = paths["/bundles/{bundle_id}/workflow"]["get"]
    assert {"UNKNOWN_REGION", "UNKNOWN_ANSWER"} <= set(workflow["x-refusals"]["422"])
    answer = next(p for p in workflow["parameters"] if p["name"] == "answer")
    assert "\\x00" in json.dumps(answer["schema"])  # each item: what BodyGuard refuses, said
    for method in ("put", "delete"):
        assert paths["/bundles/{bundle_id}"][method]["x-refusals"]["412"] == ["STALE_VERSION"]


def test_a_list_of_one_shape_or_another_says_any_of(document, sqlite_api):
    """`GET /bundles` and `GET /bundles?region=` answer different shapes, the second a superset
    of the first: `oneOf` would refuse the second (it matches both)."""
    schema = document["paths"]["/bundles"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "oneOf" not in schema and len(schema["anyOf"]) == 2
