"""Which documents hold which uploaded images, and so who may see an image.

An image's bytes are stored once by content (`web.pages.images`), but an image belongs to the
documents it was put into: uploaded there, or brought there from another document by someone
who could see it (a copy and paste between pages). It is served only through a document that
holds it, to someone who may read that document; knowing its address is not enough.

Rows are never removed while the document lives (undo, versions and restores bring images
back); a page purged from the trash leaves rows no one can reach (its document name is never
given out again).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Column, ColumnElement, DateTime, String, Table, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from realtime.tables import DOCUMENT_NAME_MAX_LENGTH
from web.pages.images import STORED_NAME
from web.schema import metadata
from web.spaces.access import AGENT_ROLES, Actor, live_link, page_role_in, utcnow
from web.spaces.tables import memberships, pages, spaces

# At most this many images are brought into a document in one request.
MAX_REFERENCES = 100
# Pages looked at when searching one the person may read (a superset filtered in SQL first).
_CANDIDATES = 20

document_images = Table(
    "document_images",
    metadata,
    Column("doc_name", String(DOCUMENT_NAME_MAX_LENGTH), primary_key=True),
    Column("name", String(80), primary_key=True),  # as stored: "<sha256>.<ext>"
    Column("added_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


async def record_images(engine: AsyncEngine, doc_name: str, names: Iterable[str]) -> None:
    """Note that the document holds these images (already noted ones are left as they are)."""
    rows = [{"doc_name": doc_name, "name": name} for name in dict.fromkeys(names)]
    if not rows:
        return
    async with engine.begin() as conn:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        await conn.execute(insert(document_images).values(rows).on_conflict_do_nothing())


async def held_by(engine: AsyncEngine, doc_name: str, names: Iterable[str]) -> set[str]:
    """Those of `names` the document holds."""
    wanted = {name for name in names if STORED_NAME.match(name)}
    if not wanted:
        return set()
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(document_images.c.name).where(
                document_images.c.doc_name == doc_name, document_images.c.name.in_(wanted)
            )
        )
        return set(rows.scalars())


async def document_holds(engine: AsyncEngine, doc_name: str, name: str) -> bool:
    """Whether the document holds this image."""
    return bool(await held_by(engine, doc_name, [name]))


async def readable_page_holding(
    engine: AsyncEngine, user: Actor, name: str, *, now: datetime | None = None
) -> int | None:
    """A page the user may read whose document holds the image, or None."""
    if not STORED_NAME.match(name):
        return None
    now = now or utcnow()
    async with engine.connect() as conn:
        return await _readable_page_holding(conn, user, name, now)


async def _readable_page_holding(
    conn: AsyncConnection, user: Actor, name: str, now: datetime
) -> int | None:
    query = (
        select(pages.c.id)
        .select_from(document_images.join(pages, pages.c.doc_name == document_images.c.doc_name))
        .where(document_images.c.name == name, pages.c.deleted_at.is_(None))
        .order_by(pages.c.id)
        .limit(_CANDIDATES)
    )
    # First narrow to the spaces this person could read at all, so that an image held by
    # many pages does not cost a role check each; `page_role_in` then has the last word, so
    # this filter may only ever be wider than the access rules, never narrower.
    if user.guest_link_id is not None:
        link = await live_link(conn, user.guest_link_id, now)
        if link is None:
            return None
        query = query.where(pages.c.space_id == link.space_id)
        if link.page_id is not None:
            query = query.where(pages.c.id == link.page_id)
    else:
        member_of = select(memberships.c.space_id).where(memberships.c.user_id == user.id)
        visible: ColumnElement[bool] = pages.c.space_id.in_(member_of)
        if user.role in AGENT_ROLES:
            listed = select(spaces.c.id).where(spaces.c.visibility == "listed")
            visible = or_(visible, pages.c.space_id.in_(listed))
        query = query.where(visible)
    for page_id in (await conn.execute(query)).scalars():
        if await page_role_in(conn, user, page_id, now) is not None:
            return int(page_id)
    return None


async def covered_document_holds(engine: AsyncEngine, prefix: str, name: str) -> bool:
    """Whether some document whose name starts with `prefix` (a token's scope) holds it."""
    if not STORED_NAME.match(name):
        return False
    async with engine.connect() as conn:
        found = await conn.execute(
            select(document_images.c.doc_name)
            .where(
                document_images.c.name == name,
                document_images.c.doc_name.startswith(prefix, autoescape=True),
            )
            .limit(1)
        )
        return found.first() is not None


def valid_names(values: object) -> list[str] | None:
    """The image names of a references request, or None when it is not a list of them."""
    if not isinstance(values, list) or len(values) > MAX_REFERENCES:
        return None
    if not all(isinstance(v, str) and STORED_NAME.match(v) for v in values):
        return None
    return list(dict.fromkeys(values))
