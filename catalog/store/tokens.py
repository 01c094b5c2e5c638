"""API tokens: who holds one (`Caller`), made, looked up, listed and revoked.

A secret is never kept itself, only its SHA-256 (hex). API tokens (`api_token.digest`), page
session ids (`page_session.digest`) and a case's access code are all kept and looked up by this
one digest (`token_digest`): a stolen row gives the secret away to nobody."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..codes import uscc_problem
from ..words import ROLES
from .audit import audit
from .schema import TokenRow


class Caller(msgspec.Struct, frozen=True):
    """Who holds a token: its name (what versions and the audit record), role and region scope."""

    name: str
    role: str
    region: str | None = None
    agency: str | None = None
    """Role `agency`: the USCC whose tasks the token reads and acts on."""


def token_digest(secret: str) -> str:
    """The SHA-256 hex of a secret, as the store keeps it (64 characters)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create(engine: Engine, name: str, role: str, *, region: str | None, agency: str | None, by: str) -> str:
    """A new bearer token for `role` (acting only within `region`'s subtree when given; an
    admin is never scoped; an `agency` token is bound to one agency's USCC); the secret is
    returned once and kept only as a hash."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if region is not None and role == "admin":
        raise ValueError("an admin token cannot be scoped to a region")
    if (role == "agency") != (agency is not None):
        raise ValueError("an agency token needs --agency USCC, and only an agency token takes one")
    if agency is not None and uscc_problem(agency) is not None:
        raise ValueError(f"--agency {agency!r}: {uscc_problem(agency)}")
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(TokenRow).values(
                digest=token_digest(token),
                name=name,
                role=role,
                region=region,
                agency=agency,
                created_at=datetime.now(UTC),
            )
        )
        audit(conn, by, "token.create", name, role=role, region=region, agency=agency)
    return token


def caller(conn: Connection, token: str) -> Caller | None:
    """Who holds the token (name, role, region), or None for an unknown or revoked one."""
    row = conn.execute(
        sa.select(TokenRow.name, TokenRow.role, TokenRow.region, TokenRow.agency).where(
            TokenRow.digest == token_digest(token)
        )
    ).first()
    return None if row is None else Caller(*row)


def listing(conn: Connection) -> list[tuple[str, str, str | None, datetime]]:
    """(name, role, region, created) of every token — never the secret, which is not kept."""
    rows = conn.execute(
        sa.select(TokenRow.name, TokenRow.role, TokenRow.region, TokenRow.created_at).order_by(
            TokenRow.created_at
        )
    )
    return [(name, role, region, created) for name, role, region, created in rows]


def revoke(engine: Engine, name: str, *, by: str) -> int:
    """Delete every token of `name` (its page sessions then admit nobody); how many."""
    with engine.begin() as conn:
        count = conn.execute(sa.delete(TokenRow).where(TokenRow.name == name)).rowcount
        if count:
            audit(conn, by, "token.revoke", name, revoked=count)
        return count
