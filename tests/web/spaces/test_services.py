"""Spaces and members, as services: create, list, archive; add, invite, leave, remove, roles."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.people import Who, add_user
from web.schema import users
from web.spaces import services
from web.spaces.access import page_role, space_role
from web.spaces.errors import Conflict, Forbidden, InvalidInput, NotFound
from web.spaces.tree import create_page


async def test_the_creator_of_a_space_is_its_owner_and_sees_it_in_my_spaces(
    engine: AsyncEngine,
) -> None:
    alice = await add_user(engine, "Alice")
    space = await services.create_space(engine, alice, name="Équipe Données", kind="community")
    assert space.slug == "equipe-donnees" and space.kind == "community"
    assert await space_role(engine, alice, space.id) == "owner"
    mine = await services.my_spaces(engine, alice)
    assert [(s.space.name, s.role) for s in mine] == [("Équipe Données", "owner")]


async def test_two_spaces_with_the_same_name_get_distinct_slugs(engine: AsyncEngine) -> None:
    alice = await add_user(engine)
    first = await services.create_space(engine, alice, name="Projet")
    second = await services.create_space(engine, alice, name="Projet")
    reserved = await services.create_space(engine, alice, name="Nouveau")
    assert (first.slug, second.slug) == ("projet", "projet-2")
    assert reserved.slug != "nouveau"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "   "}, "Nom : ce champ est obligatoire"),
        ({"name": "x" * 201}, "200 caractères au plus"),
        ({"name": "ok", "kind": "club"}, "Type : choisissez parmi project, community"),
        ({"name": "ok", "visibility": "public"}, "Visibilité : choisissez parmi"),
        ({"name": "ok", "description": "x" * 5001}, "5000 caractères au plus"),
    ],
)
async def test_bad_space_fields_are_refused_with_a_clear_message(
    engine: AsyncEngine, fields: dict[str, str], message: str
) -> None:
    alice = await add_user(engine)
    with pytest.raises(InvalidInput, match=message):
        await services.create_space(engine, alice, **fields)


async def test_html_in_a_description_is_sanitised(engine: AsyncEngine) -> None:
    alice = await add_user(engine)
    space = await services.create_space(
        engine,
        alice,
        name="<b>Nom</b>",
        description='<b>gras</b><script>alert(1)</script><a href="x" onclick="y">lien</a>',
    )
    assert "<script>" not in space.description and "onclick" not in space.description
    assert "<b>gras</b>" in space.description
    assert space.name == "<b>Nom</b>"  # names are plain text, escaped when shown


async def test_guests_cannot_create_spaces_or_see_listed_ones(engine: AsyncEngine) -> None:
    alice = await add_user(engine)
    guest = await add_user(engine, role="guest")
    await services.create_space(engine, alice, name="Ouvert", visibility="listed")
    with pytest.raises(Forbidden):
        await services.create_space(engine, guest, name="Non")
    assert await services.listed_spaces(engine, guest) == []


async def test_listed_spaces_are_searchable_and_readable_by_agents_private_ones_are_not(
    engine: AsyncEngine,
) -> None:
    alice = await add_user(engine)
    bob = await add_user(engine)
    listed = await services.create_space(
        engine, alice, name="Communauté RH", visibility="listed", description="ressources"
    )
    private = await services.create_space(engine, alice, name="Secret RH")
    found = await services.listed_spaces(engine, bob, "rh")
    assert [s.id for s in found] == [listed.id]
    assert [s.id for s in await services.listed_spaces(engine, bob, "ressources")] == [listed.id]
    assert await services.listed_spaces(engine, bob, "100%") == []
    assert await space_role(engine, bob, listed.id) == "reader"
    assert await space_role(engine, bob, private.id) is None


async def test_instance_admins_get_no_implicit_access_to_private_spaces(
    engine: AsyncEngine,
) -> None:
    alice = await add_user(engine)
    admin = await add_user(engine, role="admin")
    space = await services.create_space(engine, alice, name="Privé")
    page = await create_page(engine, alice, space.id, "Notes")
    assert await space_role(engine, admin, space.id) is None
    assert await page_role(engine, admin, page.id) is None


async def test_archived_space_is_read_only_and_can_be_brought_back(engine: AsyncEngine) -> None:
    alice = await add_user(engine)
    space = await services.create_space(engine, alice, name="Vieux projet")
    page = await create_page(engine, alice, space.id, "Notes")
    await services.set_archived(engine, alice, space.id, True)
    assert await page_role(engine, alice, page.id) == "reader"
    with pytest.raises(Conflict, match="archivé"):
        await create_page(engine, alice, space.id, "Encore")
    await services.set_archived(engine, alice, space.id, False)
    assert await page_role(engine, alice, page.id) == "owner"


async def _space_with(engine: AsyncEngine, **roles: str) -> tuple[int, dict[str, Who]]:
    owner = await add_user(engine, "Owner")
    space = await services.create_space(engine, owner, name="Espace")
    people = {"owner": owner}
    for name, role in roles.items():
        person = await add_user(engine, name)
        await services.add_member(engine, owner, space.id, person.id, role)
        people[name] = person
    return space.id, people


async def test_members_are_listed_strongest_role_first(engine: AsyncEngine) -> None:
    space_id, _ = await _space_with(engine, zoe="reader", yann="editor", xavier="admin")
    members = await services.list_members(engine, space_id)
    assert [m.role for m in members] == ["owner", "admin", "editor", "reader"]


async def test_adding_someone_twice_is_a_conflict(engine: AsyncEngine) -> None:
    space_id, people = await _space_with(engine, bob="reader")
    with pytest.raises(Conflict, match="déjà membre"):
        await services.add_member(engine, people["owner"], space_id, people["bob"].id, "editor")


async def test_editors_cannot_manage_members(engine: AsyncEngine) -> None:
    space_id, people = await _space_with(engine, ed="editor", bob="reader")
    with pytest.raises(Forbidden):
        await services.change_role(engine, people["ed"], space_id, people["bob"].id, "editor")
    with pytest.raises(Forbidden):
        await services.remove_member(engine, people["ed"], space_id, people["bob"].id)


async def test_space_admins_cannot_name_or_touch_owners(engine: AsyncEngine) -> None:
    space_id, people = await _space_with(engine, adm="admin", bob="reader")
    with pytest.raises(Forbidden, match="propriétaire"):
        await services.change_role(engine, people["adm"], space_id, people["bob"].id, "owner")
    with pytest.raises(Forbidden, match="propriétaire"):
        await services.remove_member(engine, people["adm"], space_id, people["owner"].id)
    await services.change_role(engine, people["adm"], space_id, people["bob"].id, "editor")
    assert await space_role(engine, people["bob"], space_id) == "editor"


async def test_the_last_owner_cannot_leave_or_be_demoted(engine: AsyncEngine) -> None:
    space_id, people = await _space_with(engine, bob="admin")
    owner = people["owner"]
    with pytest.raises(Conflict, match="dernier propriétaire"):
        await services.leave_space(engine, owner, space_id)
    with pytest.raises(Conflict, match="dernier propriétaire"):
        await services.change_role(engine, owner, space_id, owner.id, "admin")
    await services.change_role(engine, owner, space_id, people["bob"].id, "owner")
    await services.leave_space(engine, owner, space_id)
    assert await space_role(engine, owner, space_id) is None


async def test_a_removed_member_loses_access(engine: AsyncEngine) -> None:
    space_id, people = await _space_with(engine, bob="editor")
    await services.remove_member(engine, people["owner"], space_id, people["bob"].id)
    assert await space_role(engine, people["bob"], space_id) is None
    with pytest.raises(NotFound):
        await services.remove_member(engine, people["owner"], space_id, people["bob"].id)


async def test_inviting_an_agent_by_email_adds_them_at_once(engine: AsyncEngine) -> None:
    space_id, people = await _space_with(engine)
    carol = await add_user(engine, "Carol", email="carol@example.gouv.fr")
    invitation = await services.invite_by_email(
        engine, people["owner"], space_id, " Carol@Example.gouv.fr ", "editor"
    )
    assert invitation.new_account is False and invitation.token is None
    assert await space_role(engine, carol, space_id) == "editor"


async def test_inviting_an_outsider_makes_a_guest_account_that_sees_only_that_space(
    engine: AsyncEngine,
) -> None:
    space_id, people = await _space_with(engine)
    other = await services.create_space(engine, people["owner"], name="Autre", visibility="listed")
    invitation = await services.invite_by_email(
        engine, people["owner"], space_id, "partner@entreprise.fr", "commenter"
    )
    assert invitation.new_account and invitation.token
    async with engine.connect() as conn:
        role = (
            await conn.execute(select(users.c.role).where(users.c.id == invitation.user_id))
        ).scalar()
    assert role == "guest"
    guest = Who(invitation.user_id, "guest")
    assert await space_role(engine, guest, space_id) == "commenter"
    assert await space_role(engine, guest, other.id) is None  # listed, but not for guests
    user_id, slug = await services.accept_invitation(engine, invitation.token)
    assert user_id == invitation.user_id and slug == "espace"


async def test_a_guest_account_cannot_be_made_a_space_admin(engine: AsyncEngine) -> None:
    space_id, people = await _space_with(engine)
    with pytest.raises(InvalidInput, match="invité"):
        await services.invite_by_email(
            engine, people["owner"], space_id, "ext@entreprise.fr", "admin"
        )


@pytest.mark.parametrize("email", ["", "pas-une-adresse", "a@b", "<x>@y.fr", "a\x00b@y.fr"])
async def test_a_bad_email_is_refused_with_a_clear_message(engine: AsyncEngine, email: str) -> None:
    space_id, people = await _space_with(engine)
    with pytest.raises(InvalidInput, match="Adresse électronique"):
        await services.invite_by_email(engine, people["owner"], space_id, email, "reader")
