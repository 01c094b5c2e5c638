"""How a secret is kept: never itself, only its SHA-256 (hex). API tokens (`api_token.digest`),
page session ids (`page_session.digest`) and a case's access code are all kept and looked up by
this one digest: a stolen row gives the secret away to nobody."""

from __future__ import annotations

import hashlib


def token_digest(secret: str) -> str:
    """The SHA-256 hex of a secret, as the store keeps it (64 characters)."""
    return hashlib.sha256(secret.encode()).hexdigest()
