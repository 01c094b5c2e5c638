"""Sealing cases' personal data (§7.5): AES-256-GCM with one key, the case id as associated data
(a sealed blob copied onto another case does not open); the key from the environment or a key
file (mode 0600); the applicant's access code kept only as its SHA-256."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from .tokens import token_digest


class Sealer:
    """AES-256-GCM with one key: `seal(data, case id)` → nonce ‖ ciphertext, `open` the reverse."""

    def __init__(self, key: bytes):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(key) != 32:
            raise ValueError(f"the case key must be 32 bytes (AES-256), not {len(key)}")
        self._aead = AESGCM(key)

    @staticmethod
    def new_key() -> str:
        """A fresh key as the text a key file or ONETHING_CASE_KEY holds (base64)."""
        return base64.b64encode(secrets.token_bytes(32)).decode()

    @classmethod
    def from_text(cls, text: str) -> Sealer:
        try:
            return cls(base64.b64decode(text.strip(), validate=True))
        except ValueError as exc:
            raise ValueError(f"the case key is not 32 bytes in base64: {exc}") from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Sealer | None:
        """From ONETHING_CASE_KEY (base64), else the file ONETHING_CASE_KEY_FILE names; None when
        neither is set (the service then refuses to take cases)."""
        env = os.environ if env is None else env
        if env.get("ONETHING_CASE_KEY"):
            return cls.from_text(env["ONETHING_CASE_KEY"])
        if env.get("ONETHING_CASE_KEY_FILE"):
            return cls.from_text(Path(env["ONETHING_CASE_KEY_FILE"]).read_text())
        return None

    def seal(self, data: bytes, case_id: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, data, case_id.encode())

    def open(self, blob: bytes, case_id: str) -> bytes:
        return self._aead.decrypt(blob[:12], blob[12:], case_id.encode())


def write_key_file(path: str | Path) -> bool:
    """A new key file readable by its owner only (0600); False when one is already there."""
    target = Path(path)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(Sealer.new_key() + "\n")
    return True


ACCESS_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""The access code's letters: digits and capitals without the look-alikes 0/O, 1/I/L (a code
is read off a printed receipt and typed in by hand)."""
ACCESS_LENGTH = 24
"""24 of 31 letters: 118 bits."""


def new_access_code() -> str:
    """A fresh access code (§7.1: shown once): one uniform draw below 31²⁴ written in the
    alphabet's 24 letters (one read of the OS's randomness, not one per letter)."""
    n = secrets.randbelow(len(ACCESS_ALPHABET) ** ACCESS_LENGTH)
    letters = []
    for _ in range(ACCESS_LENGTH):
        n, i = divmod(n, len(ACCESS_ALPHABET))
        letters.append(ACCESS_ALPHABET[i])
    return "".join(letters)


access_digest = token_digest
"""A case's access code is kept as a token is (`catalog.store.tokens`)."""
