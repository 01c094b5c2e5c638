"""The psycopg side of `catalog.store.limits`: a connection whose every wait for the server is
bounded and seen by the gate, and the engine hook that opens such connections. (Its own module:
importing psycopg costs a SQLite user's command start.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors

from .limits import Gate, Limits, thread_limit

IDLE_PING = 2.0
"""Seconds a pooled connection may sit idle and still be handed out without a ping first (a
connection busy serving requests is not pinged on every checkout: that would cost each request
a round trip; one left idle may have been dropped by a restarted server)."""
_IDLE_SINCE = "onething.idle_since"


class Unanswered(psycopg.OperationalError):
    """The database did not answer in time, or its circuit is open (nothing was sent)."""


class GuardedConnection(psycopg.Connection):  # type: ignore[type-arg]
    """A psycopg connection whose every wait for the server is bounded and seen by the gate."""

    gate: Gate | None = None
    answer_limit: float = 12.0
    """Seconds this connection waits for any answer (statement_timeout + grace; a publish's
    transaction raises it for its duration)."""
    publish_limit: float = 900.0
    """A publish's statement_timeout (`publishing`)."""
    grace: float = 2.0

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        gate = self.gate
        if gate is not None and not gate.allow():
            gen.close()  # nothing was sent: the generator had not started
            raise Unanswered("the database did not answer lately; not calling it for a moment")
        limit = self.answer_limit
        tighter = thread_limit()
        if tighter is not None:
            limit = min(limit, tighter)
        if timeout is not None:
            limit = min(limit, timeout)
        try:
            result = super().wait(gen, interval, limit)
        except errors._WaitTimeout:
            # The conversation is mid-way and cannot be resumed: drop the connection (closed and
            # not by us: `broken`, which SQLAlchemy takes for a disconnect).
            self.pgconn.finish()
            exc = Unanswered(f"the database did not answer within {limit:g} s")
            if gate is not None:
                gate.failure(exc)
            raise exc from None
        except psycopg.OperationalError:
            if gate is not None and not self.broken:
                gate.success()  # it answered (an error, a cancelled statement)
            raise
        except psycopg.Error:
            if gate is not None:
                gate.success()
            raise
        if gate is not None:
            gate.success()
        return result


def guard(engine: Any, limits: Limits, gate: Gate | None) -> None:
    """Bound every call of a PostgreSQL `engine` (see the module's description)."""
    import sqlalchemy as sa

    statement_ms = int(limits.statement * 1000)

    @sa.event.listens_for(engine, "do_connect")
    def connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        if gate is not None and not gate.allow():
            raise Unanswered("the database did not answer lately; not calling it for a moment")
        options = str(cparams.get("options") or "")
        if "statement_timeout" not in options:
            options = f"{options} -c statement_timeout={statement_ms}".strip()
        cparams["options"] = options
        cparams.setdefault("connect_timeout", max(2, round(limits.connect)))
        cparams.setdefault("keepalives", 1)
        cparams.setdefault("keepalives_idle", 10)
        cparams.setdefault("keepalives_interval", 2)
        cparams.setdefault("keepalives_count", 3)
        cparams.setdefault("tcp_user_timeout", int((limits.statement + limits.grace) * 1000))
        try:
            conn = GuardedConnection.connect(*cargs, **cparams)
        except psycopg.Error as exc:
            if gate is not None:
                gate.failure(exc)
            raise
        conn.answer_limit = limits.statement + limits.grace
        conn.publish_limit = limits.publish
        conn.grace = limits.grace
        conn.gate = gate
        if gate is not None:
            gate.success()
        return conn

    @sa.event.listens_for(engine, "checkin")
    def checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        """The pool's pre-ping, for a connection that sat idle past IDLE_PING: a dead one is
        replaced (`DisconnectionError`: the pool opens another) instead of failing a request."""
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < IDLE_PING:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise sa.exc.DisconnectionError(str(exc)) from exc
        if not alive:
            raise sa.exc.DisconnectionError("the pooled connection did not answer a ping")


@contextmanager
def publishing(dbapi_conn: Any) -> Iterator[float | None]:
    """A publish's transaction on `dbapi_conn`: its statements may take the connection's
    `publish_limit`, which it yields (None on SQLite) for the caller's SET LOCAL
    statement_timeout; its answers are awaited that long (plus grace)."""
    if not isinstance(dbapi_conn, GuardedConnection):
        yield None
        return
    before = dbapi_conn.answer_limit
    dbapi_conn.answer_limit = dbapi_conn.publish_limit + dbapi_conn.grace
    try:
        yield dbapi_conn.publish_limit
    finally:
        dbapi_conn.answer_limit = before
