"""`onething serve` and `onething token` for real: uvicorn in a subprocess, HTTP over a socket."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import onething

from .conftest import jsonl, serving, small_catalog


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_over_http(sqlite_url, workers):
    created = onething("token", "create", "--db", sqlite_url, "--role", "admin", "--name", "ops")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert len(token) >= 32
    with serving(sqlite_url, "--workers", str(workers)) as (_, base):
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.put(f"{base}/catalog", content=jsonl(small_catalog()), headers=auth, timeout=30)
        assert r.status_code == 200, r.text
        for _ in range(4):  # whichever worker answers has the new catalog
            r = httpx.get(f"{base}/bundles/newborn/workflow", params={"region": "640104"}, headers=auth)
            assert r.status_code == 200 and r.json()["bundle"] == "newborn"
        assert httpx.get(f"{base}/regions").status_code == 200  # a published read
        assert httpx.get(f"{base}/catalog").status_code == 401


def test_token_cli_list_and_revoke(sqlite_url):
    assert (
        onething("token", "create", "--db", sqlite_url, "--role", "portal", "--name", "kiosk").returncode == 0
    )
    listed = onething("token", "list", "--db", sqlite_url)
    assert listed.returncode == 0 and "kiosk\tportal" in listed.stdout
    assert onething("token", "revoke", "--db", sqlite_url, "--name", "kiosk").returncode == 0
    assert onething("token", "revoke", "--db", sqlite_url, "--name", "kiosk").returncode == 1
    bad = onething("token", "create", "--db", sqlite_url, "--role", "root", "--name", "x")
    assert bad.returncode == 2


def test_serve_refuses_a_megabyte_of_headers(sqlite_url):
    with serving(sqlite_url, ready="/schema/openapi.json") as (_, base):
        try:
            status = httpx.get(f"{base}/health", headers={"X-Big": "x" * (1 << 20)}, timeout=30).status_code
        except httpx.TransportError:
            status = None  # the server hung up on it: refused too
        assert status is None or 400 <= status < 500
        assert httpx.get(f"{base}/schema/openapi.json", timeout=10).status_code == 200  # still serving
