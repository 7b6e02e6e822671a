"""Guest links: role, expiry, label, several per item, revocation, scope of the guest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.people import Who, add_user
from web.spaces import guest_links, services, tree
from web.spaces.access import document_role, page_role, space_role, utcnow
from web.spaces.errors import Forbidden, InvalidInput, NotFound


async def _setup(engine: AsyncEngine) -> tuple[int, Who, tree.PageRef, tree.PageRef]:
    owner = await add_user(engine, "Owner")
    space = await services.create_space(engine, owner, name="Partenaires")
    shared = await tree.create_page(engine, owner, space.id, "Partagée")
    other = await tree.create_page(engine, owner, space.id, "Interne")
    return space.id, owner, shared, other


async def _guest(engine: AsyncEngine, token: str) -> Who:
    opened = await guest_links.open_guest_link(engine, token, "Paul Partenaire")
    return Who(opened.user_id, "guest", opened.link.id)


async def test_a_page_link_guest_sees_that_page_only_with_the_link_role(
    engine: AsyncEngine,
) -> None:
    space_id, owner, shared, other = await _setup(engine)
    new = await guest_links.create_guest_link(
        engine, owner, space_id, role="reader", page_id=shared.id, label="Prestataire"
    )
    guest = await _guest(engine, new.token)
    assert await page_role(engine, guest, shared.id) == "reader"
    assert await page_role(engine, guest, other.id) is None
    assert await space_role(engine, guest, space_id) is None
    found = await document_role(engine, guest, shared.doc_name)
    assert found is not None and not found.writable and found.space_id == space_id
    assert await document_role(engine, guest, other.doc_name) is None
    assert await guest_links.guest_link_of_user(engine, guest.id) == new.link.id


async def test_a_space_link_editor_writes_every_page_of_that_space_only(
    engine: AsyncEngine,
) -> None:
    space_id, owner, shared, other = await _setup(engine)
    elsewhere = await services.create_space(engine, owner, name="Ailleurs")
    page_elsewhere = await tree.create_page(engine, owner, elsewhere.id, "X")
    new = await guest_links.create_guest_link(engine, owner, space_id, role="editor")
    guest = await _guest(engine, new.token)
    for page in (shared, other):
        found = await document_role(engine, guest, page.doc_name)
        assert found is not None and found.writable
    assert await document_role(engine, guest, page_elsewhere.doc_name) is None


async def test_a_revoked_link_cuts_its_guests_off_at_once(engine: AsyncEngine) -> None:
    space_id, owner, shared, _ = await _setup(engine)
    new = await guest_links.create_guest_link(
        engine, owner, space_id, role="commenter", page_id=shared.id
    )
    guest = await _guest(engine, new.token)
    assert await page_role(engine, guest, shared.id) == "commenter"
    revoked = await guest_links.revoke_guest_link(engine, owner, new.link.id)
    assert revoked.status(utcnow()) == "revoked"
    assert await page_role(engine, guest, shared.id) is None
    assert await document_role(engine, guest, shared.doc_name) is None
    with pytest.raises(Forbidden, match="révoqué"):
        await guest_links.open_guest_link(engine, new.token, "Quelqu'un")


async def test_an_expired_link_is_refused(engine: AsyncEngine) -> None:
    space_id, owner, shared, _ = await _setup(engine)
    now = utcnow()
    new = await guest_links.create_guest_link(
        engine, owner, space_id, role="reader", page_id=shared.id, days=1, now=now
    )
    guest = await _guest(engine, new.token)
    later = now + timedelta(days=1, seconds=1)
    assert await page_role(engine, guest, shared.id, now=later) is None
    with pytest.raises(Forbidden, match="expiré"):
        await guest_links.open_guest_link(engine, new.token, "Tard", now=later)
    assert new.link.status(later) == "expired"


async def test_links_default_to_the_configured_expiry(engine: AsyncEngine) -> None:
    space_id, owner, _, _ = await _setup(engine)
    now = utcnow()
    new = await guest_links.create_guest_link(
        engine, owner, space_id, role="reader", default_days=7, now=now
    )
    assert abs(new.link.expires_at - (now + timedelta(days=7))) < timedelta(seconds=1)


async def test_several_links_per_item_are_listed_with_their_creator(engine: AsyncEngine) -> None:
    space_id, owner, shared, _ = await _setup(engine)
    for label in ("un", "deux"):
        await guest_links.create_guest_link(
            engine, owner, space_id, role="reader", page_id=shared.id, label=label
        )
    links = await guest_links.list_guest_links(engine, owner, space_id)
    assert [link.label for link in links] == ["deux", "un"]
    assert {link.created_by_name for link in links} == {"Owner"}
    assert {link.page_title for link in links} == {"Partagée"}


async def test_who_may_create_list_and_revoke_links(engine: AsyncEngine) -> None:
    space_id, owner, shared, _ = await _setup(engine)
    editor = await add_user(engine)
    reader = await add_user(engine)
    await services.add_member(engine, owner, space_id, editor.id, "editor")
    await services.add_member(engine, owner, space_id, reader.id, "reader")
    with pytest.raises(Forbidden):  # space-wide links are for space admins
        await guest_links.create_guest_link(engine, editor, space_id, role="reader")
    mine = await guest_links.create_guest_link(
        engine, editor, space_id, role="reader", page_id=shared.id
    )
    owners = await guest_links.create_guest_link(
        engine, owner, space_id, role="reader", page_id=shared.id
    )
    with pytest.raises(Forbidden):
        await guest_links.create_guest_link(
            engine, reader, space_id, role="reader", page_id=shared.id
        )
    with pytest.raises(Forbidden):
        await guest_links.list_guest_links(engine, reader, space_id)
    with pytest.raises(Forbidden):
        await guest_links.revoke_guest_link(engine, editor, owners.link.id)
    await guest_links.revoke_guest_link(engine, editor, mine.link.id)
    with pytest.raises(NotFound):
        await guest_links.revoke_guest_link(engine, await add_user(engine), owners.link.id)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"role": "owner"}, "Rôle : choisissez parmi reader, commenter, editor"),
        ({"role": "reader", "days": 0}, "Durée"),
        ({"role": "reader", "days": 1000}, "Durée"),
        ({"role": "reader", "label": "x" * 201}, "Libellé"),
    ],
)
async def test_bad_link_fields_are_refused_with_a_clear_message(
    engine: AsyncEngine, fields: dict[str, object], message: str
) -> None:
    space_id, owner, _, _ = await _setup(engine)
    with pytest.raises(InvalidInput, match=message):
        await guest_links.create_guest_link(engine, owner, space_id, **fields)  # type: ignore[arg-type]


async def test_an_unknown_token_or_empty_name_is_refused(engine: AsyncEngine) -> None:
    space_id, owner, _, _ = await _setup(engine)
    new = await guest_links.create_guest_link(engine, owner, space_id, role="reader")
    with pytest.raises(NotFound):
        await guest_links.open_guest_link(engine, "nope", "Paul")
    with pytest.raises(InvalidInput, match="Nom affiché"):
        await guest_links.open_guest_link(engine, new.token, "   ")
