"""The share dialog's page ("Partager"): who has access, invitations, the item's guest links;
its forms go to the members and links routes and come back to it."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from tests.support.forms import post_form
from tests.support.page_reading import page_text
from tests.support.spaces_world import World, build_world
from web.spaces import guest_links
from web.spaces.tables import guest_links as guest_links_table
from web.spaces.tables import memberships


def share_of_page(world: World) -> str:
    return f"/espaces/{world.slug}/pages/{world.page.id}/partager"


async def role_of(world: World, who: str) -> str | None:
    async with world.app.state.engine.connect() as conn:
        role = (
            await conn.execute(
                select(memberships.c.role).where(
                    memberships.c.space_id == world.space_id,
                    memberships.c.user_id == world.people[who].id,
                )
            )
        ).scalar()
    return None if role is None else str(role)


async def test_a_page_shares_its_people_and_its_own_links_editable_by_admins_only(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    owner = page_text(await world.clients["owner"].get(share_of_page(world)))
    assert "Partager « Page partagée »" in owner
    for name in ("Admin", "Editor", "Commenter", "Reader"):
        assert name in owner
        assert f"Rôle de {name}" in owner  # a role menu on every row
    assert "Inviter des personnes" in owner
    # The page's own link (label "page"), not the space-wide one (label "espace").
    assert "créé par Owner" in owner and ">page" in owner and ">espace" not in owner
    assert "Créer un lien" in owner

    reader = page_text(await world.clients["reader"].get(share_of_page(world)))
    assert "Editor" in reader and "Éditeur" in reader
    assert "Rôle de" not in reader and "Inviter des personnes" not in reader
    assert "Liens d’invitation" not in reader  # readers do not see guest links

    editor = page_text(await world.clients["editor"].get(share_of_page(world)))
    assert "Créer un lien" in editor and "Rôle de" not in editor
    space_share = page_text(await world.clients["editor"].get(f"/espaces/{world.slug}/partager"))
    assert ">espace" in space_share and "Créer un lien" not in space_share  # admins' to make


async def test_the_dialogs_forms_come_back_to_it_and_no_elsewhere(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    owner = world.clients["owner"]
    back = share_of_page(world)
    changed = await post_form(
        owner,
        f"/espaces/{world.slug}/membres/role",
        {"user_id": str(world.people["reader"].id), "role": "editor", "retour": back},
    )
    assert changed.status_code == 303 and changed.headers["location"] == back
    assert await role_of(world, "reader") == "editor"

    removed = await post_form(
        owner,
        f"/espaces/{world.slug}/membres/retirer",
        {"user_id": str(world.people["commenter"].id), "retour": back},
    )
    assert removed.headers["location"] == back
    assert await role_of(world, "commenter") is None

    # Anything else than a share page of this space is not followed.
    for elsewhere in ("https://ailleurs.example/partager", "/espaces/autre/partager", "//x"):
        answer = await post_form(
            owner,
            f"/espaces/{world.slug}/membres/role",
            {"user_id": str(world.people["admin"].id), "role": "admin", "retour": elsewhere},
        )
        assert answer.headers["location"] == f"/espaces/{world.slug}/membres"


async def test_a_refusal_is_shown_in_the_dialog(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    back = f"/espaces/{world.slug}/partager"
    # An editor may not make a link to the whole space; told so in the share page.
    refused = await post_form(
        world.clients["editor"],
        f"/espaces/{world.slug}/liens",
        {"item": "", "role": "reader", "days": "3", "retour": back},
    )
    assert refused.status_code == 403
    assert "Votre rôle dans cet espace ne permet pas cette action." in page_text(refused)
    assert "data-share-panel" in refused.text
    invalid = await post_form(
        world.clients["owner"],
        f"/espaces/{world.slug}/membres/inviter",
        {"email": "pas une adresse", "role": "reader", "retour": back},
    )
    assert invalid.status_code == 422 and "data-share-panel" in invalid.text


async def test_a_link_made_in_the_dialog_is_shown_once_with_a_copy_button_and_revoked_there(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    editor = world.clients["editor"]
    back = share_of_page(world)
    made = await post_form(
        editor,
        f"/espaces/{world.slug}/liens",
        {"item": str(world.page.id), "role": "commenter", "days": "2", "label": "Prestataire"},
    )
    assert made.status_code == 201 and "data-share-panel" not in made.text  # the links page
    made = await post_form(
        editor,
        f"/espaces/{world.slug}/liens",
        {
            "item": str(world.page.id),
            "role": "commenter",
            "days": "2",
            "label": "Cabinet",
            "retour": back,
        },
    )
    assert made.status_code == 201
    text = page_text(made)
    assert "/invite/" in text and "Copier" in text and "Lien copié" in text
    assert "Cabinet" in text and "créé par Editor" in text
    async with app.state.engine.connect() as conn:
        link_id = (
            await conn.execute(
                select(guest_links_table.c.id).where(guest_links_table.c.label == "Cabinet")
            )
        ).scalar_one()
    again = page_text(await editor.get(back))
    assert "Cabinet" in again and "/invite/" not in again  # the token is shown once

    revoked = await post_form(
        editor, f"/espaces/{world.slug}/liens/{link_id}/revoquer", {"retour": back}
    )
    assert revoked.status_code == 303 and revoked.headers["location"] == back
    ended = await guest_links.ended_link(app.state.engine, link_id)
    assert ended is not None and ended.state == "revoked" and ended.creator_name == "Editor"


async def test_link_guests_have_no_share_dialog(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    page = await world.clients["page_link_editor"].get(
        f"/espaces/{world.slug}/pages/{world.page.id}"
    )
    assert page.status_code == 200 and "data-share-open" not in page.text
    assert (await world.clients["page_link_editor"].get(share_of_page(world))).status_code == 403
    member_page = await world.clients["reader"].get(f"/espaces/{world.slug}/pages/{world.page.id}")
    assert f'href="{share_of_page(world)}" data-share-open' in member_page.text
