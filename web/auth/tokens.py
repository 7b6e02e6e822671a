"""Signed document tokens: scripts, bots and guests reach `/sync/{doc}` with `?token=`.

A token grants every document whose name starts with a prefix, read-write or read-only,
until it expires. It is signed with the instance secret key (itsdangerous, HMAC-SHA256).
"""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "atelier.document-token.v1"
SECRET_FILE = "secret_key"
# Verified tokens remembered (signature and payload shape only: expiry is checked at each use).
# Every client of a shared link, and every reconnection after a restart, presents the same
# token; verifying it once spares a key derivation and an HMAC per connection.
VERIFIED_TOKENS_KEPT = 1024


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
    return _serializer(secret).dumps(payload)


@functools.lru_cache(maxsize=4)
def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_SALT)


@functools.lru_cache(maxsize=VERIFIED_TOKENS_KEPT)
def _verified(secret: str, token: str) -> DocumentGrant:
    """The grant a well-signed, well-formed token carries (raises are never cached)."""
    try:
        payload = _serializer(secret).loads(token)
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
    return DocumentGrant(prefix=prefix, writable=writable, name=name, expires_at=float(expires))


def read_document_token(secret: str, token: str, *, now: float) -> DocumentGrant:
    """Check a token's signature and expiry; raise TokenError with the reason."""
    if not token or len(token) > 4096:
        raise TokenError("token missing or too long")
    grant = _verified(secret, token)
    if grant.expires_at <= now:
        raise TokenError("token has expired")
    return grant
