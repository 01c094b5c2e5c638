"""Outages (issue 11, points 5 and 11): the database going away is 503 with Retry-After, logged
once rather than once per request with a traceback; a database error never logs SQL parameters."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from litestar import Request, get

from api.settings import Settings

from .conftest import running, small_catalog
from .netutil import Proxy

PROBLEM = "application/problem+json"
SECRET = "digest-" + "9f" * 20  # built here, so no source line in a traceback spells it


def _through(proxy: Proxy, pg_url: str) -> str:
    assert "@127.0.0.1:5432/" in pg_url, pg_url
    return pg_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")


def _problems(captured) -> list[logging.LogRecord]:
    return [r for r in captured.records if r.levelno >= logging.WARNING]


def test_database_outage_is_503_with_retry_after_and_one_log_line(pg_url, captured):
    proxy = Proxy(("127.0.0.1", 5432))
    with running(Settings(db_url=_through(proxy, pg_url), token_ttl=60), small_catalog()) as api:
        assert api.get("/regions").status_code == 200
        captured.records.clear()
        proxy.cut()
        statuses = []
        for url in ["/regions", "/items", "/bundles", "/bundles/newborn", "/catalog"] * 4:
            r = api.get(url)
            statuses.append(r.status_code)
            if r.status_code == 503:
                assert r.headers["content-type"] == PROBLEM
                assert int(r.headers["retry-after"]) > 0
                assert r.json()["code"] == "DATABASE_UNAVAILABLE"
        written = api.post("/bundles", json={"id": "x", "name": "x", "items": ["000100001000"]})
        # What needs no database still answers: the schema, and /health saying why it is unwell.
        assert api.get("/schema/openapi.json", role=None).status_code == 200
        health = api.get("/health", role=None)
        assert set(statuses) == {503}, statuses
        assert written.status_code == 503 and written.headers["retry-after"]
        assert health.status_code == 503 and health.json()["database"] == "unavailable"
        records = _problems(captured)
        assert len(records) == 1, [r.getMessage() for r in records]
        assert "database unavailable" in records[0].getMessage()
        assert records[0].exc_info is None and "Traceback" not in captured.text


def test_a_database_error_logs_no_sql_parameters(pg_url, captured):
    """A 500 from PostgreSQL (here: a NUL in a text parameter) is logged with the statement and
    the driver's reason, never the parameters."""

    @get("/test-only/sql", opt={"role": "admin"}, include_in_schema=False)
    async def broken(request: Request) -> str:
        store = request.app.state.store
        with store.engine.connect() as conn:
            conn.execute(sa.text("SELECT CAST(:p AS text)"), {"p": SECRET + "\x00"})
        return "unreachable"

    with running(Settings(db_url=pg_url, token_ttl=0), small_catalog()) as api:
        api.client.app.register(broken)
        r = api.get("/test-only/sql", role="admin")
        assert r.status_code == 500 and "secret" not in r.text
        records = _problems(captured)
        assert len(records) == 1
        text = captured.text
        assert "SELECT CAST" in text and "database error on GET /test-only/sql" in text
        assert SECRET not in text


def test_a_publish_kept_waiting_is_503_with_retry_after(sqlite_api):
    """The store's `StoreBusy` (another publish held the catalog past the lock timeout) is 503."""
    from catalog.store import StoreBusy

    @get("/test-only/starved", opt={"role": "admin"}, include_in_schema=False)
    async def starved() -> str:
        raise StoreBusy("another publish held the catalog for over 60 s")

    sqlite_api.client.app.register(starved)
    r = sqlite_api.get("/test-only/starved", role="admin")
    assert r.status_code == 503 and r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "PUBLISH_BUSY" and int(r.headers["retry-after"]) > 0
