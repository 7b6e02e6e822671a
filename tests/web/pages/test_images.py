"""Images follow their page's access: served only through a page that holds them, to those who
may read it; brought into another page only by an editor who can see them; never cached for
long or by shared caches.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
from starlette.applications import Starlette

from tests.support.forms import csrf_token
from tests.support.images import png
from tests.support.page_reading import editor_data
from tests.support.people import Who, add_person, sign_in_as
from tests.support.spaces_world import World, build_world, open_link
from tests.support.web_app import document_token
from web.spaces import guest_links, services, tree

IMAGE_URL = re.compile(r"^/espaces/[^/]+/pages/\d+/images/([0-9a-f]{64}\.png)$")


async def upload(client: httpx.AsyncClient, page_url: str, data: bytes) -> str:
    """Upload through a page as `client`; the image's address."""
    response = await client.post(
        page_url + "/images",
        files={"file": ("a.png", data, "image/png")},
        headers={"X-CSRF-Token": await csrf_token(client)},
    )
    assert response.status_code == 201, response.text
    url: str = response.json()["url"]
    return url


async def bring(client: httpx.AsyncClient, page_url: str, *names: str) -> httpx.Response:
    """Ask to bring images (copied from elsewhere) into a page."""
    return await client.post(
        page_url + "/images/references",
        json={"images": list(names)},
        headers={"X-CSRF-Token": await csrf_token(client)},
    )


def page_url(world: World, page: tree.PageRef | None = None) -> str:
    return f"/espaces/{world.slug}/pages/{(page or world.page).id}"


def name_of(url: str) -> str:
    match = IMAGE_URL.match(url)
    assert match, url
    return match.group(1)


def assert_kept_privately(response: httpx.Response) -> None:
    cache = response.headers["cache-control"]
    assert cache.startswith("private, max-age="), cache
    assert "immutable" not in cache and "public" not in cache
    assert response.headers["x-content-type-options"] == "nosniff"


async def other_space(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> tuple[World, httpx.AsyncClient, httpx.AsyncClient]:
    """A second space: (its world with an owner, that owner's client, a guest of its page)."""
    engine = app.state.engine
    owner = await add_person(app, "owner_b")
    space = await services.create_space(engine, owner, name=f"Autre {uuid.uuid4().hex[:6]}")
    page = await tree.create_page(engine, owner, space.id, "Page B")
    world = World(app, space.slug, space.id, page, {"owner": owner})
    owner_client = new_client()
    await sign_in_as(app, owner_client, owner)
    link = await guest_links.create_guest_link(
        engine, owner, space.id, role="editor", page_id=page.id
    )
    guest = new_client()
    assert (await open_link(guest, link.token, "Invitée B")).status_code == 303
    return world, owner_client, guest


async def test_members_and_guests_of_the_page_see_its_image_and_browsers_keep_it_privately(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    url = await upload(world.clients["editor"], page_url(world), png(3, 2))
    for actor in ("owner", "reader", "commenter", "space_link_reader", "page_link_editor"):
        response = await world.clients[actor].get(url)
        assert response.status_code == 200, actor
        assert response.content == png(3, 2)
        assert response.headers["content-type"] == "image/png"
        assert_kept_privately(response)
    # Once the copy is stale, the browser asks again and, access still holding, gets a 304.
    reader = world.clients["reader"]
    etag = (await reader.get(url)).headers["etag"]
    again = await reader.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert_kept_privately(again)


async def test_an_image_is_not_served_through_another_page_that_does_not_hold_it(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    url = await upload(world.clients["owner"], page_url(world), png(4, 1))
    sibling = await world.new_page("Sœur")
    through_sibling = f"{page_url(world, sibling)}/images/{name_of(url)}"
    assert (await world.clients["owner"].get(through_sibling)).status_code == 404
    # The old shared address does not serve it to people who may not read a page holding it.
    for actor in ("outsider", "instance_admin", "anonymous"):
        response = await world.clients[actor].get(f"/fichiers/images/{name_of(url)}")
        assert response.status_code == 404, actor
        assert response.headers["cache-control"] == "no-store"


async def test_a_guest_of_another_space_gets_404_for_this_spaces_image(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    url = await upload(world.clients["owner"], page_url(world), png(5, 1))
    name = name_of(url)
    other, _owner_b, guest_b = await other_space(app, new_client)
    assert (await guest_b.get(page_url(other))).status_code == 200  # B's guest reads B's page
    for path in (url, f"{page_url(other)}/images/{name}", f"/fichiers/images/{name}"):
        response = await guest_b.get(path)
        assert response.status_code == 404, path
        assert b"\x89PNG" not in response.content
    # A guest of one page of this space does not see the images of its other pages either.
    elsewhere = await world.new_page("Interne")
    internal = await upload(world.clients["owner"], page_url(world, elsewhere), png(5, 2))
    guest = world.clients["page_link_editor"]
    assert (await guest.get(internal)).status_code == 404
    assert (await guest.get(f"{page_url(world)}/images/{name_of(internal)}")).status_code == 404
    assert (await guest.get(f"/fichiers/images/{name_of(internal)}")).status_code == 404


async def test_a_revoked_guest_no_longer_gets_the_image_at_any_address(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    url = await upload(world.clients["owner"], page_url(world), png(6, 1))
    guest = world.clients["page_link_editor"]
    assert (await guest.get(url)).status_code == 200
    assert (await guest.get(f"/fichiers/images/{name_of(url)}")).status_code == 200
    link_id = world.people["page_link_editor"].guest_link_id
    assert link_id is not None
    await guest_links.revoke_guest_link(app.state.engine, world.owner, link_id)
    for path in (url, f"/fichiers/images/{name_of(url)}"):
        response = await guest.get(path)
        assert response.status_code == 404, path
        assert b"\x89PNG" not in response.content


async def test_a_non_member_agent_gets_404_for_a_private_spaces_image(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    url = await upload(world.clients["owner"], page_url(world), png(7, 1))
    name = name_of(url)
    outsider = world.clients["outsider"]
    # Even through a page of the outsider's own space, where it could write.
    own = await services.create_space(
        app.state.engine, world.people["outsider"], name=f"Perso {uuid.uuid4().hex[:6]}"
    )
    own_page = await tree.create_page(app.state.engine, world.people["outsider"], own.id, "X")
    own_url = f"/espaces/{own.slug}/pages/{own_page.id}"
    for path in (url, f"{own_url}/images/{name}", f"/fichiers/images/{name}"):
        assert (await outsider.get(path)).status_code == 404, path
    # Knowing the address is not enough to bring it into one's own page.
    refused = await bring(outsider, own_url, name)
    assert refused.status_code == 200 and refused.json() == {"images": []}
    assert (await outsider.get(f"{own_url}/images/{name}")).status_code == 404
    # An unknown image answers exactly like one that exists but is not theirs.
    unknown = await outsider.get(f"{own_url}/images/{'0' * 64}.png")
    not_theirs = await outsider.get(f"{own_url}/images/{name}")
    assert unknown.status_code == 404 and unknown.text == not_theirs.text


async def test_an_image_copied_into_another_spaces_page_shows_there_once_brought_over(
    db_app: Starlette, browsers: Callable[[], httpx.AsyncClient]
) -> None:
    app, new_client = db_app, browsers
    world = await build_world(app, new_client)
    url = await upload(world.clients["owner"], page_url(world), png(8, 1))
    name = name_of(url)
    other, owner_b, guest_b = await other_space(app, new_client)
    # The editor of B who also reads A pastes A's image into B's page.
    both: Who = world.people["reader"]
    await services.add_member(app.state.engine, other.owner, other.space_id, both.id, "editor")
    paster = world.clients["reader"]
    in_b = f"{page_url(other)}/images/{name}"
    assert (await paster.get(in_b)).status_code == 404  # readable both ways, not held by B
    assert (await guest_b.get(in_b)).status_code == 404
    brought = await bring(paster, page_url(other), name)
    assert brought.status_code == 200 and brought.json() == {"images": [name]}
    for client in (paster, owner_b, guest_b):  # B's readers now see it through B's page
        response = await client.get(in_b)
        assert response.status_code == 200 and response.content == png(8, 1)
    # ... and only through B's page: B's guest still cannot read A.
    assert (await guest_b.get(url)).status_code == 404
    # Someone who writes in B but cannot see A's image cannot bring it over.
    second = await upload(world.clients["owner"], page_url(world), png(8, 2))
    refused = await bring(owner_b, page_url(other), name_of(second))
    assert refused.json() == {"images": []}
    assert (await owner_b.get(f"{page_url(other)}/images/{name_of(second)}")).status_code == 404


async def test_only_editors_bring_images_into_a_page_and_bad_requests_are_refused(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    url = await upload(world.clients["owner"], page_url(world), png(9, 1))
    target = page_url(world, await world.new_page("Cible"))
    name = name_of(url)
    assert (await bring(world.clients["reader"], target, name)).status_code == 403
    assert (await bring(world.clients["outsider"], target, name)).status_code == 404
    assert (await bring(world.clients["page_link_editor"], target, name)).status_code == 404
    editor = world.clients["editor"]
    headers = {"X-CSRF-Token": await csrf_token(editor)}
    for body in (b"not json", b'{"images": "x.png"}', b'{"images": ["../secret_key"]}'):
        response = await editor.post(target + "/images/references", content=body, headers=headers)
        assert response.status_code == 422, body
    too_many = await bring(editor, target, *(f"{i:064x}.png" for i in range(101)))
    assert too_many.status_code == 422
    assert (await bring(editor, target, name)).json() == {"images": [name]}
    assert (await editor.get(f"{target}/images/{name}")).status_code == 200


async def test_a_token_documents_image_is_served_with_a_token_covering_a_document_holding_it(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    client = new_client()
    writer = document_token("notes/")
    response = await client.post(
        "/d/notes/a/images",
        params={"token": writer},
        files={"file": ("a.png", png(2, 2), "image/png")},
        headers={"X-CSRF-Token": await csrf_token(client)},
    )
    assert response.status_code == 201
    url = response.json()["url"]
    match = re.fullmatch(r"/d/notes/a/images/([0-9a-f]{64}\.png)", url)
    assert match, url  # the token never goes into the document's text
    name = match.group(1)
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, params={"token": document_token("autre/")})).status_code == 403
    image = await client.get(url, params={"token": document_token("notes/a", writable=False)})
    assert image.status_code == 200 and image.content == png(2, 2)
    assert_kept_privately(image)
    assert (await client.get(f"/fichiers/images/{name}")).status_code == 404
    # Another document under the same token holds it only once brought over.
    in_b = f"/d/notes/b/images/{name}"
    assert (await client.get(in_b, params={"token": writer})).status_code == 404
    outside = await client.post(
        "/d/autre/x/images/references",
        params={"token": document_token("autre/")},
        json={"images": [name]},
        headers={"X-CSRF-Token": await csrf_token(client)},
    )
    assert outside.json() == {"images": []}
    brought = await client.post(
        "/d/notes/b/images/references",
        params={"token": writer},
        json={"images": [name]},
        headers={"X-CSRF-Token": await csrf_token(client)},
    )
    assert brought.json() == {"images": [name]}
    assert (await client.get(in_b, params={"token": writer})).status_code == 200


async def test_the_editor_is_told_where_the_pages_images_are_served(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    for actor in ("reader", "editor"):
        page = await world.clients[actor].get(page_url(world))
        assert editor_data(page.text)["image-base"] == page_url(world) + "/images"
    document = await new_client().get("/d/notes/a", params={"token": document_token("notes/")})
    assert editor_data(document.text)["image-base"] == "/d/notes/a/images"
