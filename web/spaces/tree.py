"""The pages tree of a space: create, nest, reorder, move (no cycles), rename, trash, restore.

Siblings are ordered by `position` (0, 1, 2, ... renumbered on every change). Trashing a page
trashes its subtree with the same timestamp, so restoring it brings back exactly that subtree.
Trashed pages are purged after the retention period, with their realtime documents.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from realtime.tables import document_updates, documents
from web.social import activity
from web.spaces.access import Actor, aware, utcnow
from web.spaces.errors import Conflict, InvalidInput, NotFound
from web.spaces.services import require_not_archived, require_role
from web.spaces.tables import pages
from web.spaces.validation import one_line

TRASH_DAYS = 30
MAX_DEPTH = 20


@dataclass
class PageNode:
    id: int
    title: str
    doc_name: str
    parent_id: int | None
    position: int
    children: list[PageNode] = field(default_factory=list)


@dataclass(frozen=True)
class TrashedPage:
    id: int
    title: str
    deleted_at: datetime
    purge_at: datetime


@dataclass(frozen=True)
class PageRef:
    id: int
    space_id: int
    doc_name: str
    title: str


def new_doc_name() -> str:
    return f"page-{uuid.uuid4().hex}"


async def _page(conn: AsyncConnection, page_id: int, *, trashed: bool = False) -> PageRef:
    row = (
        await conn.execute(
            select(
                pages.c.id, pages.c.space_id, pages.c.doc_name, pages.c.title, pages.c.deleted_at
            ).where(pages.c.id == page_id)
        )
    ).first()
    if row is None or (row.deleted_at is not None) != trashed:
        raise NotFound("Page introuvable.")
    return PageRef(row.id, row.space_id, row.doc_name, row.title)


async def _editable_page(
    conn: AsyncConnection, actor: Actor, page_id: int, now: datetime, *, trashed: bool = False
) -> PageRef:
    page = await _page(conn, page_id, trashed=trashed)
    await require_role(conn, actor, page.space_id, "editor", now=now)
    await require_not_archived(conn, page.space_id)
    return page


async def _sibling_ids(
    conn: AsyncConnection, space_id: int, parent_id: int | None, *, exclude: int | None = None
) -> list[int]:
    statement = select(pages.c.id).where(
        pages.c.space_id == space_id,
        pages.c.deleted_at.is_(None),
        pages.c.parent_id.is_(None) if parent_id is None else pages.c.parent_id == parent_id,
    )
    if exclude is not None:
        statement = statement.where(pages.c.id != exclude)
    rows = await conn.execute(statement.order_by(pages.c.position, pages.c.id))
    return list(rows.scalars())


async def _renumber(conn: AsyncConnection, ordered: list[int]) -> None:
    for position, page_id in enumerate(ordered):
        await conn.execute(update(pages).where(pages.c.id == page_id).values(position=position))


async def _ancestors(conn: AsyncConnection, page_id: int | None) -> list[int]:
    """The page and its ancestors, the page first."""
    chain: list[int] = []
    while page_id is not None and page_id not in chain:
        chain.append(page_id)
        page_id = (
            await conn.execute(select(pages.c.parent_id).where(pages.c.id == page_id))
        ).scalar()
    return chain


async def _check_parent(conn: AsyncConnection, space_id: int, parent_id: int | None) -> None:
    if parent_id is None:
        return
    parent = await _page(conn, parent_id)
    if parent.space_id != space_id:
        raise InvalidInput("Page parente : elle doit être dans le même espace.")
    if len(await _ancestors(conn, parent_id)) >= MAX_DEPTH:
        raise InvalidInput(f"Page parente : {MAX_DEPTH} niveaux d'imbrication au plus.")


async def create_page(
    engine: AsyncEngine,
    actor: Actor,
    space_id: int,
    title: str,
    *,
    parent_id: int | None = None,
    now: datetime | None = None,
) -> PageRef:
    """Create a page, last among its siblings (editors and up)."""
    now = now or utcnow()
    title = one_line(title, "Titre")
    async with engine.begin() as conn:
        await require_role(conn, actor, space_id, "editor", now=now)
        await require_not_archived(conn, space_id)
        await _check_parent(conn, space_id, parent_id)
        position = len(await _sibling_ids(conn, space_id, parent_id))
        doc_name = new_doc_name()
        page_id = (
            await conn.execute(
                insert(pages)
                .values(
                    space_id=space_id,
                    parent_id=parent_id,
                    position=position,
                    title=title,
                    doc_name=doc_name,
                    created_by=actor.id,
                    created_at=now,
                    updated_at=now,
                )
                .returning(pages.c.id)
            )
        ).scalar_one()
        await activity.record(conn, space_id, actor.id, "page.created", "page", page_id, title, now)
    return PageRef(page_id, space_id, doc_name, title)


async def rename_page(
    engine: AsyncEngine, actor: Actor, page_id: int, title: str, *, now: datetime | None = None
) -> str:
    """Give a page a new title; returns the title as kept (trimmed, on one line)."""
    now = now or utcnow()
    title = one_line(title, "Titre")
    async with engine.begin() as conn:
        page = await _editable_page(conn, actor, page_id, now)
        await conn.execute(
            update(pages).where(pages.c.id == page_id).values(title=title, updated_at=now)
        )
        if title != page.title:
            await activity.record(
                conn, page.space_id, actor.id, "page.renamed", "page", page_id, title, now
            )
    return title


async def move_page(
    engine: AsyncEngine,
    actor: Actor,
    page_id: int,
    parent_id: int | None,
    *,
    position: int | None = None,
    now: datetime | None = None,
) -> None:
    """Move a page (with its subtree) under another parent, at `position` (default: last)."""
    now = now or utcnow()
    async with engine.begin() as conn:
        page = await _editable_page(conn, actor, page_id, now)
        await _check_parent(conn, page.space_id, parent_id)
        if page_id in await _ancestors(conn, parent_id):
            raise InvalidInput(
                "Déplacement impossible : une page ne peut pas aller sous elle-même."
            )
        old_parent = (
            await conn.execute(select(pages.c.parent_id).where(pages.c.id == page_id))
        ).scalar()
        siblings = await _sibling_ids(conn, page.space_id, parent_id, exclude=page_id)
        at = len(siblings) if position is None else max(0, min(position, len(siblings)))
        siblings.insert(at, page_id)
        await conn.execute(
            update(pages).where(pages.c.id == page_id).values(parent_id=parent_id, updated_at=now)
        )
        await _renumber(conn, siblings)
        if old_parent != parent_id:
            await _renumber(conn, await _sibling_ids(conn, page.space_id, old_parent))


async def shift_page(
    engine: AsyncEngine, actor: Actor, page_id: int, delta: int, *, now: datetime | None = None
) -> None:
    """Reorder a page among its siblings: -1 moves it up one place, +1 down one."""
    now = now or utcnow()
    async with engine.begin() as conn:
        page = await _editable_page(conn, actor, page_id, now)
        parent_id = (
            await conn.execute(select(pages.c.parent_id).where(pages.c.id == page_id))
        ).scalar()
        siblings = await _sibling_ids(conn, page.space_id, parent_id)
        index = siblings.index(page_id)
        target = max(0, min(index + delta, len(siblings) - 1))
        siblings.insert(target, siblings.pop(index))
        await _renumber(conn, siblings)


async def _subtree(
    conn: AsyncConnection, page_id: int, *, deleted_at: datetime | None
) -> list[int]:
    """The page and its descendants in the same trash state (same `deleted_at`)."""
    found = [page_id]
    frontier = [page_id]
    while frontier:
        condition = (
            pages.c.deleted_at.is_(None) if deleted_at is None else pages.c.deleted_at == deleted_at
        )
        children = list(
            (
                await conn.execute(
                    select(pages.c.id).where(pages.c.parent_id.in_(frontier), condition)
                )
            ).scalars()
        )
        children = [c for c in children if c not in found]
        found.extend(children)
        frontier = children
    return found


async def trash_page(
    engine: AsyncEngine, actor: Actor, page_id: int, *, now: datetime | None = None
) -> list[str]:
    """Put a page and its subpages in the trash; returns their document names (to disconnect)."""
    now = now or utcnow()
    async with engine.begin() as conn:
        page = await _editable_page(conn, actor, page_id, now)
        ids = await _subtree(conn, page_id, deleted_at=None)
        await conn.execute(update(pages).where(pages.c.id.in_(ids)).values(deleted_at=now))
        parent_id = (
            await conn.execute(select(pages.c.parent_id).where(pages.c.id == page_id))
        ).scalar()
        await _renumber(conn, await _sibling_ids(conn, page.space_id, parent_id))
        names = (await conn.execute(select(pages.c.doc_name).where(pages.c.id.in_(ids)))).scalars()
        return list(names)


async def restore_page(
    engine: AsyncEngine,
    actor: Actor,
    page_id: int,
    *,
    now: datetime | None = None,
    retention_days: int = TRASH_DAYS,
) -> None:
    """Bring a trashed page and the subpages trashed with it back; to the top level when its
    parent is still in the trash."""
    now = now or utcnow()
    async with engine.begin() as conn:
        page = await _editable_page(conn, actor, page_id, now, trashed=True)
        row = (
            await conn.execute(
                select(pages.c.deleted_at, pages.c.parent_id).where(pages.c.id == page_id)
            )
        ).one()
        if aware(row.deleted_at) <= now - timedelta(days=retention_days):
            raise Conflict("Cette page a passé plus de 30 jours dans la corbeille.")
        ids = await _subtree(conn, page_id, deleted_at=row.deleted_at)
        parent_id = row.parent_id
        if parent_id is not None:
            parent_deleted = (
                await conn.execute(select(pages.c.deleted_at).where(pages.c.id == parent_id))
            ).scalar()
            if parent_deleted is not None:
                parent_id = None
        position = len(await _sibling_ids(conn, page.space_id, parent_id))
        await conn.execute(update(pages).where(pages.c.id.in_(ids)).values(deleted_at=None))
        await conn.execute(
            update(pages)
            .where(pages.c.id == page_id)
            .values(parent_id=parent_id, position=position, updated_at=now)
        )
        await activity.record(
            conn, page.space_id, actor.id, "page.restored", "page", page_id, page.title, now
        )


async def list_trash(
    engine: AsyncEngine,
    actor: Actor,
    space_id: int,
    *,
    now: datetime | None = None,
    retention_days: int = TRASH_DAYS,
) -> list[TrashedPage]:
    """Pages trashed on their own (not with a parent), newest first; purges expired ones."""
    now = now or utcnow()
    await purge_trash(engine, now=now, retention_days=retention_days, space_id=space_id)
    async with engine.connect() as conn:
        await require_role(conn, actor, space_id, "editor", now=now)
        parent = pages.alias("parent")
        rows = (
            await conn.execute(
                select(pages.c.id, pages.c.title, pages.c.deleted_at)
                .select_from(pages.outerjoin(parent, parent.c.id == pages.c.parent_id))
                .where(
                    pages.c.space_id == space_id,
                    pages.c.deleted_at.is_not(None),
                    (parent.c.id.is_(None))
                    | (parent.c.deleted_at.is_(None))
                    | (parent.c.deleted_at != pages.c.deleted_at),
                )
                .order_by(pages.c.deleted_at.desc())
            )
        ).all()
    return [
        TrashedPage(
            r.id,
            r.title,
            aware(r.deleted_at),
            aware(r.deleted_at) + timedelta(days=retention_days),
        )
        for r in rows
    ]


async def purge_trash(
    engine: AsyncEngine,
    *,
    now: datetime | None = None,
    retention_days: int = TRASH_DAYS,
    space_id: int | None = None,
) -> int:
    """Delete pages trashed longer ago than the retention period, with their documents."""
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    async with engine.begin() as conn:
        statement = select(pages.c.id, pages.c.doc_name).where(pages.c.deleted_at < cutoff)
        if space_id is not None:
            statement = statement.where(pages.c.space_id == space_id)
        rows = (await conn.execute(statement)).all()
        if not rows:
            return 0
        names = [r.doc_name for r in rows]
        # Children first is not needed: parent_id cascades, and the rows are gone together.
        await conn.execute(delete(pages).where(pages.c.id.in_([r.id for r in rows])))
        await conn.execute(delete(document_updates).where(document_updates.c.name.in_(names)))
        await conn.execute(delete(documents).where(documents.c.name.in_(names)))
        # Their comments (and with them their reactions and notifications) go too.
        await activity.forget_items(conn, "page", [r.id for r in rows])
    return len(rows)


async def page_tree(engine: AsyncEngine, space_id: int) -> list[PageNode]:
    """The live (not trashed) pages of a space as a tree, siblings in order."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    pages.c.id, pages.c.title, pages.c.doc_name, pages.c.parent_id, pages.c.position
                )
                .where(pages.c.space_id == space_id, pages.c.deleted_at.is_(None))
                .order_by(pages.c.position, pages.c.id)
            )
        ).all()
    nodes = {r.id: PageNode(r.id, r.title, r.doc_name, r.parent_id, r.position) for r in rows}
    roots: list[PageNode] = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id) if node.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)
    return roots


def flatten(nodes: list[PageNode], depth: int = 0) -> list[tuple[PageNode, int]]:
    """Tree order with depths, for select lists and indented views."""
    out: list[tuple[PageNode, int]] = []
    for node in nodes:
        out.append((node, depth))
        out.extend(flatten(node.children, depth + 1))
    return out


async def count_pages(engine: AsyncEngine, space_id: int) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count()).where(
                        pages.c.space_id == space_id, pages.c.deleted_at.is_(None)
                    )
                )
            ).scalar_one()
        )
