"""A space's activity feed: pages created, renamed, restored; comments; members joined.

`record` runs inside the transaction of the change it describes (a change and its entry
commit together or not at all); `feed` pages through a space's entries, newest first,
leaving out those about a page in the trash (they come back with it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from web.social.model import iso, names, person
from web.social.tables import activities, appreciations, comments, follows, notifications
from web.spaces.access import Actor, content_role_in
from web.spaces.tables import pages

KINDS = ("page.created", "page.renamed", "page.restored", "comment.created", "member.joined")
PAGE_SIZE = 20


async def record(
    conn: AsyncConnection,
    space_id: int,
    actor_id: int | None,
    kind: str,
    item_kind: str = "",
    item_id: int | None = None,
    title: str = "",
    now: datetime | None = None,
) -> None:
    values: dict[str, Any] = {
        "space_id": space_id,
        "actor_id": actor_id,
        "kind": kind,
        "item_kind": item_kind,
        "item_id": item_id,
        "title": title[:200],
    }
    if now is not None:
        values["created_at"] = now
    await conn.execute(insert(activities).values(**values))


async def forget_items(conn: AsyncConnection, kind: str, item_ids: list[int]) -> None:
    """What the social layer keeps about items deleted for good: their comments (their
    reactions and notifications cascade), recommendations, votes and follows."""
    for table in (comments, appreciations, follows, notifications):
        await conn.execute(
            delete(table).where(table.c.item_kind == kind, table.c.item_id.in_(item_ids))
        )


def entry_url(slug: str, row: Any) -> str | None:
    if row.item_kind == "page" and row.item_id is not None:
        return f"/espaces/{slug}/pages/{row.item_id}"
    if row.item_kind == "space":
        return f"/espaces/{slug}"
    return None


async def feed(
    engine: AsyncEngine,
    actor: Actor,
    space_id: int,
    slug: str,
    now: datetime,
    *,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> dict[str, Any] | None:
    """A page of the feed (None: the person may not see the space's content)."""
    async with engine.connect() as conn:
        if await content_role_in(conn, actor, space_id, now) is None:
            return None
        # Entries about a page in the trash (or purged) are left out, title and link.
        on_page = and_(activities.c.item_kind == "page", pages.c.id == activities.c.item_id)
        query = (
            select(activities)
            .select_from(activities.outerjoin(pages, on_page))
            .where(
                activities.c.space_id == space_id,
                or_(
                    activities.c.item_kind != "page",
                    and_(pages.c.id.is_not(None), pages.c.deleted_at.is_(None)),
                ),
            )
        )
        if before is not None:
            query = query.where(activities.c.id < before)
        rows = (await conn.execute(query.order_by(activities.c.id.desc()).limit(limit + 1))).all()
        known = await names(conn, [r.actor_id for r in rows])
    more = len(rows) > limit
    rows = rows[:limit]
    entries = [
        {
            "id": row.id,
            "kind": row.kind,
            "actor": person(row.actor_id, known),
            "item": {"kind": row.item_kind, "id": row.item_id} if row.item_kind else None,
            "title": row.title,
            "url": entry_url(slug, row),
            "at": iso(row.created_at),
        }
        for row in rows
    ]
    return {"entries": entries, "next": rows[-1].id if more and rows else None}
