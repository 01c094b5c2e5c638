"""Redis outages (issue 11, point 6): a circuit breaker with short timeouts in front of the shared
cache. A dead or hung Redis logs one line per change of state, not per request, and once the
circuit is open it is not called at all (so it adds nothing to a request)."""

from __future__ import annotations

import itertools
import logging

import pytest

from api.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from api.settings import Settings

from .conftest import Captured, running, small_catalog
from .netutil import Hung, dead_port

ITEMS = ["000100001000", "000100002000", "000100003000", "000100004000", "000100005000"]
REGIONS = ["640104", "640105", "640100", "640000", "640202", "640200", "000000"]


def _distinct_workflows():
    """Ad-hoc workflow requests that are each a different cache key."""
    for size in (1, 2, 3):
        for items in itertools.combinations(ITEMS, size):
            for region in REGIONS:
                yield {"items": list(items), "region": region}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_tries_again_and_closes():
    clock = Clock()
    breaker = CircuitBreaker("test", failures=3, reset_after=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure(OSError("refused"))
    assert breaker.state == CLOSED
    assert breaker.allow()
    breaker.failure(OSError("refused"))
    assert breaker.state == OPEN and not breaker.allow()
    clock.now = 9.9
    assert not breaker.allow()
    clock.now = 10
    assert breaker.allow() and breaker.state == HALF_OPEN
    assert not breaker.allow()  # one trial at a time
    breaker.failure(TimeoutError())
    assert breaker.state == OPEN and not breaker.allow()
    clock.now = 20
    assert breaker.allow()
    breaker.success()
    assert breaker.state == CLOSED and breaker.allow()
    assert breaker.changes == 5  # open, half-open, open, half-open, closed


def _warnings(captured: Captured) -> list[str]:
    """Warnings and errors about the cache; not the start-up sweep of temporary folders that
    killed processes left (the crash tests' `kill -9`s, run before this module when the suite is
    spread over workers), which says so at warning level."""
    return [
        r.getMessage()
        for r in captured.records
        if r.levelno >= logging.WARNING and r.name != "onething.scratch"
    ]


def test_a_dead_redis_logs_one_line_and_workflows_still_come(sqlite_url, captured):
    settings = Settings(db_url=sqlite_url, redis_url=f"redis://127.0.0.1:{dead_port()}/0", token_ttl=0)
    with running(settings, small_catalog()) as api:
        statuses = [
            api.post("/workflows", role="portal", json=body).status_code for body in _distinct_workflows()
        ]
        assert len(statuses) > 50 and set(statuses) <= {200, 422}, set(statuses)
        assert api.get("/bundles/newborn/workflow", params={"region": "640104"}).status_code == 200
        health = api.get("/health", role=None)
        assert health.status_code == 503 and health.json()["cache"] == "unavailable"
        assert api.client.app.state.workflows.cache.breaker.state == OPEN
    warnings = _warnings(captured)
    assert warnings == [warnings[0]] and "redis cache circuit open" in warnings[0], warnings
    assert not any(r.exc_info for r in captured.records)


def test_a_hung_redis_is_not_called_once_the_circuit_opens(sqlite_url, captured):
    hung = Hung()
    try:
        settings = Settings(
            db_url=sqlite_url, redis_url=f"redis://127.0.0.1:{hung.port}/0", token_ttl=0, redis_timeout=0.2
        )
        with running(settings, small_catalog()) as api:
            breaker = api.client.app.state.workflows.cache.breaker
            bodies = _distinct_workflows()
            tried = 0
            while breaker.state != OPEN:
                assert api.post("/workflows", role="portal", json=next(bodies)).status_code in (200, 422)
                tried += 1
                assert tried <= 3, "three failures in a row open the circuit"
            contacts = (hung.connections, hung.received)
            for _ in range(30):
                assert api.post("/workflows", role="portal", json=next(bodies)).status_code in (200, 422)
            assert (hung.connections, hung.received) == contacts  # not called while open
            assert breaker.state == OPEN
    finally:
        hung.close()
    warnings = _warnings(captured)
    assert len(warnings) == 1 and "redis cache circuit open" in warnings[0], warnings


@pytest.mark.redis
def test_a_live_redis_keeps_the_circuit_closed(sqlite_url, redis_url, captured):
    with running(Settings(db_url=sqlite_url, redis_url=redis_url, token_ttl=0), small_catalog()) as api:
        for body in itertools.islice(_distinct_workflows(), 10):
            assert api.post("/workflows", role="portal", json=body).status_code in (200, 422)
        assert api.client.app.state.workflows.cache.breaker.state == CLOSED
        assert api.get("/health", role=None).json()["cache"] == "redis"
    assert _warnings(captured) == []
