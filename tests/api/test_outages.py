"""Outages (issue 11, points 5 and 11; issue 18, point 3): the database going away, or hanging, is
503 with Retry-After — within the time limits, not after the operating system's — logged once per
outage rather than once per request with a traceback; a hung Redis costs the cache, not the
requests; a database error never logs SQL parameters."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
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
    """Warnings and errors about the request path; not the start-up sweep of temporary folders
    that killed processes (other tests' `kill -9`s) left, which says so at warning level."""
    return [r for r in captured.records if r.levelno >= logging.WARNING and r.name != "onething.scratch"]


GUARD = 90.0
"""Seconds a step may take before the test calls it hung. Not a timing assertion: what a hung
dependency did before was never to answer (or after the operating system's TCP timeouts)."""


def _bounded(step: Callable[[], Any]) -> Any:
    """`step()` in a thread: its result, or a failed test if it does not come back at all."""
    done: list[Any] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(step())
        except BaseException as exc:  # noqa: BLE001 - raised again below
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD)
    assert not thread.is_alive(), "a request never came back while a dependency hung"
    if failed:
        raise failed[0]
    return done[0]


def _until(check: Callable[[], bool], tries: int = 100, pause: float = 0.2) -> bool:
    for _ in range(tries):
        if check():
            return True
        time.sleep(pause)
    return False


def test_database_outage_is_503_with_retry_after_and_one_log_line(pg_url, captured):
    """Requests that must read the database. This instance's heads watcher (`api.notify`) is kept
    out of the way: with notifications on it makes its trigger at start — cut while it does, that
    is a warning of its own — and any write to the database, another test's in another schema
    included (the channel is the database's), has it read the heads, after which the requests
    are served from memory without asking the database. Here it reads once, at start, and not for
    a minute after; the first request then leaves the heads to be read by the next."""
    proxy = Proxy(("127.0.0.1", 5432))
    settings = Settings(db_url=_through(proxy, pg_url), token_ttl=60, notify=False, heads_poll=60)
    with running(settings, small_catalog()) as api:
        heads = api.client.app.state.views.heads
        assert _until(lambda: heads.reads > 0), "the heads watcher never read the heads"
        assert api.get("/regions").status_code == 200
        assert heads.known() is None  # the next request reads them from the database
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


def test_a_hung_database_is_503_with_retry_after_logged_once_and_recovers(pg_url, captured):
    """PostgreSQL through a proxy that stops carrying bytes: connections are accepted and held, no
    statement is ever answered. Every request — /health first, reads, a write — comes back 503
    with Retry-After (the heads read's time limit finds the hang, then the database's circuit
    answers at once without calling it); one log line for the outage; when the proxy carries bytes
    again the service recovers by itself."""
    proxy = Proxy(("127.0.0.1", 5432))
    # Notifications off: the heads watcher makes no trigger at start, which a hang in the middle
    # would turn into a warning of its own (see the test above).
    settings = Settings(
        db_url=_through(proxy, pg_url),
        token_ttl=60,
        notify=False,
        db_quick_timeout=1,
        db_statement_timeout=3,
        db_connect_timeout=2,
        db_retry=1,
    )
    with running(settings, small_catalog()) as api:
        assert api.get("/regions").status_code == 200
        assert api.get("/bundles/newborn").status_code == 200
        captured.records.clear()
        proxy.hang()

        def during() -> list[Any]:
            answers = [api.get("/health", role=None)]
            for url in ["/regions", "/items", "/bundles", "/bundles/newborn", "/regions/640104/items"] * 2:
                answers.append(api.get(url))
            answers.append(api.post("/bundles", json={"id": "x", "name": "x", "items": ["000100001000"]}))
            answers.append(api.get("/health", role=None))
            return answers

        answers = _bounded(during)
        assert [r.status_code for r in answers] == [503] * len(answers), [r.text for r in answers]
        assert all(int(r.headers["retry-after"]) > 0 for r in answers)
        for health in (answers[0], answers[-1]):
            assert health.json()["database"] == "unavailable" and health.json()["status"] == "degraded"
            assert health.json()["cache"] == "memory"  # says which dependency is down
        for r in answers[1:-1]:
            assert r.headers["content-type"] == PROBLEM and r.json()["code"] == "DATABASE_UNAVAILABLE"
        records = _problems(captured)
        assert len(records) == 1, [r.getMessage() for r in records]
        assert "database unavailable" in records[0].getMessage()
        assert "Traceback" not in captured.text

        proxy.resume()
        assert _bounded(lambda: _until(lambda: api.get("/health", role=None).status_code == 200))
        assert _bounded(lambda: api.get("/regions/640104/items").status_code) == 200
        assert _bounded(lambda: api.get("/bundles/newborn").status_code) == 200
        assert len(_problems(captured)) == 1
        assert "database available again" in captured.text

        # A second outage is a second episode: one more line, once a request reads the database
        # (what this instance holds in memory is served without asking it: `api.notify`).
        proxy.hang()
        assert _bounded(lambda: api.get("/health", role=None).status_code) == 503
        assert len(_problems(captured)) == 2
        proxy.resume()


@pytest.mark.redis
def test_a_hung_redis_costs_the_cache_not_the_requests(sqlite_url, redis_url, captured):
    """Redis through a proxy that stops carrying bytes: workflows still come (computed here),
    /health says 503 with Retry-After and names the cache; one log line; when the proxy carries
    bytes again the cache is used again."""
    assert ":6379/" in redis_url, redis_url
    proxy = Proxy(("127.0.0.1", 6379))
    settings = Settings(
        db_url=sqlite_url,
        redis_url=redis_url.replace(":6379/", f":{proxy.port}/"),
        redis_timeout=0.2,
        redis_retry=0.5,
        token_ttl=60,
    )
    workflow = ("/bundles/newborn/workflow", {"region": "640104"})
    with running(settings, small_catalog()) as api:
        breaker = api.client.app.state.workflows.cache.breaker
        assert api.get("/health", role=None).json()["cache"] == "redis"
        captured.records.clear()
        proxy.hang()

        def during() -> list[Any]:
            answers = []
            for region in ["640104", "640105", "640202", "640100"] * 3:
                answers.append(api.get(workflow[0], params={"region": region}))
                api.client.app.state.workflows._local.clear()  # past the in-process copy
            answers.append(api.get("/health", role=None))
            return answers

        *workflows, health = _bounded(during)
        assert {r.status_code for r in workflows} <= {200, 422} and workflows[0].status_code == 200
        assert health.status_code == 503 and int(health.headers["retry-after"]) > 0
        assert health.json()["cache"] == "unavailable" and health.json()["database"] == "ok"
        records = _problems(captured)
        assert len(records) == 1 and "redis cache circuit open" in records[0].getMessage(), records

        proxy.resume()
        assert _bounded(lambda: _until(lambda: api.get("/health", role=None).status_code == 200))
        assert api.get("/health", role=None).json()["cache"] == "redis"
        assert _bounded(lambda: api.get(workflow[0], params=workflow[1]).status_code) == 200
        assert breaker.state == "closed" and len(_problems(captured)) == 1


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
