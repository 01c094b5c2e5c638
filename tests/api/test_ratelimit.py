"""The per-client rate limit (`api.ratelimit`): counted in-process, per client behind a listed
proxy (its X-Forwarded-For counts from that proxy only), not counted for a portal's token."""

from __future__ import annotations

import os

import httpx

from api.ratelimit import TokenBuckets
from api.settings import Settings

from .conftest import running, serving, small_catalog

WORKFLOW = "/bundles/newborn/workflow?region=640104"


def test_a_bucket_lets_a_burst_through_then_refills_at_its_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(60, clock=lambda: now[0])  # 60 at once, then one a second
    assert all(buckets.take("a") == 0.0 for _ in range(60))
    assert buckets.take("a") == 1.0
    assert buckets.take("b") == 0.0  # another client has its own bucket
    now[0] = 2.5
    assert [buckets.take("a") == 0.0 for _ in range(3)] == [True, True, False]


def _statuses(base: str, forwarded_for: str | None, n: int) -> list[int]:
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    with httpx.Client(base_url=base, headers=headers) as client:
        return [client.get(WORKFLOW).status_code for _ in range(n)]


def _published(sqlite_url: str) -> None:
    with running(Settings(db_url=sqlite_url), small_catalog()):
        pass


def test_clients_behind_a_listed_proxy_are_counted_apart(sqlite_url: str) -> None:
    _published(sqlite_url)
    env = {**os.environ, "ONETHING_RATE_LIMIT": "4"}
    with serving(sqlite_url, "--trusted-proxy", "127.0.0.1/32", env=env) as (_, base):
        # The cached workflow: Litestar answers the first two, memory the rest; all are counted.
        assert _statuses(base, "203.0.113.7", 5) == [200, 200, 200, 200, 429]
        assert _statuses(base, "203.0.113.8", 4) == [200, 200, 200, 200]  # another citizen
        assert _statuses(base, "198.51.100.1, 203.0.113.7", 1) == [429]  # the last hop not a proxy
        assert httpx.get(f"{base}/health").status_code == 200  # never counted


def test_forwarded_for_counts_only_from_a_listed_proxy(sqlite_url: str) -> None:
    _published(sqlite_url)
    env = {**os.environ, "ONETHING_RATE_LIMIT": "4", "ONETHING_TRUSTED_PROXIES": "10.0.0.0/8"}
    with serving(sqlite_url, env=env) as (_, base):
        # 127.0.0.1 is not listed: whatever it forwards, it is one client.
        assert _statuses(base, "203.0.113.1", 2) + _statuses(base, "203.0.113.2", 2) == [200] * 4
        assert _statuses(base, "203.0.113.3", 1) == [429]
        refused = httpx.get(f"{base}{WORKFLOW}")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert refused.json()["code"] == "RATE_LIMITED"


def test_a_portal_token_is_not_counted_unless_configured(sqlite_url: str) -> None:
    with running(Settings(db_url=sqlite_url, rate_limit=3), small_catalog()) as api:
        assert {api.get(WORKFLOW, role="portal").status_code for _ in range(10)} == {200}
        # An unknown token is counted like none (then refused for what it is).
        unknown = [api.client.get("/regions", headers={"Authorization": "Bearer nope"}) for _ in range(4)]
        assert [r.status_code for r in unknown] == [401, 401, 401, 429]
    with running(Settings(db_url=sqlite_url, rate_limit=3, rate_limit_tokens=True)) as api:
        assert [api.get(WORKFLOW, role="portal").status_code for _ in range(4)] == [200, 200, 200, 429]
