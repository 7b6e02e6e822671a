"""Who may do what: a user's role in a space, on its pages and tasks, and the grant of a
realtime document (a page's body or a task's description).

Rules: members have their membership role; agents (and instance admins) read listed spaces
as readers; a guest who came through a link has the link's role on the link's item only, and
only while the link is live (checked on every call, so revocation and expiry cut at once);
instance admins get no implicit access to private spaces' content; an archived space is
read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Row, Select, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from web.spaces.tables import SPACE_ROLES, guest_links, memberships, pages, spaces
from web.tasks.tables import tasks

ROLE_RANK = {role: rank for rank, role in enumerate(SPACE_ROLES)}
# Instance roles that may see listed spaces and the directory.
AGENT_ROLES = ("agent", "admin")
MAX_ID = 2**31


class Actor(Protocol):
    """What access checks need to know about the signed-in user (`CurrentUser` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def guest_link_id(self) -> int | None: ...


def at_least(role: str | None, needed: str) -> bool:
    """Whether `role` is `needed` or stronger."""
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LiveLink:
    """A guest link that is neither revoked nor expired."""

    id: int
    space_id: int
    page_id: int | None
    role: str


async def live_link(conn: AsyncConnection, link_id: int, now: datetime) -> LiveLink | None:
    """The link if it is live now, else None."""
    row = (
        await conn.execute(
            select(
                guest_links.c.id,
                guest_links.c.space_id,
                guest_links.c.page_id,
                guest_links.c.role,
                guest_links.c.expires_at,
            ).where(guest_links.c.id == link_id, guest_links.c.revoked_at.is_(None))
        )
    ).first()
    if row is None or aware(row.expires_at) <= now:
        return None
    return LiveLink(row.id, row.space_id, row.page_id, row.role)


async def space_role_in(
    conn: AsyncConnection, user: Actor, space_id: int, now: datetime
) -> str | None:
    """The user's role in a space (see the module's rules), on an open connection."""
    if not 0 < space_id < MAX_ID:
        return None
    if user.guest_link_id is not None:
        link = await live_link(conn, user.guest_link_id, now)
        if link is not None and link.space_id == space_id and link.page_id is None:
            return link.role
        return None
    row = (
        await conn.execute(
            select(memberships.c.role, spaces.c.visibility)
            .select_from(
                spaces.outerjoin(
                    memberships,
                    and_(memberships.c.space_id == spaces.c.id, memberships.c.user_id == user.id),
                )
            )
            .where(spaces.c.id == space_id)
        )
    ).first()
    if row is None:
        return None
    return member_role(row.role, row.visibility, user)


def member_role(membership_role: str | None, visibility: str, user: Actor) -> str | None:
    """A signed-in user's role in a space from their membership row (or its absence)."""
    if membership_role is not None:
        return str(membership_role)
    if visibility == "listed" and user.role in AGENT_ROLES:
        return "reader"
    return None


async def space_role(
    engine: AsyncEngine, user: Actor, space_id: int, *, now: datetime | None = None
) -> str | None:
    """The user's role in a space, or None when the user may not see it."""
    async with engine.connect() as conn:
        return await space_role_in(conn, user, space_id, now or utcnow())


async def page_role_in(
    conn: AsyncConnection, user: Actor, page_id: int, now: datetime
) -> str | None:
    """The user's role on a page that is not in the trash; reader at most in archived spaces."""
    if not 0 < page_id < MAX_ID:  # ids from URLs: out of range is simply no such page
        return None
    row = (
        await conn.execute(
            select(pages.c.space_id, pages.c.deleted_at, spaces.c.archived_at)
            .select_from(pages.join(spaces, spaces.c.id == pages.c.space_id))
            .where(pages.c.id == page_id)
        )
    ).first()
    if row is None or row.deleted_at is not None:
        return None
    role: str | None
    if user.guest_link_id is not None:
        link = await live_link(conn, user.guest_link_id, now)
        role = None
        if link is not None and link.space_id == row.space_id:
            if link.page_id is None or link.page_id == page_id:
                role = link.role
    else:
        role = await space_role_in(conn, user, row.space_id, now)
    if role is not None and row.archived_at is not None:
        return "reader"
    return role


async def page_role(
    engine: AsyncEngine, user: Actor, page_id: int, *, now: datetime | None = None
) -> str | None:
    """The user's role on a page: owner, admin, editor, commenter, reader, or None."""
    async with engine.connect() as conn:
        return await page_role_in(conn, user, page_id, now or utcnow())


@dataclass(frozen=True)
class DocumentRole:
    """A person's role on a page's realtime document, and the page's space."""

    role: str
    space_id: int

    @property
    def writable(self) -> bool:
        """Readers and commenters see live changes but cannot type; editors and up write."""
        return at_least(self.role, "editor")


async def content_role_in(
    conn: AsyncConnection, user: Actor, space_id: int, now: datetime
) -> str | None:
    """The user's role on what a whole space holds (its board, its tasks): the space role,
    reader at most in an archived space; a guest of a one-page link has none."""
    role = await space_role_in(conn, user, space_id, now)
    if role is None:
        return None
    archived = (
        await conn.execute(select(spaces.c.archived_at).where(spaces.c.id == space_id))
    ).scalar()
    return "reader" if archived is not None else role


async def document_role(
    engine: AsyncEngine, user: Actor, doc_name: str, *, now: datetime | None = None
) -> DocumentRole | None:
    """The user's role on the page or the task whose document is `doc_name`, or None.

    The one answer to "who may open this document": a page's body follows the page's role,
    a task's description its space's (editors write, readers and commenters read).
    """
    now = now or utcnow()
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(pages.c.id, pages.c.space_id).where(pages.c.doc_name == doc_name)
            )
        ).first()
        if row is not None:
            role = await page_role_in(conn, user, row.id, now)
            return None if role is None else DocumentRole(role, row.space_id)
        space_id = (
            await conn.execute(select(tasks.c.space_id).where(tasks.c.doc_name == doc_name))
        ).scalar()
        if space_id is None:
            return None
        role = await content_role_in(conn, user, space_id, now)
    return None if role is None else DocumentRole(role, space_id)


@dataclass(frozen=True)
class SpaceSummary:
    id: int
    slug: str
    name: str
    kind: str
    archived: bool


@dataclass(frozen=True)
class Crumb:
    id: int
    title: str


@dataclass(frozen=True)
class PageContext:
    """What the page view needs: the page, the user's role on it, where it sits."""

    page_id: int
    title: str
    doc_name: str
    role: str
    space: SpaceSummary
    # Ancestors the user may read, root first (the page itself excluded).
    breadcrumbs: tuple[Crumb, ...]

    @property
    def can_edit(self) -> bool:
        return at_least(self.role, "editor")

    @property
    def can_comment(self) -> bool:
        return at_least(self.role, "commenter")


def _chain_query() -> Select[Any]:
    """The page `:page_id` and its ancestors in one recursive query, each with its space and
    the membership there of user `:member_id` (guests' links are checked apart).

    Built once: making this statement costs more than running it on a top-level page."""
    parent = pages.alias("parent")
    columns = (pages.c.id, pages.c.parent_id, pages.c.title, pages.c.doc_name)
    chain = (
        select(*columns, pages.c.space_id, pages.c.deleted_at)
        .where(pages.c.id == bindparam("page_id"))
        .cte("page_chain", recursive=True)
    )
    # UNION, not UNION ALL: a cycle in parent_id (never written, but cheap to survive) yields
    # the same rows again and ends the recursion.
    chain = chain.union(
        select(
            parent.c.id,
            parent.c.parent_id,
            parent.c.title,
            parent.c.doc_name,
            parent.c.space_id,
            parent.c.deleted_at,
        ).where(parent.c.id == chain.c.parent_id)
    )
    return select(
        chain,
        spaces.c.slug,
        spaces.c.name,
        spaces.c.kind,
        spaces.c.visibility,
        spaces.c.archived_at,
        memberships.c.role.label("membership_role"),
    ).select_from(
        chain.join(spaces, spaces.c.id == chain.c.space_id).outerjoin(
            memberships,
            and_(
                memberships.c.space_id == chain.c.space_id,
                memberships.c.user_id == bindparam("member_id"),
            ),
        )
    )


PAGE_CHAIN = _chain_query()


def _role_on(user: Actor, link: LiveLink | None, row: Row[Any]) -> str | None:
    """`page_role_in`'s answer for one row of the chain query, with no further query."""
    if row.deleted_at is not None:
        return None
    role: str | None
    if user.guest_link_id is not None:
        role = None
        if link is not None and link.space_id == row.space_id:
            if link.page_id is None or link.page_id == row.id:
                role = link.role
    else:
        role = member_role(row.membership_role, row.visibility, user)
    if role is not None and row.archived_at is not None:
        return "reader"
    return role


async def page_context(
    engine: AsyncEngine, user: Actor, page_id: int, *, now: datetime | None = None
) -> PageContext | None:
    """The page view's context, or None when the user may not read the page (answer 404).

    One query for the page, its ancestors, their space and the user's membership (plus one
    for a guest's link), whatever the depth: this runs on every page view.
    """
    if not 0 < page_id < MAX_ID:  # ids from URLs: out of range is simply no such page
        return None
    now = now or utcnow()
    async with engine.connect() as conn:
        link = None
        if user.guest_link_id is not None:
            link = await live_link(conn, user.guest_link_id, now)
            if link is None:
                return None
        # A guest through a link has no membership: -1 matches no row.
        member_id = user.id if user.guest_link_id is None else -1
        result = await conn.execute(PAGE_CHAIN, {"page_id": page_id, "member_id": member_id})
        rows = {row.id: row for row in result.all()}
    row = rows.get(page_id)
    if row is None:
        return None
    role = _role_on(user, link, row)
    if role is None:
        return None
    crumbs: list[Crumb] = []
    parent_id = row.parent_id
    seen = {page_id}
    while parent_id is not None and parent_id not in seen and parent_id in rows:
        seen.add(parent_id)
        parent = rows[parent_id]
        if _role_on(user, link, parent) is not None:
            crumbs.append(Crumb(parent.id, parent.title))
        parent_id = parent.parent_id
    space = SpaceSummary(
        row.space_id, row.slug, row.name, row.kind, archived=row.archived_at is not None
    )
    return PageContext(page_id, row.title, row.doc_name, role, space, tuple(reversed(crumbs)))
