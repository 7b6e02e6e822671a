"""What a guest meets: "Accueil" leads to what was shared; a revoked or expired link says so and
whom to ask; a space's members are named to guests only when the space says so."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy import update
from starlette.applications import Starlette

from tests.support.forms import post_form
from tests.support.page_reading import page_text
from tests.support.spaces_world import build_world, open_link
from web.spaces import guest_links, services
from web.spaces.access import utcnow
from web.spaces.tables import guest_links as guest_links_table

ASK_OWNER = "demandez un nouveau lien à Owner, qui l’avait créé."


async def home_of(client: httpx.AsyncClient) -> httpx.Response:
    """Where "Accueil" (and the logo, `/`) leads, followed to the end."""
    return await client.get("/", follow_redirects=True)


async def test_a_guests_home_is_what_was_shared_with_them(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    page_guest = await home_of(world.clients["page_link_editor"])
    assert page_guest.status_code == 200
    assert page_guest.url.path == f"/espaces/{world.slug}/pages/{world.page.id}"
    space_guest = await home_of(world.clients["space_link_reader"])
    assert space_guest.status_code == 200 and space_guest.url.path == f"/espaces/{world.slug}"
    member = await home_of(world.clients["reader"])
    assert member.url.path == "/espaces"


async def test_a_revoked_link_says_so_and_whom_to_ask(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    engine = app.state.engine
    new = await guest_links.create_guest_link(
        engine, world.owner, world.space_id, role="reader", page_id=world.page.id
    )
    guest = new_client()
    assert (await open_link(guest, new.token, "Paul Partenaire")).status_code == 303
    page = f"/espaces/{world.slug}/pages/{world.page.id}"
    assert (await guest.get(page)).status_code == 200
    await post_form(
        world.clients["owner"], f"/espaces/{world.slug}/liens/{new.link.id}/revoquer", {}
    )

    # The guest's open page, reloaded: not a sign-in form, the link's end.
    reloaded = await guest.get(page)
    assert reloaded.status_code == 410
    text = page_text(reloaded)
    assert "Ce lien d’invitation a été révoqué" in text and ASK_OWNER in text
    assert 'name="password"' not in text
    # Reloaded again (the dead session cookie is gone by now): the same.
    assert (await guest.get(page)).status_code == 410
    # The link itself, opened again, in this browser or another.
    for browser in (guest, new_client()):
        opened = await browser.get(f"/invite/{new.token}")
        assert opened.status_code == 410 and ASK_OWNER in page_text(opened)
    # Someone who never came by a link still signs in.
    stranger = await new_client().get(page)
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/connexion")


async def test_an_expired_link_says_so_to_its_guest_still_signed_in(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    async with app.state.engine.begin() as conn:
        await conn.execute(
            update(guest_links_table)
            .where(guest_links_table.c.id == world.people["space_link_reader"].guest_link_id)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    guest = world.clients["space_link_reader"]
    for path in (
        "/espaces",
        f"/espaces/{world.slug}",
        f"/espaces/{world.slug}/pages/{world.page.id}",
    ):
        answer = await guest.get(path)
        assert answer.status_code == 410, path
        assert "Ce lien d’invitation a expiré" in page_text(answer)
        assert ASK_OWNER in page_text(answer)


async def test_guests_see_the_members_names_only_when_the_space_says_so(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    home = f"/espaces/{world.slug}"
    guest = world.clients["space_link_reader"]
    hidden = page_text(await guest.get(home))
    assert "Cet espace ne montre pas ses membres aux invités." in hidden
    assert "Commenter" not in hidden and "Editor" not in hidden
    assert "Activité récente" not in hidden  # it names the members too
    assert "Commenter" in page_text(await world.clients["reader"].get(home))

    settings = page_text(await world.clients["owner"].get(home + "/parametres"))
    assert "Les invités voient les noms des membres" in settings
    saved = await post_form(
        world.clients["owner"],
        home + "/parametres",
        {"name": "Partenaires", "visibility": "private", "guests_see_members": "1"},
    )
    assert saved.status_code == 303
    space = await services.space_by_id(app.state.engine, world.space_id)
    assert space is not None and space.guests_see_members
    shown = page_text(await guest.get(home))
    assert "Commenter" in shown and "Editor" in shown
    assert "ne montre pas ses membres" not in shown
    # Unticked (a form without the box): hidden again.
    await post_form(
        world.clients["owner"],
        home + "/parametres",
        {"name": "Partenaires", "visibility": "private"},
    )
    assert "Commenter" not in page_text(await guest.get(home))
