"""The directory of people: search agents by name, email, organisation or space; profiles.

Only agents and instance admins browse it. Spaces show up (in search and on profiles) only
when the viewer may see them: listed ones, or ones the viewer belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from web.schema import users
from web.spaces.access import AGENT_ROLES, Actor
from web.spaces.errors import Forbidden, NotFound
from web.spaces.tables import memberships, spaces
from web.spaces.validation import search_text

RESULTS = 50


@dataclass(frozen=True)
class Person:
    id: int
    display_name: str
    email: str
    organisation: str


@dataclass(frozen=True)
class SharedSpace:
    slug: str
    name: str
    kind: str


@dataclass(frozen=True)
class Profile:
    person: Person
    spaces_in_common: tuple[SharedSpace, ...]


def require_agent(viewer: Actor) -> None:
    if viewer.role not in AGENT_ROLES or viewer.guest_link_id is not None:
        raise Forbidden("L'annuaire est réservé aux agents.")


def _visible_space(viewer: Actor) -> ColumnElement[bool]:
    mine = select(memberships.c.space_id).where(memberships.c.user_id == viewer.id)
    return or_(spaces.c.visibility == "listed", spaces.c.id.in_(mine))


def _like(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


async def search_people(engine: AsyncEngine, viewer: Actor, query: str) -> list[Person]:
    """Active agents matching every word of `query` (name, email, organisation or space)."""
    require_agent(viewer)
    statement = select(users.c.id, users.c.display_name, users.c.email, users.c.organisation).where(
        users.c.role.in_(AGENT_ROLES), users.c.status == "active"
    )
    for word in search_text(query).split()[:8]:
        pattern = _like(word[:100])
        in_space = (
            select(memberships.c.user_id)
            .select_from(memberships.join(spaces, spaces.c.id == memberships.c.space_id))
            .where(func.lower(spaces.c.name).like(pattern, escape="\\"), _visible_space(viewer))
        )
        statement = statement.where(
            or_(
                func.lower(users.c.display_name).like(pattern, escape="\\"),
                func.lower(users.c.email).like(pattern, escape="\\"),
                func.lower(users.c.organisation).like(pattern, escape="\\"),
                users.c.id.in_(in_space),
            )
        )
    async with engine.connect() as conn:
        rows = (
            await conn.execute(statement.order_by(func.lower(users.c.display_name)).limit(RESULTS))
        ).all()
    return [Person(r.id, r.display_name, r.email, r.organisation) for r in rows]


async def profile(engine: AsyncEngine, viewer: Actor, user_id: int) -> Profile:
    """An agent's profile: name, organisation, and the spaces the viewer shares with them."""
    require_agent(viewer)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(users.c.id, users.c.display_name, users.c.email, users.c.organisation).where(
                    users.c.id == user_id,
                    users.c.role.in_(AGENT_ROLES),
                    users.c.status == "active",
                )
            )
        ).first()
        if row is None:
            raise NotFound("Personne introuvable dans l'annuaire.")
        theirs = memberships.alias("theirs")
        mine = memberships.alias("mine")
        shared = (
            await conn.execute(
                select(spaces.c.slug, spaces.c.name, spaces.c.kind)
                .select_from(
                    spaces.join(theirs, theirs.c.space_id == spaces.c.id).join(
                        mine, and_(mine.c.space_id == spaces.c.id, mine.c.user_id == viewer.id)
                    )
                )
                .where(theirs.c.user_id == user_id)
                .order_by(func.lower(spaces.c.name))
            )
        ).all()
    person = Person(row.id, row.display_name, row.email, row.organisation)
    return Profile(person, tuple(SharedSpace(s.slug, s.name, s.kind) for s in shared))
