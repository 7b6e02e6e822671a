"""Helpers for the spaces tests: a migrated database (SQLite, and PostgreSQL when present) and
accounts to act as."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.realtime.conftest import database_url, empty_database_url, engine, open_engine
from web.schema import users

__all__ = ["Who", "add_user", "database_url", "empty_database_url", "engine", "open_engine"]


@dataclass(frozen=True)
class Who:
    """Stands for `CurrentUser` in service tests: what access checks read."""

    id: int
    role: str = "agent"
    guest_link_id: int | None = None
    display_name: str = ""


async def add_user(
    engine: AsyncEngine,
    name: str = "",
    *,
    role: str = "agent",
    email: str | None = None,
    organisation: str = "",
    status: str = "active",
) -> Who:
    name = name or f"Agent {uuid.uuid4().hex[:6]}"
    email = email or f"{uuid.uuid4().hex[:10]}@example.gouv.fr"
    async with engine.begin() as conn:
        user_id = (
            await conn.execute(
                insert(users)
                .values(
                    email=email,
                    display_name=name,
                    role=role,
                    organisation=organisation,
                    status=status,
                )
                .returning(users.c.id)
            )
        ).scalar_one()
    return Who(int(user_id), role, None, name)
