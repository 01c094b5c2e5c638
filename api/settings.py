"""The API's settings: one plain dataclass, read from the environment once.

| variable | default | meaning |
|---|---|---|
| `ONETHING_DB` | `sqlite:///onething.db` | the catalog store (`sqlite:///path` or `postgresql+psycopg://…`) |
| `ONETHING_DB_CONNECT_TIMEOUT` | `3` | seconds opening a PostgreSQL connection may take (psycopg's `connect_timeout`, at least 2) |
| `ONETHING_DB_STATEMENT_TIMEOUT` | `10` | PostgreSQL `statement_timeout` of the service's statements; the client waits 2 s more for an answer, then drops the connection |
| `ONETHING_DB_QUICK_TIMEOUT` | `2` | seconds the small reads on every request's path (the catalog heads, a bearer token) may take before the database counts as hung |
| `ONETHING_DB_PUBLISH_TIMEOUT` | `900` | `statement_timeout` of a publish's statements (a national catalog's take minutes) |
| `ONETHING_DB_POOL_TIMEOUT` | `5` | seconds a request waits for a pooled database connection |
| `ONETHING_REPLICAS` | unset | PostgreSQL hot standbys of `ONETHING_DB` (URLs separated by spaces) that answer the reads of a version they have replayed; writes, and what changes in place, go to `ONETHING_DB` (`catalog.store.replicas`) |
| `ONETHING_REPLICA_WAIT` | `0.2` | seconds a read waits for a replica to replay the version it asks for before the primary answers it |
| `ONETHING_DB_RETRY` | `5` | seconds no request calls a database that did not answer (or could not be reached), answering 503 at once; then one tries it again |
| `REDIS_URL` | unset | shared workflow cache; unset → an in-process `MemoryStore` |
| `ONETHING_REDIS_TIMEOUT` | `0.3` | seconds a Redis connect or reply may take before it counts as a failure |
| `ONETHING_REDIS_RETRY` | `10` | seconds the cache circuit stays open (Redis not called) after 3 failures in a row |
| `ONETHING_NATS_URL` | unset | NATS JetStream for pushing tasks to agencies' systems (§7.2; `api.relay`, which lists its other variables); unset → the pull API only |
| `ONETHING_CACHE_TTL` | `86400` | seconds a computed workflow stays in the cache |
| `ONETHING_LOCAL_IN_VIEW` | `50000` | townships, villages and service points a worker holds in memory; past this (a national five-level catalog has over a million) it holds the regions down to the county and reads the rest per request (`api.view`) |
| `ONETHING_TOKEN_TTL` | `5` | seconds a checked bearer token is remembered in-process (0: ask the DB each request) |
| `ONETHING_MAX_BODY` | `1048576` | request-body limit in bytes for ordinary requests |
| `ONETHING_MAX_CATALOG_BODY` | `2147483648` | request-body limit for `PUT /catalog` and `POST /validation` (2 GiB, streamed to a temporary file) |
| `ONETHING_TRUSTED_PROXIES` | unset | the proxies in front (addresses or networks, comma-separated: `127.0.0.1,10.0.0.0/8`): their `X-Forwarded-For` names the client (sign-in lockout, rate limit) and their `X-Forwarded-Proto` the scheme (cookies `Secure` on https); from any other peer both are ignored. Unset: trust none |
| `ONETHING_SIGNIN_FAILURES` | `10` | failed page sign-ins a client may make within the window before it gets 429 |
| `ONETHING_SIGNIN_WINDOW` | `300` | that window, in seconds |
| `ONETHING_PUBLIC_READ` | `1` | published regions, items, bundles, workflows and guides answer without a token (and their pages) |
| `ONETHING_PUBLIC_MAX_AGE` | `300` | `Cache-Control: public, max-age=` of those public reads, in seconds |
| `ONETHING_RATE_LIMIT` | `6000` | requests one client (its address, or behind a listed proxy the address it forwards) may make in a burst, and per minute after it; counted in each worker process (`api.ratelimit`; 0: no limit) |
| `ONETHING_RATE_LIMIT_TOKENS` | `0` | 1: requests with a valid bearer token (a portal's backend) are counted too; by default they are not |
| `ONETHING_NOTIFY` | `1` | PostgreSQL: instances learn of a publish or a bundle save by LISTEN/NOTIFY (`api.notify`); 0: by the poll alone |
| `ONETHING_HEADS_POLL` | `0.5` | seconds between reads of the newest version and bundles revision (the fallback of notifications; SQLite's only way) |
| `ONETHING_TMPDIR` | `$TMPDIR/onething-<uid>` | where every temporary file goes, one folder per process; folders of stopped processes are removed at start (`catalog.scratch`) |
| `ONETHING_DEBUG` | `0` | Litestar debug mode (tracebacks in 500s — never in production) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalog.store.limits import Limits

DEFAULT_DB = "sqlite:///onething.db"


@dataclass(frozen=True)
class Settings:
    db_url: str = DEFAULT_DB
    db_connect_timeout: float = 3.0
    db_statement_timeout: float = 10.0
    db_quick_timeout: float = 2.0
    db_publish_timeout: float = 900.0
    db_pool_timeout: float = 5.0
    db_retry: float = 5.0
    replicas: tuple[str, ...] = ()
    replica_wait: float = 0.2
    redis_url: str | None = None
    redis_timeout: float = 0.3
    redis_retry: float = 10.0
    nats_url: str | None = None
    cache_ttl: int = 86_400
    local_in_view: int = 50_000
    token_ttl: float = 5.0
    max_body: int = 1 << 20
    max_catalog_body: int = 2 << 30
    max_pending_body: int = 64 << 20
    """Bytes a submission held for approval may have as sent (kept zlib-compressed in the
    database, which every instance shares): a region's list is a few MB, a whole catalog held
    for approval must fit too, or be published directly."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks whose X-Forwarded-For/-Proto count (`api.proxies`); none by default."""
    signin_failures: int = 10
    signin_window: float = 300.0
    public_read: bool = True
    public_max_age: int = 300
    rate_limit: int = 6000
    rate_limit_tokens: bool = False
    notify: bool = True
    heads_poll: float = 0.5
    debug: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every number setting is `ONETHING_<ITS NAME>` (the table above); the others say where
        they come from here."""
        env = os.environ if env is None else env
        numbers: dict[str, Any] = {
            f.name: float(env[variable]) if isinstance(f.default, float) else int(env[variable])
            for f in fields(cls)
            if type(f.default) in (int, float) and (variable := f"ONETHING_{f.name.upper()}") in env
        }
        db_url = env.get("ONETHING_DB") or DEFAULT_DB
        replicas = tuple(env.get("ONETHING_REPLICAS", "").split())
        if replicas and not db_url.startswith("postgresql"):
            raise SettingsError(
                "ONETHING_REPLICAS are hot standbys of a PostgreSQL ONETHING_DB, not of " + db_url
            )
        return cls(
            db_url=db_url,
            replicas=replicas,
            redis_url=env.get("REDIS_URL") or None,
            nats_url=env.get("ONETHING_NATS_URL") or None,
            trusted_proxies=_proxies(env),
            public_read=_flag(env.get("ONETHING_PUBLIC_READ", "1")),
            rate_limit_tokens=_flag(env.get("ONETHING_RATE_LIMIT_TOKENS")),
            notify=_flag(env.get("ONETHING_NOTIFY", "1")),
            debug=_flag(env.get("ONETHING_DEBUG")),
            **numbers,
        )

    def db_limits(self) -> Limits:
        """The store's time limits (`catalog.store.limits`): each `db_<limit>_timeout`."""
        from catalog.store.limits import Limits

        limits = ("connect", "statement", "publish", "pool", "quick")
        return Limits(**{limit: getattr(self, f"db_{limit}_timeout") for limit in limits})


class SettingsError(ValueError):
    """A setting that cannot be used as given: the message names it."""


def _proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    from .proxies import TrustedProxies

    listed = tuple(p.strip() for p in env.get("ONETHING_TRUSTED_PROXIES", "").split(",") if p.strip())
    if not listed and _flag(env.get("ONETHING_TRUST_PROXY")):
        raise SettingsError(
            "ONETHING_TRUST_PROXY=1 trusted any peer's X-Forwarded-* headers and is gone: list the proxies "
            "in ONETHING_TRUSTED_PROXIES instead (e.g. ONETHING_TRUSTED_PROXIES=127.0.0.1)"
        )
    try:
        TrustedProxies(listed)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return listed


def _flag(value: str | None) -> bool:
    return (value or "0").lower() in ("1", "true", "yes")
