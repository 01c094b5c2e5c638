"""How the store connects: one SQLAlchemy engine for a SQLite file or a PostgreSQL server."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from typing import Any

import sqlalchemy as sa

from .limits import Gate, Limits

HEADS_KEPT = "onething.heads_kept"
"""Set in a connection's `info` by a writer whose transactions never move the heads (the catalog
version, the bundles revision) — the cases: its return to the pool then does not make
`api.notify.Heads` read the heads again before the next request."""


def connect(url: str, *, echo: bool, lock_timeout: float, limits: Limits, gate: Gate | None) -> sa.Engine:
    """The engine for `url`: on SQLite, writers wait `lock_timeout` for each other and WAL lets
    readers go on meanwhile; on PostgreSQL every call is bounded by `limits` and asks `gate`."""
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True, "pool_timeout": limits.pool}
    if url.startswith("sqlite"):
        # (check_same_thread: a publish hands its connection to a writer thread for a while.)
        kwargs["connect_args"] = {"timeout": lock_timeout, "check_same_thread": False}
    engine = sa.create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        from .guarded import guard

        guard(engine, limits, gate)  # pings a connection that sat idle, too
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # A first publish writes alone (`publish.writes.transaction`): it goes back to WAL when it ends.
    with contextlib.suppress(sqlite3.OperationalError):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA threads={min(4, os.cpu_count() or 1)}")  # sorts (index builds) on more cores
    cursor.close()
