"""A world for the spaces tests over HTTP: one space with a signed-in client in every role."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from tests.support.forms import token_in
from tests.support.people import Who, add_person, sign_in_as
from web.spaces import guest_links, services, tree
from web.spaces.tables import guest_link_users
from web.spaces.tree import PageRef

MEMBER_ROLES = ("owner", "admin", "editor", "commenter", "reader")
# Everyone the matrix tries, with their role in the space (None: not in it).
ACTORS: dict[str, str | None] = {
    "owner": "owner",
    "admin": "admin",
    "editor": "editor",
    "commenter": "commenter",
    "reader": "reader",
    "outsider": None,  # an agent who is not a member
    "instance_admin": None,  # instance admins get no implicit access
    "space_link_reader": "reader",  # a guest through a reader link to the whole space
    "page_link_editor": None,  # a guest through an editor link to one page
    "anonymous": None,
}
LINK_GUESTS = ("space_link_reader", "page_link_editor")


@dataclass
class World:
    app: Starlette
    slug: str
    space_id: int
    page: PageRef
    people: dict[str, Who] = field(default_factory=dict)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    @property
    def owner(self) -> Who:
        return self.people["owner"]

    async def new_page(self, title: str = "") -> PageRef:
        return await tree.create_page(
            self.app.state.engine, self.owner, self.space_id, title or f"P {uuid.uuid4().hex[:6]}"
        )


async def open_link(client: httpx.AsyncClient, token: str, name: str) -> httpx.Response:
    """Follow a guest link and enter under `name`, as its guest does."""
    form = await client.get(f"/invite/{token}")
    assert form.status_code == 200, form.text
    return await client.post(
        f"/invite/{token}", data={"display_name": name, "csrf_token": token_in(form.text)}
    )


async def build_world(app: Starlette, new_client: Callable[[], httpx.AsyncClient]) -> World:
    """One space with a page, a member in every role, an outsider, an instance admin, a guest
    through each kind of link and an anonymous visitor, each with their own client."""
    engine = app.state.engine
    owner = await add_person(app, "owner")
    space = await services.create_space(engine, owner, name=f"Espace {uuid.uuid4().hex[:6]}")
    page = await tree.create_page(engine, owner, space.id, "Page partagée")
    world = World(app, space.slug, space.id, page, {"owner": owner})
    for role in MEMBER_ROLES[1:]:
        person = await add_person(app, role)
        await services.add_member(engine, owner, space.id, person.id, role)
        world.people[role] = person
    world.people["outsider"] = await add_person(app, "outsider")
    world.people["instance_admin"] = await add_person(app, "instance_admin", role="admin")
    for name, person in world.people.items():
        client = new_client()
        await sign_in_as(app, client, person)
        world.clients[name] = client
    space_link = await guest_links.create_guest_link(
        engine, owner, space.id, role="reader", label="espace"
    )
    page_link = await guest_links.create_guest_link(
        engine, owner, space.id, role="editor", page_id=page.id, label="page"
    )
    for name, new in (("space_link_reader", space_link), ("page_link_editor", page_link)):
        client = new_client()
        response = await open_link(client, new.token, name)
        assert response.status_code == 303, response.text
        async with engine.connect() as conn:
            user_id = (
                await conn.execute(
                    select(guest_link_users.c.user_id).where(
                        guest_link_users.c.guest_link_id == new.link.id
                    )
                )
            ).scalar_one()
        world.clients[name] = client
        world.people[name] = Who(user_id, "guest", new.link.id, name)
    world.clients["anonymous"] = new_client()
    return world
