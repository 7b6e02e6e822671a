"""One-use tokens mailed to people (password reset, address confirmation), stored hashed."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from web.auth.sessions import now_utc, utc
from web.schema import account_tokens

LIFETIMES = {"reset": timedelta(hours=1), "confirm": timedelta(days=3)}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(
    engine: AsyncEngine,
    user_id: int,
    purpose: str,
    now: datetime | None = None,
    *,
    lifetime: timedelta | None = None,
) -> str:
    """A new token for `user_id`; earlier unused ones of the same purpose stop working."""
    now = now or now_utc()
    token = secrets.token_urlsafe(32)
    async with engine.begin() as connection:
        await connection.execute(
            update(account_tokens)
            .where(
                and_(
                    account_tokens.c.user_id == user_id,
                    account_tokens.c.purpose == purpose,
                    account_tokens.c.used_at.is_(None),
                )
            )
            .values(used_at=now)
        )
        await connection.execute(
            account_tokens.insert().values(
                id=_hash(token),
                user_id=user_id,
                purpose=purpose,
                created_at=now,
                expires_at=now + (lifetime or LIFETIMES[purpose]),
            )
        )
    return token


async def peek(
    engine: AsyncEngine, token: str, purpose: str, now: datetime | None = None
) -> int | None:
    """The user a live token belongs to, without using it up."""
    if not token or len(token) > 100:
        return None
    now = now or now_utc()
    query = select(account_tokens).where(
        account_tokens.c.id == _hash(token), account_tokens.c.purpose == purpose
    )
    async with engine.connect() as connection:
        row = (await connection.execute(query)).first()
    if row is None or row.used_at is not None or utc(row.expires_at) <= now:
        return None
    return int(row.user_id)


async def consume(
    engine: AsyncEngine, token: str, purpose: str, now: datetime | None = None
) -> int | None:
    """Use a live token up (once, even under concurrent requests); its user or None."""
    user_id = await peek(engine, token, purpose, now)
    if user_id is None:
        return None
    now = now or now_utc()
    async with engine.begin() as connection:
        result = await connection.execute(
            update(account_tokens)
            .where(and_(account_tokens.c.id == _hash(token), account_tokens.c.used_at.is_(None)))
            .values(used_at=now)
        )
    return user_id if result.rowcount == 1 else None
