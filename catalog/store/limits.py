"""Time limits on every PostgreSQL call, so that a database which accepts connections and never
answers costs a caller seconds, not forever.

- opening a connection: psycopg's `connect_timeout` (the whole start-up, TLS and sign-in too);
- a statement: the server's `statement_timeout`, sent as a connection option (a publish's
  transaction sets its own, longer one: `publishing`);
- waiting for the answer: the server cannot cancel a statement it never received, nor send the
  cancellation through a link that carries nothing, so the client gives up too — `Connection.wait`
  bounded by the statement's limit plus `grace`, or by the tighter `answer_within` of a small
  read (the heads, a token); the connection is then dropped (SQLAlchemy sees a disconnect and
  invalidates it, the pool opens a new one);
- TCP keepalives and `tcp_user_timeout`: a peer gone from the network is noticed by the kernel;
- a pooled connection: the pool's `pool_timeout`.

A `gate` (a circuit breaker: `allow()`, `success()`, `failure(exc)`, as `api.breaker`'s) sees
every connection attempt and every answer: a connection that cannot be opened or a server that
did not answer in time opens it, and while it is open no call reaches the database — each fails
at once with `guarded.Unanswered` (a psycopg `OperationalError`, so SQLAlchemy wraps it as its own and
callers see a database outage), so a hung server costs one waiting caller per trial, not every
request. A lost connection alone (a pooled one the server dropped) is not a failure: the pool
replaces it.

SQLite is a local file: none of this applies to it but the pool's wait.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Limits:
    """Seconds; see the module's description. `quick`: what a small read on every request's path
    (the heads, a bearer token) may take before the server counts as hung."""

    connect: float = 3.0
    statement: float = 10.0
    publish: float = 900.0
    pool: float = 5.0
    grace: float = 2.0
    quick: float = 2.0


BATCH_LIMITS = Limits(statement=900.0)
"""A command's: its reads may be as long as a publish (a national export, statistics)."""


class Gate(Protocol):
    def allow(self) -> bool: ...
    def success(self) -> None: ...
    def failure(self, exc: BaseException) -> None: ...


_local = threading.local()


@contextmanager
def answer_within(seconds: float) -> Iterator[None]:
    """This thread's database answers within `seconds` (or the caller gets `guarded.Unanswered`)."""
    before = getattr(_local, "limit", None)
    _local.limit = seconds if before is None else min(before, seconds)
    try:
        yield
    finally:
        _local.limit = before


def thread_limit() -> float | None:
    """The tightest `answer_within` this thread is in, if any."""
    return getattr(_local, "limit", None)
