"""Find the pages a user may read that contain every word of a query.

Matching is a portable LIKE over folded text (see web/search/text.py) on SQLite and
PostgreSQL alike: no ranking beyond "title first", a scan of `page_text`, fine for the
thousands of pages of one instance. Access is filtered in the query, then every hit is
checked again with `page_role_in`, the rule the page view itself applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from web.search.tables import page_text
from web.search.text import fold, highlight, snippet, terms_of
from web.spaces.access import AGENT_ROLES, Actor, live_link, page_role_in, utcnow
from web.spaces.tables import memberships, pages, spaces

MAX_QUERY = 200
MAX_RESULTS = 50
# Candidates read before ranking and the per-page access check.
MAX_CANDIDATES = 200


@dataclass(frozen=True)
class SearchHit:
    """A page that matches: where it is and why."""

    page_id: int
    title: str
    space_slug: str
    space_name: str
    title_html: Markup
    snippet_html: Markup

    @property
    def url(self) -> str:
        return f"/espaces/{self.space_slug}/pages/{self.page_id}"


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_pages(
    engine: AsyncEngine,
    user: Actor,
    query: str,
    *,
    limit: int = MAX_RESULTS,
    now: datetime | None = None,
) -> list[SearchHit]:
    """The readable, non-trashed pages containing every word of `query`, title matches first."""
    terms = terms_of(query[:MAX_QUERY])
    if not terms:
        return []
    now = now or utcnow()
    async with engine.connect() as conn:
        readable: ColumnElement[bool]
        if user.guest_link_id is not None:
            link = await live_link(conn, user.guest_link_id, now)
            if link is None:
                return []
            readable = pages.c.space_id == link.space_id
            if link.page_id is not None:
                readable = and_(readable, pages.c.id == link.page_id)
        else:
            member_of = select(memberships.c.space_id).where(memberships.c.user_id == user.id)
            readable = pages.c.space_id.in_(member_of)
            if user.role in AGENT_ROLES:
                readable = or_(readable, spaces.c.visibility == "listed")
        statement = (
            select(
                pages.c.id,
                pages.c.title,
                spaces.c.slug,
                spaces.c.name,
                page_text.c.body,
            )
            .select_from(
                page_text.join(pages, pages.c.id == page_text.c.page_id).join(
                    spaces, spaces.c.id == pages.c.space_id
                )
            )
            .where(
                pages.c.deleted_at.is_(None),
                readable,
                *(page_text.c.folded.like(_like(term), escape="\\") for term in terms),
            )
            .order_by(pages.c.updated_at.desc(), pages.c.id.desc())
            .limit(MAX_CANDIDATES)
        )
        rows = (await conn.execute(statement)).all()
        # Pages whose title holds every word first; otherwise most recently changed first.
        ranked = sorted(rows, key=lambda row: not all(term in fold(row.title) for term in terms))
        hits: list[SearchHit] = []
        for row in ranked:
            if len(hits) >= limit:
                break
            if await page_role_in(conn, user, row.id, now) is None:
                continue
            hits.append(
                SearchHit(
                    page_id=row.id,
                    title=row.title,
                    space_slug=row.slug,
                    space_name=row.name,
                    title_html=highlight(row.title, terms),
                    snippet_html=snippet(row.body, terms),
                )
            )
    return hits
