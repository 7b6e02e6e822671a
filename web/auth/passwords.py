"""Password hashing with argon2id (argon2-cffi), off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from web.i18n import N_

MIN_LENGTH = 12
MAX_LENGTH = 1024

# argon2-cffi's defaults are RFC 9106's second recommendation (argon2id, 64 MiB, t=3).
_hasher = PasswordHasher()
# Verified against when the account does not exist, so timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash("atelier-no-such-account")


def password_problem(password: str) -> str | None:
    """Why a new password is refused (French source string), or None when it is fine."""
    if len(password) < MIN_LENGTH:
        return N_("Le mot de passe doit compter au moins 12 caractères.")
    if len(password) > MAX_LENGTH:
        return N_("Le mot de passe est trop long.")
    return None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password[:MAX_LENGTH]) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches the stored hash (None: no password, always False)."""
    return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return False
