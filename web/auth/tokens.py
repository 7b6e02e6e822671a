"""Signed document tokens: scripts, bots and guests reach `/sync/{doc}` with `?token=`.

A token grants every document whose name starts with a prefix, read-write or read-only,
until it expires. It is signed with the instance secret key (itsdangerous, HMAC-SHA256).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "atelier.document-token.v1"
SECRET_FILE = "secret_key"


class TokenError(ValueError):
    """A token is malformed, forged or expired."""


@dataclass(frozen=True)
class DocumentGrant:
    """What a token (or a session) may do with documents."""

    prefix: str
    writable: bool
    name: str = ""
    expires_at: float = float("inf")

    def covers(self, document: str) -> bool:
        return document.startswith(self.prefix)


def load_secret_key(configured: str, data_dir: Path) -> str:
    """Return the configured key, or the one kept in the data folder (made on first use)."""
    if configured:
        return configured
    path = data_dir / SECRET_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        # O_EXCL: two processes starting together agree on one key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def mint_document_token(
    secret: str, *, prefix: str, writable: bool, ttl: float, now: float, name: str = ""
) -> str:
    """Sign a grant for every document whose name starts with `prefix`."""
    payload = {"p": prefix, "w": writable, "n": name, "e": int(now + ttl)}
    return URLSafeSerializer(secret, salt=_SALT).dumps(payload)


def read_document_token(secret: str, token: str, *, now: float) -> DocumentGrant:
    """Check a token's signature and expiry; raise TokenError with the reason."""
    if not token or len(token) > 4096:
        raise TokenError("token missing or too long")
    try:
        payload = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except BadSignature:
        raise TokenError("token signature is invalid") from None
    if not isinstance(payload, dict):
        raise TokenError("token payload is malformed")
    prefix, writable, name, expires = (payload.get(k) for k in ("p", "w", "n", "e"))
    if not (
        isinstance(prefix, str)
        and isinstance(writable, bool)
        and isinstance(name, str)
        and isinstance(expires, int)
    ):
        raise TokenError("token payload is malformed")
    if expires <= now:
        raise TokenError("token has expired")
    return DocumentGrant(prefix=prefix, writable=writable, name=name, expires_at=float(expires))
