"""People to act as: the stand-in for `CurrentUser` in service calls, accounts made straight in
the database or through the accounts service, and signing a client in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from tests.support.forms import post_form
from web.accounts import users as accounts
from web.auth.sessions import COOKIE_NAME
from web.schema import users

PASSWORD = "un mot de passe solide"


@dataclass(frozen=True)
class Who:
    """Stands for `CurrentUser` in service calls made by the tests: what access checks read."""

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
    """An account written straight into the `users` table (no password)."""
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


async def add_person(app: Starlette, name: str, role: str = "agent", **extra: str) -> Who:
    """An active account made by the accounts service, named after `name`."""
    user_id = await accounts.create_user(
        app.state.engine,
        email=f"{name.replace('_', '.')}.{uuid.uuid4().hex[:6]}@example.gouv.fr",
        display_name=name.replace("_", " ").title(),
        password=None,
        role=role,
        status="active",
        **extra,
    )
    return Who(user_id, role, None, name)


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    """Submit the sign-in form, as a person would."""
    return await post_form(client, "/connexion", {"email": email, "password": password})


async def sign_in_as(app: Starlette, client: httpx.AsyncClient, person: Who) -> None:
    """Give `client` a session of `person` without the sign-in form."""
    cookie = await app.state.sessions.open(person.id, "tests")
    client.cookies.set(COOKIE_NAME, cookie)
