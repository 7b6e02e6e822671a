"""The pages tree: create, nest, reorder, move without cycles, rename, trash, restore, purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from realtime.tables import document_updates
from tests.support.people import Who, add_user
from web.spaces import services, tree
from web.spaces.access import page_context, page_role, utcnow
from web.spaces.errors import Conflict, Forbidden, InvalidInput, NotFound


async def _space(engine: AsyncEngine) -> tuple[int, Who]:
    owner = await add_user(engine, "Owner")
    space = await services.create_space(engine, owner, name="Wiki")
    return space.id, owner


def _shape(nodes: list[tree.PageNode]) -> list[object]:
    return [(n.title, _shape(n.children)) if n.children else n.title for n in nodes]


async def test_pages_nest_and_keep_their_order(engine: AsyncEngine) -> None:
    space_id, owner = await _space(engine)
    a = await tree.create_page(engine, owner, space_id, "A")
    await tree.create_page(engine, owner, space_id, "B")
    await tree.create_page(engine, owner, space_id, "A1", parent_id=a.id)
    await tree.create_page(engine, owner, space_id, "A2", parent_id=a.id)
    assert a.doc_name.startswith("page-") and len(a.doc_name) == 37
    assert _shape(await tree.page_tree(engine, space_id)) == [("A", ["A1", "A2"]), "B"]


async def test_shifting_a_page_reorders_its_siblings(engine: AsyncEngine) -> None:
    space_id, owner = await _space(engine)
    await tree.create_page(engine, owner, space_id, "A")
    await tree.create_page(engine, owner, space_id, "B")
    c = await tree.create_page(engine, owner, space_id, "C")
    await tree.shift_page(engine, owner, c.id, -1)
    assert _shape(await tree.page_tree(engine, space_id)) == ["A", "C", "B"]
    await tree.shift_page(engine, owner, c.id, -5)
    assert _shape(await tree.page_tree(engine, space_id)) == ["C", "A", "B"]


async def test_moving_a_page_carries_its_subtree(engine: AsyncEngine) -> None:
    space_id, owner = await _space(engine)
    a = await tree.create_page(engine, owner, space_id, "A")
    b = await tree.create_page(engine, owner, space_id, "B")
    await tree.create_page(engine, owner, space_id, "B1", parent_id=b.id)
    await tree.move_page(engine, owner, b.id, a.id)
    assert _shape(await tree.page_tree(engine, space_id)) == [("A", [("B", ["B1"])])]
    await tree.move_page(engine, owner, b.id, None, position=0)
    assert _shape(await tree.page_tree(engine, space_id)) == [("B", ["B1"]), "A"]


async def test_a_page_cannot_be_moved_under_itself_or_its_descendants(
    engine: AsyncEngine,
) -> None:
    space_id, owner = await _space(engine)
    a = await tree.create_page(engine, owner, space_id, "A")
    a1 = await tree.create_page(engine, owner, space_id, "A1", parent_id=a.id)
    a11 = await tree.create_page(engine, owner, space_id, "A11", parent_id=a1.id)
    for target in (a.id, a11.id):
        with pytest.raises(InvalidInput, match="sous elle-même"):
            await tree.move_page(engine, owner, a.id, target)
    assert _shape(await tree.page_tree(engine, space_id)) == [("A", [("A1", ["A11"])])]


async def test_a_page_cannot_move_to_another_space(engine: AsyncEngine) -> None:
    space_id, owner = await _space(engine)
    other = await services.create_space(engine, owner, name="Autre")
    a = await tree.create_page(engine, owner, space_id, "A")
    b = await tree.create_page(engine, owner, other.id, "B")
    with pytest.raises(InvalidInput, match="même espace"):
        await tree.move_page(engine, owner, a.id, b.id)


async def test_readers_and_commenters_cannot_change_the_tree(engine: AsyncEngine) -> None:
    space_id, owner = await _space(engine)
    page = await tree.create_page(engine, owner, space_id, "A")
    for role in ("reader", "commenter"):
        someone = await add_user(engine)
        await services.add_member(engine, owner, space_id, someone.id, role)
        with pytest.raises(Forbidden):
            await tree.create_page(engine, someone, space_id, "X")
        with pytest.raises(Forbidden):
            await tree.rename_page(engine, someone, page.id, "X")
        with pytest.raises(Forbidden):
            await tree.trash_page(engine, someone, page.id)
    outsider = await add_user(engine)
    with pytest.raises(NotFound):
        await tree.rename_page(engine, outsider, page.id, "X")


async def test_renaming_checks_the_title(engine: AsyncEngine) -> None:
    space_id, owner = await _space(engine)
    page = await tree.create_page(engine, owner, space_id, "A")
    await tree.rename_page(engine, owner, page.id, "  Nouveau   titre ")
    assert _shape(await tree.page_tree(engine, space_id)) == ["Nouveau titre"]
    with pytest.raises(InvalidInput, match="Titre"):
        await tree.rename_page(engine, owner, page.id, "")


async def test_trash_takes_the_subtree_and_restore_brings_it_back(engine: AsyncEngine) -> None:
    space_id, owner = await _space(engine)
    a = await tree.create_page(engine, owner, space_id, "A")
    a1 = await tree.create_page(engine, owner, space_id, "A1", parent_id=a.id)
    await tree.create_page(engine, owner, space_id, "B")
    names = await tree.trash_page(engine, owner, a.id)
    assert sorted(names) == sorted([a.doc_name, a1.doc_name])
    assert _shape(await tree.page_tree(engine, space_id)) == ["B"]
    assert await page_role(engine, owner, a1.id) is None
    trash = await tree.list_trash(engine, owner, space_id)
    assert [t.title for t in trash] == ["A"]
    await tree.restore_page(engine, owner, a.id)
    assert _shape(await tree.page_tree(engine, space_id)) == ["B", ("A", ["A1"])]
    assert await page_role(engine, owner, a1.id) == "owner"


async def test_a_page_whose_parent_stays_in_the_trash_is_restored_at_the_top(
    engine: AsyncEngine,
) -> None:
    space_id, owner = await _space(engine)
    a = await tree.create_page(engine, owner, space_id, "A")
    a1 = await tree.create_page(engine, owner, space_id, "A1", parent_id=a.id)
    now = utcnow()
    await tree.trash_page(engine, owner, a1.id, now=now)
    await tree.trash_page(engine, owner, a.id, now=now + timedelta(seconds=1))
    await tree.restore_page(engine, owner, a1.id, now=now + timedelta(seconds=2))
    assert _shape(await tree.page_tree(engine, space_id)) == ["A1"]


async def test_trash_is_purged_after_30_days_with_its_documents(engine: AsyncEngine) -> None:
    space_id, owner = await _space(engine)
    old = await tree.create_page(engine, owner, space_id, "Vieux")
    recent = await tree.create_page(engine, owner, space_id, "Récent")
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(insert(document_updates).values(name=old.doc_name, data=b"\x00\x00"))
    await tree.trash_page(engine, owner, old.id, now=now - timedelta(days=31))
    await tree.trash_page(engine, owner, recent.id, now=now - timedelta(days=29))
    with pytest.raises(Conflict, match="30 jours"):
        await tree.restore_page(engine, owner, old.id, now=now)
    assert await tree.purge_trash(engine, now=now) == 1
    trash = await tree.list_trash(engine, owner, space_id, now=now)
    assert [t.title for t in trash] == ["Récent"]
    async with engine.connect() as conn:
        left = (
            await conn.execute(select(func.count()).where(document_updates.c.name == old.doc_name))
        ).scalar()
    assert left == 0
    await tree.restore_page(engine, owner, recent.id, now=now)


async def test_page_context_gives_the_page_view_what_it_needs(engine: AsyncEngine) -> None:
    space_id, owner = await _space(engine)
    a = await tree.create_page(engine, owner, space_id, "A")
    a1 = await tree.create_page(engine, owner, space_id, "A1", parent_id=a.id)
    reader = await add_user(engine)
    await services.add_member(engine, owner, space_id, reader.id, "reader")
    context = await page_context(engine, reader, a1.id)
    assert context is not None
    assert (context.title, context.doc_name, context.role) == ("A1", a1.doc_name, "reader")
    assert [c.title for c in context.breadcrumbs] == ["A"]
    assert context.space.slug == "wiki" and not context.can_edit
    assert await page_context(engine, await add_user(engine), a1.id) is None


@pytest.mark.parametrize("page_id", [0, -1, 2**31, 2**70])
async def test_out_of_range_page_ids_are_no_page(engine: AsyncEngine, page_id: int) -> None:
    _, owner = await _space(engine)
    assert await page_role(engine, owner, page_id) is None
    assert await page_context(engine, owner, page_id) is None
