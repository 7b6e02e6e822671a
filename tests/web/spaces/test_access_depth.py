"""A page view costs the same SQL however deep the page is, and gives the same answers as the
page-by-page rule (`page_role_in` on the page and on each ancestor), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from tests.support.people import Who
from tests.support.spaces_world import ACTORS, World, build_world
from web.spaces import guest_links, services, tree
from web.spaces.access import Actor, page_context, page_role, utcnow
from web.spaces.tables import pages
from web.spaces.tree import PageRef

DEPTH = 12


@contextmanager
def counting_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL queries sent on `engine` while the block runs (transaction control aside)."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def chain(world: World, depth: int) -> list[PageRef]:
    """Pages nested `depth` deep under the world's page, root first."""
    made = [world.page]
    for level in range(depth):
        made.append(
            await tree.create_page(
                world.app.state.engine,
                world.owner,
                world.space_id,
                f"Niveau {level}",
                parent_id=made[-1].id,
            )
        )
    return made


async def expected_context(
    engine: AsyncEngine, user: Actor, path: list[PageRef]
) -> tuple[str | None, list[int]]:
    """The role and breadcrumbs the page-by-page rule gives for the last page of `path`."""
    role = await page_role(engine, user, path[-1].id)
    crumbs = [p.id for p in path[:-1] if await page_role(engine, user, p.id) is not None]
    return role, crumbs


async def test_a_deep_page_view_sends_no_more_sql_than_a_top_level_one(
    db_app: Starlette, browsers: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(db_app, browsers)
    path = await chain(world, DEPTH)
    engine: AsyncEngine = db_app.state.engine
    base = f"/espaces/{world.slug}/pages/"
    for name in ("editor", "reader", "space_link_reader"):
        client = world.clients[name]
        assert (await client.get(base + str(path[0].id))).status_code == 200  # warm up
        with counting_statements(engine) as top:
            assert (await client.get(base + str(path[0].id))).status_code == 200
        with counting_statements(engine) as deep:
            response = await client.get(base + str(path[-1].id))
        assert response.status_code == 200
        # Every ancestor is in the breadcrumbs, root first.
        positions = [response.text.index(f'href="{base}{p.id}"') for p in path[:-1]]
        assert positions == sorted(positions), name
        assert len(deep) == len(top), (name, deep)
        person = world.people[name]
        with counting_statements(engine) as context_sql:
            context = await page_context(engine, person, path[-1].id)
        assert context is not None and len(context.breadcrumbs) == DEPTH
        # One query for the page and its ancestors (and one for a guest's link).
        assert len(context_sql) == (1 if person.guest_link_id is None else 2), context_sql


async def test_the_page_view_context_matches_the_page_by_page_rule_for_everyone(
    db_app: Starlette, browsers: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(db_app, browsers)
    engine: AsyncEngine = db_app.state.engine
    path = await chain(world, 4)
    # A link to one page deep in the chain: its guest sees that page and no ancestor.
    deep_link = await guest_links.create_guest_link(
        engine, world.owner, world.space_id, role="commenter", page_id=path[3].id
    )
    # A trashed ancestor, as a row may hold it: not shown in the breadcrumbs.
    async with engine.begin() as conn:
        await conn.execute(
            update(pages).where(pages.c.id == path[1].id).values(deleted_at=utcnow())
        )
    people = {name: world.people[name] for name in ACTORS if name != "anonymous"}
    people["deep_link_guest"] = Who(world.people["page_link_editor"].id, "guest", deep_link.link.id)
    for archived in (False, True):
        if archived:
            await services.set_archived(engine, world.owner, world.space_id, True)
        for name, person in people.items():
            for end in range(len(path)):
                context = await page_context(engine, person, path[end].id)
                role, crumbs = await expected_context(engine, person, path[: end + 1])
                got = (context.role, [c.id for c in context.breadcrumbs]) if context else None
                assert got == ((role, crumbs) if role is not None else None), (name, end)
    readers = await page_context(engine, world.people["reader"], path[-1].id)
    assert readers is not None and [c.title for c in readers.breadcrumbs] == [
        "Page partagée",
        "Niveau 1",
        "Niveau 2",
    ]
    assert readers.role == "reader" and readers.space.archived


async def test_a_revoked_or_expired_link_reads_no_page_at_any_depth(
    db_app: Starlette, browsers: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(db_app, browsers)
    engine: AsyncEngine = db_app.state.engine
    path = await chain(world, 3)
    guest = world.people["space_link_reader"]
    assert await page_context(engine, guest, path[-1].id) is not None
    late = utcnow() + timedelta(days=400)
    assert await page_context(engine, guest, path[-1].id, now=late) is None
    await guest_links.revoke_guest_link(engine, world.owner, guest.guest_link_id or 0)
    assert await page_context(engine, guest, path[-1].id) is None
    response = await world.clients["space_link_reader"].get(
        f"/espaces/{world.slug}/pages/{path[-1].id}"
    )
    # Its end, said (410), else "not found" or the sign-in page: never the page.
    assert response.status_code in (303, 404, 410)
