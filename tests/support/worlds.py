"""A space on a live `atelier serve`: a person in every role and two kinds of link guests,
each with a session cookie to open sockets with, made on the server's own database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.people import Who
from tests.support.servers import AtelierServer
from tests.support.spaces_world import open_link
from web.accounts import users as accounts
from web.auth.sessions import COOKIE_NAME, SessionStore
from web.auth.tokens import load_secret_key
from web.database import create_engine, database_url
from web.spaces import guest_links, services, tree


@dataclass
class LiveWorld:
    server: AtelierServer
    engine: AsyncEngine
    sessions: SessionStore
    slug: str
    space_id: int
    owner_id: int
    page: tree.PageRef
    other_page: tree.PageRef
    cookies: dict[str, str]
    link_ids: dict[str, int]
    ids: dict[str, int]


async def guest_cookie(server: AtelierServer, token: str, name: str) -> str:
    """Enter through a guest link under `name`; the `Cookie` value of the guest's session."""
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        response = await open_link(client, token, name)
        assert response.status_code == 303, response.text
        return f"{COOKIE_NAME}={client.cookies[COOKIE_NAME]}"


async def live_world(server: AtelierServer) -> LiveWorld:
    """One space with a shared page and another page; a session for the owner, each member
    role, an outsider and an instance admin; a guest of an editor link to the shared page
    and one of a reader link to the space. Dispose of `world.engine` at the end."""
    engine = create_engine(database_url(server.data_dir.resolve(), None))
    secret = load_secret_key("", server.data_dir.resolve())
    sessions = SessionStore(engine, secret, timedelta(days=1))
    ids: dict[str, int] = {}
    for name in ("owner", "admin", "editor", "commenter", "reader", "outsider", "instance_admin"):
        ids[name] = await accounts.create_user(
            engine,
            email=f"{name.replace('_', '.')}.{uuid.uuid4().hex[:6]}@example.gouv.fr",
            display_name=name,
            role="admin" if name == "instance_admin" else "agent",
        )
    owner = Who(ids["owner"])
    space = await services.create_space(engine, owner, name="Espace vivant")
    for role in ("admin", "editor", "commenter", "reader"):
        await services.add_member(engine, owner, space.id, ids[role], role)
    page = await tree.create_page(engine, owner, space.id, "Partagée")
    other = await tree.create_page(engine, owner, space.id, "Interne")
    cookies = {
        name: f"{COOKIE_NAME}={await sessions.open(user_id, 'test')}"
        for name, user_id in ids.items()
    }
    links = {
        "page_link_editor": await guest_links.create_guest_link(
            engine, owner, space.id, role="editor", page_id=page.id
        ),
        "space_link_reader": await guest_links.create_guest_link(
            engine, owner, space.id, role="reader"
        ),
    }
    for name, new in links.items():
        cookies[name] = await guest_cookie(server, new.token, name)
    return LiveWorld(
        server,
        engine,
        sessions,
        space.slug,
        space.id,
        ids["owner"],
        page,
        other,
        cookies,
        {name: new.link.id for name, new in links.items()},
        ids,
    )
