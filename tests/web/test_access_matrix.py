"""The authorisation matrix: every role and kind of guest × every spaces route, over HTTP.

Roles in the space: owner, admin, editor, commenter, reader; a non-member agent; an instance
admin who is not a member; a guest through a reader link to the whole space; a guest through
an editor link to one page; anonymous. Each route is tried by each of them; allowed ones
succeed, others are refused (403), see nothing (404) or are sent to sign in.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from tests.support.forms import csrf_token as csrf
from tests.support.forms import post_form as post
from tests.support.images import png
from tests.support.people import add_person
from tests.support.spaces_world import ACTORS, LINK_GUESTS, World, build_world
from web.pages.image_access import record_images
from web.pages.images import ImageStore
from web.spaces import guest_links, services, tree
from web.spaces.access import ROLE_RANK, utcnow
from web.spaces.tables import pages
from web.visio.notes import find_notes_page

# (method, path, data): "POST" sends data as a form, "JSON" as a JSON body (as scripts do).
Request = Callable[[World, str], Awaitable[tuple[str, str, dict[str, Any] | None]]]


def outcome(response: httpx.Response) -> str:
    location = response.headers.get("location", "")
    if response.status_code == 303 and location.startswith("/connexion"):
        return "sign in"
    if response.request.method == "GET" and response.status_code == 303 and "/pages/" in location:
        return "sent to its page"
    if response.status_code in (200, 201, 303):
        return "ok"
    return {403: "forbidden", 404: "hidden"}.get(response.status_code, str(response.status_code))


def expected_in_space(actor: str, needed: str, *, link_guests: bool = True) -> str:
    if actor == "anonymous":
        return "sign in"
    role = ACTORS[actor]
    if role is None:
        return "hidden"
    if actor in LINK_GUESTS and not link_guests:
        return "forbidden"
    return "ok" if ROLE_RANK[role] >= ROLE_RANK[needed] else "forbidden"


def expected_for_agents(actor: str) -> str:
    if actor == "anonymous":
        return "sign in"
    return "forbidden" if actor in LINK_GUESTS else "ok"


@dataclass(frozen=True)
class Case:
    name: str
    request: Request
    needed: str | None  # None: not a space route (agents only)
    link_guests: bool = True
    page_guest: str | None = None  # what the one-page guest gets, when not "hidden"
    anonymous: str | None = None  # what anonymous gets, when not sent to sign in


def get(path: str) -> Request:
    async def make(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
        return "GET", path.format(slug=world.slug, page=world.page.id, owner=world.owner.id), None

    return make


async def _create_page(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    return "POST", f"/espaces/{world.slug}/pages", {"title": f"Nouvelle par {actor}"}


async def _rename(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    return (
        "POST",
        f"/espaces/{world.slug}/pages/{world.page.id}/renommer",
        {"title": f"par {actor}"},
    )


async def _move(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    page = await world.new_page()
    path = f"/espaces/{world.slug}/pages/{page.id}/deplacer"
    return "POST", path, {"parent_id": str(world.page.id)}


async def _shift(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    return "POST", f"/espaces/{world.slug}/pages/{world.page.id}/ordre", {"direction": "down"}


async def _trash(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    page = await world.new_page()
    return "POST", f"/espaces/{world.slug}/pages/{page.id}/corbeille", {}


async def _restore(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    page = await world.new_page()
    await tree.trash_page(world.app.state.engine, world.owner, page.id)
    return "POST", f"/espaces/{world.slug}/pages/{page.id}/restaurer", {}


async def _settings(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    data = {"name": "Espace renommé", "description": "", "visibility": "private"}
    return "POST", f"/espaces/{world.slug}/parametres", data


async def _unarchive(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    return "POST", f"/espaces/{world.slug}/archiver", {"archive": "0"}


async def _add_member(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    person = await add_person(world.app, f"new_{actor}")
    data = {"user_id": str(person.id), "role": "reader"}
    return "POST", f"/espaces/{world.slug}/membres/ajouter", data


async def _invite(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    data = {"email": f"ext-{uuid.uuid4().hex[:8]}@entreprise.fr", "role": "reader"}
    return "POST", f"/espaces/{world.slug}/membres/inviter", data


async def _fresh_member(world: World, actor: str) -> int:
    person = await add_person(world.app, f"member_{actor}")
    engine = world.app.state.engine
    await services.add_member(engine, world.owner, world.space_id, person.id, "reader")
    return person.id


async def _change_role(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    data = {"user_id": str(await _fresh_member(world, actor)), "role": "commenter"}
    return "POST", f"/espaces/{world.slug}/membres/role", data


async def _remove(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    data = {"user_id": str(await _fresh_member(world, actor))}
    return "POST", f"/espaces/{world.slug}/membres/retirer", data


async def _create_link(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    data = {"item": str(world.page.id), "role": "reader", "days": "3", "label": actor}
    return "POST", f"/espaces/{world.slug}/liens", data


async def _revoke_link(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    new = await guest_links.create_guest_link(
        world.app.state.engine, world.owner, world.space_id, role="reader", page_id=world.page.id
    )
    return "POST", f"/espaces/{world.slug}/liens/{new.link.id}/revoquer", {}


async def _meeting_notes(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    # Each actor finds no notes page today, so each one tries to create it.
    engine = world.app.state.engine
    found = await find_notes_page(engine, world.space_id, utcnow().date())
    if found is not None:
        await tree.trash_page(engine, world.owner, found)
    return "POST", f"/espaces/{world.slug}/reunion/notes", {}


async def _create_space(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    data = {"name": f"Espace de {actor}", "kind": "project", "visibility": "private"}
    return "POST", "/espaces", data


async def _image_of_the_page(world: World) -> str:
    """An image the shared page holds (as an upload through it leaves it); its name."""
    folder = world.app.state.settings.data_path / "files" / "images"
    stored = ImageStore(folder, 2**20).save(png(2, 3))
    await record_images(world.app.state.engine, world.page.doc_name, [stored.name])
    return stored.name


async def _page_image(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    name = await _image_of_the_page(world)
    return "GET", f"/espaces/{world.slug}/pages/{world.page.id}/images/{name}", None


async def _shared_address_image(world: World, actor: str) -> tuple[str, str, dict[str, str] | None]:
    return "GET", f"/fichiers/images/{await _image_of_the_page(world)}", None


async def _bring_images(world: World, actor: str) -> tuple[str, str, dict[str, Any] | None]:
    name = await _image_of_the_page(world)
    page = await world.new_page()
    # The one-page guest may write the shared page only: bring into it from itself.
    target = world.page if actor == "page_link_editor" else page
    path = f"/espaces/{world.slug}/pages/{target.id}/images/references"
    return "JSON", path, {"images": [name]}


CASES = [
    Case("list spaces", get("/espaces"), None),
    Case("new space form", get("/espaces/nouveau"), None),
    Case("create a space", _create_space, None),
    Case("directory search", get("/annuaire?q=a"), None),
    Case("directory profile", get("/annuaire/{owner}"), None),
    Case("space home", get("/espaces/{slug}"), "reader", page_guest="sent to its page"),
    Case("members page", get("/espaces/{slug}/membres"), "reader", link_guests=False),
    Case("organise pages", get("/espaces/{slug}/organiser"), "editor"),
    Case("guest links page", get("/espaces/{slug}/liens"), "editor"),
    Case("trash", get("/espaces/{slug}/corbeille"), "editor"),
    Case("settings page", get("/espaces/{slug}/parametres"), "admin"),
    Case("create a page", _create_page, "editor"),
    Case("rename a page", _rename, "editor"),
    Case("move a page", _move, "editor"),
    Case("reorder a page", _shift, "editor"),
    Case("trash a page", _trash, "editor"),
    Case("restore a page", _restore, "editor"),
    Case("change settings", _settings, "admin"),
    Case("archive or unarchive", _unarchive, "admin"),
    Case("add a member", _add_member, "admin"),
    Case("invite by email", _invite, "admin"),
    Case("change a role", _change_role, "admin"),
    Case("remove a member", _remove, "admin"),
    Case("create a guest link", _create_link, "editor"),
    Case("revoke someone else's guest link", _revoke_link, "admin"),
    Case("an image of a page", _page_image, "reader", page_guest="ok"),
    Case(
        "an image at the old shared address",
        _shared_address_image,
        "reader",
        page_guest="ok",
        anonymous="hidden",
    ),
    Case("bring images into a page", _bring_images, "editor", page_guest="ok"),
    Case("create the day's meeting notes", _meeting_notes, "editor"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_every_actor_is_allowed_or_refused_as_its_role_says(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient], case: Case
) -> None:
    world = await build_world(app, new_client)
    seen: dict[str, str] = {}
    wanted: dict[str, str] = {}
    for actor in ACTORS:
        method, path, data = await case.request(world, actor)
        client = world.clients[actor]
        if method == "GET":
            response = await client.get(path)
        elif method == "JSON":
            headers = {"X-CSRF-Token": await csrf(client)}
            response = await client.post(path, json=data, headers=headers)
        else:
            response = await post(client, path, data)
        assert response.status_code < 500, f"{actor}: {response.status_code} {response.text}"
        seen[actor] = outcome(response)
        if case.needed is None:
            wanted[actor] = expected_for_agents(actor)
        else:
            wanted[actor] = expected_in_space(actor, case.needed, link_guests=case.link_guests)
        if actor == "page_link_editor" and case.page_guest is not None:
            wanted[actor] = case.page_guest
        if actor == "anonymous" and case.anonymous is not None:
            wanted[actor] = case.anonymous
    assert seen == wanted


async def test_refused_actors_change_nothing(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    for actor in ACTORS:  # owner, admin, editor may; everyone after them may not
        _, path, data = await _rename(world, actor)
        await post(world.clients[actor], path, data)
    async with app.state.engine.connect() as conn:
        title = (
            await conn.execute(select(pages.c.title).where(pages.c.id == world.page.id))
        ).scalar()
    assert title == "par editor"
