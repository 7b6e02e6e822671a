"""First start: a one-time link to create the first administrator of an empty instance."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from web.auth.sessions import now_utc
from web.schema import first_admin_tokens, users


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_while_no_admin(engine: AsyncEngine) -> str | None:
    """A new first-admin token while the instance has no administrator, else None.

    Usually the database is empty; people who registered before any admin existed would
    otherwise wait for an approval nobody can give.
    """
    async with engine.begin() as connection:
        admins = (
            await connection.execute(
                select(func.count()).select_from(users).where(users.c.role == "admin")
            )
        ).scalar_one()
        if admins:
            return None
        token = secrets.token_urlsafe(32)
        await connection.execute(
            first_admin_tokens.insert().values(id=_hash(token), created_at=now_utc())
        )
    return token


async def token_is_live(engine: AsyncEngine, token: str) -> bool:
    """The token exists, is unused, and the instance still has no administrator."""
    if not token or len(token) > 100:
        return False
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(first_admin_tokens.c.used_at).where(first_admin_tokens.c.id == _hash(token))
            )
        ).first()
        admins = (
            await connection.execute(
                select(func.count()).select_from(users).where(users.c.role == "admin")
            )
        ).scalar_one()
    return row is not None and row.used_at is None and admins == 0


async def use_token(engine: AsyncEngine, token: str) -> bool:
    """Use the token up (once, and every other first-admin token with it)."""
    if not await token_is_live(engine, token):
        return False
    async with engine.begin() as connection:
        result = await connection.execute(
            update(first_admin_tokens)
            .where(
                and_(
                    first_admin_tokens.c.id == _hash(token), first_admin_tokens.c.used_at.is_(None)
                )
            )
            .values(used_at=now_utc())
        )
        if result.rowcount != 1:
            return False
        await connection.execute(
            update(first_admin_tokens)
            .where(first_admin_tokens.c.used_at.is_(None))
            .values(used_at=now_utc())
        )
    return True


async def first_admin_link(url: str, base_url: str) -> str | None:
    """While there is no administrator, a one-time link to create the first one."""
    from web.database import create_engine

    engine = create_engine(url)
    try:
        token = await issue_while_no_admin(engine)
    finally:
        await engine.dispose()
    return None if token is None else f"{base_url.rstrip('/')}/premier-admin/{token}"
