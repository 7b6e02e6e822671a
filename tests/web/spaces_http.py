"""HTTP helpers for the spaces tests: a world of one space with a person in every role."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from web.auth.sessions import COOKIE_NAME
from web.spaces import guest_links, services, tree
from web.spaces.tables import guest_link_users
from web.spaces.tree import PageRef

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
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


@dataclass(frozen=True)
class Person:
    """Stands for `CurrentUser` in service calls made by the tests."""

    id: int
    role: str = "agent"
    guest_link_id: int | None = None
    display_name: str = ""


@dataclass
class World:
    app: Starlette
    slug: str
    space_id: int
    page: PageRef
    people: dict[str, Person] = field(default_factory=dict)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    @property
    def owner(self) -> Person:
        return self.people["owner"]

    async def new_page(self, title: str = "") -> PageRef:
        return await tree.create_page(
            self.app.state.engine, self.owner, self.space_id, title or f"P {uuid.uuid4().hex[:6]}"
        )


async def csrf(client: httpx.AsyncClient) -> str:
    # The sign-in page renders for anyone when it carries a notice key.
    response = await client.get("/connexion?avis=x")
    match = _META.search(response.text)
    assert match, response.text[:300]
    return match.group(1)


async def post(
    client: httpx.AsyncClient, path: str, data: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(path, data={**(data or {}), "csrf_token": await csrf(client)})


async def add_person(app: Starlette, name: str, role: str = "agent", **extra: str) -> Person:
    from web.accounts import users as accounts

    user_id = await accounts.create_user(
        app.state.engine,
        email=f"{name.replace('_', '.')}.{uuid.uuid4().hex[:6]}@example.gouv.fr",
        display_name=name.replace("_", " ").title(),
        password=None,
        role=role,
        status="active",
        **extra,
    )
    return Person(user_id, role, None, name)


async def sign_in_as(app: Starlette, client: httpx.AsyncClient, person: Person) -> None:
    cookie = await app.state.sessions.open(person.id, "tests")
    client.cookies.set(COOKIE_NAME, cookie)


async def open_link(client: httpx.AsyncClient, token: str, name: str) -> httpx.Response:
    form = await client.get(f"/invite/{token}")
    assert form.status_code == 200, form.text
    match = _META.search(form.text)
    assert match
    return await client.post(
        f"/invite/{token}", data={"display_name": name, "csrf_token": match.group(1)}
    )


async def build_world(app: Starlette, new_client: Callable[[], httpx.AsyncClient]) -> World:
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
        world.people[name] = Person(user_id, "guest", new.link.id, name)
    world.clients["anonymous"] = new_client()
    return world
