"""A team on a live `atelier serve`: one space, an owner and editors with session cookies,
made straight in the server's database (its SQLite file, or the PostgreSQL it runs on)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.people import Who
from tests.support.servers import AtelierServer
from tests.support.tasks import TasksApi
from web.accounts import users as accounts
from web.auth.sessions import COOKIE_NAME, SessionStore
from web.auth.tokens import load_secret_key
from web.database import create_engine, database_url
from web.spaces import services


@dataclass
class Team:
    server: AtelierServer
    engine: AsyncEngine
    slug: str
    space_id: int
    cookies: list[str]  # `Cookie` header values; the owner's first, then each member's

    def api(self, index: int) -> TasksApi:
        """Person `index`'s client on the space's tasks API (close its `client`)."""
        value = self.cookies[index].split("=", 1)[1]
        client = httpx.AsyncClient(
            base_url=self.server.http_url, cookies={COOKIE_NAME: value}, timeout=30
        )
        return TasksApi(client, self.slug)


async def make_team(
    server: AtelierServer, members: int, *, role: str = "editor", url: str | None = None
) -> Team:
    """A space owned by one person with `members` others in `role`; dispose of `engine`."""
    engine = create_engine(database_url(server.data_dir.resolve(), url))
    secret = load_secret_key("", server.data_dir.resolve())
    sessions = SessionStore(engine, secret, timedelta(days=1))
    ids = []
    for n in range(members + 1):
        ids.append(
            await accounts.create_user(
                engine,
                email=f"equipe{n}.{uuid.uuid4().hex[:6]}@example.gouv.fr",
                display_name=f"Agent {n}",
            )
        )
    space = await services.create_space(engine, Who(ids[0]), name=f"Équipe {uuid.uuid4().hex[:4]}")
    for user_id in ids[1:]:
        await services.add_member(engine, Who(ids[0]), space.id, user_id, role)
    cookies = [f"{COOKIE_NAME}={await sessions.open(user_id, 'equipe')}" for user_id in ids]
    return Team(server, engine, space.slug, space.id, cookies)
