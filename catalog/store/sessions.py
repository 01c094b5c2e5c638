"""Page sessions: a visitor signed in to the pages with an API token holds only a random session
id (an HttpOnly cookie), never the token. The store keeps, per session, the SHA-256 of the
session id and the digest of the token it was opened with (the `api_token` row's key), so:

- a stolen database row gives away neither the cookie nor the token;
- a session ends at logout (its row is deleted), after its lifetime, and as soon as its token
  is revoked (the session's caller is read through the `api_token` row, which revoking deletes).
"""

from __future__ import annotations

import secrets
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .schema import PageSessionRow, TokenRow
from .tokens import Caller, token_digest

LIFETIME = 12 * 3600
"""Seconds a page session lasts."""


class PageSessions:
    """Page sessions in the store's database (`Store.page_sessions`)."""

    def __init__(self, engine: Engine, lifetime: int = LIFETIME) -> None:
        self.engine = engine
        self.lifetime = lifetime

    def open(self, token: str) -> str:
        """A new session for a (checked) token; returns the session id for the cookie."""
        session_id = secrets.token_urlsafe(32)
        now = int(time.time())
        with self.engine.begin() as conn:
            conn.execute(sa.delete(PageSessionRow).where(PageSessionRow.expires_at < now))
            conn.execute(
                sa.insert(PageSessionRow).values(
                    digest=token_digest(session_id),
                    token_digest=token_digest(token),
                    created_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        return session_id

    def caller(self, session_id: str) -> Caller | None:
        """Who holds the session's token; None when the session ended or its token was revoked."""
        s, t = PageSessionRow, TokenRow
        query = (
            sa.select(t.name, t.role, t.region, t.agency)
            .join_from(s, t, t.digest == s.token_digest)
            .where(s.digest == token_digest(session_id), s.expires_at >= int(time.time()))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else Caller(*row)

    def close(self, session_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(PageSessionRow).where(PageSessionRow.digest == token_digest(session_id)))

    def close_orphans(self) -> int:
        """Delete the sessions whose token was revoked (they already admit nobody)."""
        orphan = ~sa.exists().where(TokenRow.digest == PageSessionRow.token_digest)
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(PageSessionRow).where(orphan)).rowcount
