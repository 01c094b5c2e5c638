"""Page sign-in: server-side sessions, login CSRF protection and failed sign-ins rate-limited.

A visitor signs in to the pages with an API token once; the browser then holds only a random
session id (an HttpOnly cookie), never the token. The server keeps, per session, the SHA-256 of
the session id and the SHA-256 digest of the token it was opened with (the `api_token` row's
key), so:

- a stolen database row gives away neither the cookie nor the token;
- a session ends at logout (its row is deleted), after `LIFETIME`, and as soon as its token is
  revoked (the session's role is read through the `api_token` row, which revoking deletes).

The table is this module's own (its own `MetaData`), created on the store's engine when the app
starts; the token table stays as the store defines it.

Login CSRF: the sign-in form carries a random value that is also set as a cookie
(double submit), and a POST whose `Origin` is another site, or whose `Sec-Fetch-Site` says
cross-site, is refused — so another site cannot sign a visitor in to an account of its choosing.

Failed sign-ins are counted per client (and logged); past `MAX_FAILURES` within `WINDOW`
seconds that client is answered 429 with `Retry-After` without looking at the token.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from catalog.store.tokens import token_digest

from .lru import MISSING, BoundedLRU

if TYPE_CHECKING:
    from catalog.store import Caller

log = logging.getLogger("onething.api")

LIFETIME = 12 * 3600
"""Seconds a page session lasts."""

metadata = sa.MetaData()

page_session = sa.Table(
    "page_session",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True, comment="SHA-256 of the session id"),
    sa.Column("token_digest", sa.String(64), nullable=False, index=True, comment="api_token.digest"),
    sa.Column("created_at", sa.BigInteger, nullable=False, comment="Unix seconds"),
    sa.Column("expires_at", sa.BigInteger, nullable=False, comment="Unix seconds"),
)

# The store's token table, as much of it as a session needs (the store defines and owns it).
_api_token = sa.table(
    "api_token",
    sa.column("digest", sa.String),
    sa.column("name", sa.String),
    sa.column("role", sa.String),
    sa.column("region", sa.String),
    sa.column("agency", sa.String),
)


class Sessions:
    """Page sessions in the store's database."""

    def __init__(self, engine: Engine, lifetime: int = LIFETIME) -> None:
        self.engine = engine
        self.lifetime = lifetime
        metadata.create_all(engine)

    def open(self, token: str) -> str:
        """A new session for a (checked) token; returns the session id for the cookie."""
        session_id = secrets.token_urlsafe(32)
        now = int(time.time())
        with self.engine.begin() as conn:
            conn.execute(page_session.delete().where(page_session.c.expires_at < now))
            conn.execute(
                page_session.insert().values(
                    digest=token_digest(session_id),
                    token_digest=token_digest(token),
                    created_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        return session_id

    def caller(self, session_id: str) -> Caller | None:
        """Who holds the session's token; None when the session ended or its token was revoked."""
        from catalog.store import Caller

        query = (
            sa.select(_api_token.c.name, _api_token.c.role, _api_token.c.region, _api_token.c.agency)
            .select_from(page_session.join(_api_token, _api_token.c.digest == page_session.c.token_digest))
            .where(page_session.c.digest == token_digest(session_id), page_session.c.expires_at >= int(time.time()))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else Caller(*row)

    def close(self, session_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(page_session.delete().where(page_session.c.digest == token_digest(session_id)))

    def close_orphans(self) -> int:
        """Delete the sessions whose token was revoked (they already admit nobody)."""
        orphan = ~sa.exists().where(_api_token.c.digest == page_session.c.token_digest)
        with self.engine.begin() as conn:
            return conn.execute(page_session.delete().where(orphan)).rowcount


class SignInLimiter:
    """Failed sign-ins per client: counted, logged, and past `max_failures` within `window`
    seconds refused until the oldest failure ages out. Remembers at most `clients` clients."""

    def __init__(self, max_failures: int = 10, window: float = 300.0, clients: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clients = clients
        self.failures = 0
        """Failed sign-ins since start (all clients)."""
        self._seen: BoundedLRU[str, deque[float]] = BoundedLRU(clients)
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._seen.get(client)
        if times is MISSING:
            times = deque()
            self._seen.put(client, times)
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int | None:
        """Seconds this client must wait before trying again; None when it may try now."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                return None
            return max(1, int(times[0] + self.window - now) + 1)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            times.append(now)
            self.failures += 1
            count = len(times)
        if count >= self.max_failures:
            log.warning(
                "failed sign-in from %s (%d in %g s): refusing its sign-ins for a while",
                client,
                count,
                self.window,
            )
        else:
            log.warning("failed sign-in from %s (%d in %g s)", client, count, self.window)


def same_value(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())  # type: ignore[union-attr]
