"""The items people comment on, by kind: who may read or comment an item, its space, title
and address. Pages, space homes and tasks today; events, files and posts register their kind
(`ItemKinds.register`) with a resolver that answers the same questions.

Every rule comes from `web.spaces.access` (page_role_in, content_role_in): no rule is
written twice. An item the person may not read and one that does not exist are the same
answer, None (the routes say 404 for both).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from web.schema import users
from web.spaces.access import MAX_ID, Actor, at_least, content_role_in, live_link, page_role_in
from web.spaces.tables import guest_link_users, pages, spaces
from web.tasks.tables import tasks


@dataclass(frozen=True)
class Item:
    """An item as one person sees it: their role on it, its space, title and address."""

    kind: str
    id: int
    space_id: int
    title: str
    url: str
    role: str

    @property
    def topic(self) -> str:
        return f"item:{self.kind}:{self.id}"

    @property
    def can_comment(self) -> bool:
        return at_least(self.role, "commenter")

    @property
    def is_editor(self) -> bool:
        return at_least(self.role, "editor")


Resolver = Callable[[AsyncConnection, Actor, int, datetime], Awaitable[Item | None]]


@dataclass(frozen=True)
class ItemKind:
    """How to find an item of one kind; `anchored`: comments may carry a text anchor;
    `votes`: the kind asks for up/down votes; `recommend`: people may recommend it."""

    name: str
    resolve: Resolver
    anchored: bool = False
    votes: bool = False
    recommend: bool = False


@dataclass(frozen=True)
class Person:
    """Anyone access rules can judge (an `Actor`): a member or agent, or a guest through one
    of their links."""

    id: int
    role: str
    guest_link_id: int | None = None


def _space_url(slug: str) -> str:
    return f"/espaces/{quote(slug)}"


async def resolve_page(
    conn: AsyncConnection, actor: Actor, page_id: int, now: datetime
) -> Item | None:
    role = await page_role_in(conn, actor, page_id, now)
    if role is None:
        return None
    row = (
        await conn.execute(
            select(pages.c.title, pages.c.space_id, spaces.c.slug)
            .select_from(pages.join(spaces, spaces.c.id == pages.c.space_id))
            .where(pages.c.id == page_id)
        )
    ).one()
    url = f"{_space_url(row.slug)}/pages/{page_id}"
    return Item("page", page_id, row.space_id, row.title, url, role)


async def resolve_space(
    conn: AsyncConnection, actor: Actor, space_id: int, now: datetime
) -> Item | None:
    """A space's home: its comments follow the space's content role (a one-page guest has
    none)."""
    role = await content_role_in(conn, actor, space_id, now)
    if role is None:
        return None
    row = (
        await conn.execute(select(spaces.c.name, spaces.c.slug).where(spaces.c.id == space_id))
    ).one()
    return Item("space", space_id, space_id, row.name, _space_url(row.slug), role)


async def resolve_task(
    conn: AsyncConnection, actor: Actor, task_id: int, now: datetime
) -> Item | None:
    """A task: its space's content role (as its board and panel: `web.tasks.live`)."""
    row = (
        await conn.execute(
            select(tasks.c.title, tasks.c.space_id, spaces.c.slug)
            .select_from(tasks.join(spaces, spaces.c.id == tasks.c.space_id))
            .where(tasks.c.id == task_id)
        )
    ).first()
    if row is None:
        return None
    role = await content_role_in(conn, actor, row.space_id, now)
    if role is None:
        return None
    url = f"{_space_url(row.slug)}/taches/{task_id}"
    return Item("task", task_id, row.space_id, row.title, url, role)


class ItemKinds:
    """The registry of item kinds."""

    def __init__(self) -> None:
        self._kinds: dict[str, ItemKind] = {}
        self.register(ItemKind("page", resolve_page, anchored=True, recommend=True))
        self.register(ItemKind("space", resolve_space, recommend=True))
        self.register(ItemKind("task", resolve_task))

    def register(self, kind: ItemKind) -> None:
        self._kinds[kind.name] = kind

    def get(self, name: str) -> ItemKind | None:
        return self._kinds.get(name)

    async def open(
        self, conn: AsyncConnection, actor: Actor, kind: str, item_id: int, now: datetime
    ) -> Item | None:
        """The item as `actor` sees it, or None (no such kind or item, or not for them)."""
        found = self._kinds.get(kind)
        if found is None or not 0 < item_id < MAX_ID:
            return None
        item = await found.resolve(conn, actor, item_id, now)
        if item is not None and item.kind != found.name:  # a kind built on another's resolver
            item = replace(item, kind=found.name)
        return item

    async def open_as(
        self, conn: AsyncConnection, user_id: int, kind: str, item_id: int, now: datetime
    ) -> Item | None:
        """The item as a person (not a request) sees it now: None when they may not read it."""
        row = (
            await conn.execute(
                select(users.c.role).where(users.c.id == user_id, users.c.status == "active")
            )
        ).first()
        if row is None:
            return None
        for one in await _as_people(conn, user_id, row.role, now):
            item = await self.open(conn, one, kind, item_id, now)
            if item is not None:
                return item
        return None

    async def readers(
        self,
        conn: AsyncConnection,
        kind: str,
        item_id: int,
        user_ids: Iterable[int],
        now: datetime,
    ) -> set[int]:
        """Those of `user_ids` who may read the item now (active accounts; a guest through
        any of their live links)."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return set()
        rows = (
            await conn.execute(
                select(users.c.id, users.c.role).where(
                    users.c.id.in_(wanted), users.c.status == "active"
                )
            )
        ).all()
        found: set[int] = set()
        for row in rows:
            for person in await _as_people(conn, row.id, row.role, now):
                if await self.open(conn, person, kind, item_id, now) is not None:
                    found.add(row.id)
                    break
        return found


async def _as_people(conn: AsyncConnection, user_id: int, role: str, now: datetime) -> list[Person]:
    """How access rules see a person: as themselves, or a guest as each of their live links."""
    if role != "guest":
        return [Person(user_id, role)]
    link_ids = (
        await conn.execute(
            select(guest_link_users.c.guest_link_id).where(guest_link_users.c.user_id == user_id)
        )
    ).scalars()
    people = []
    for link_id in link_ids:
        if await live_link(conn, link_id, now) is not None:
            people.append(Person(user_id, role, link_id))
    return people
