"""Guest links: a role on a space or one page, an expiry, a label; several per item; revocable.

The token is shown once, at creation; only its sha256 is stored. Opening a link makes a guest
account (role guest) tied to the link by `guest_link_users`; access checks look the link up on
every request, so revoking or expiring it cuts that account off at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from web.schema import users
from web.spaces.access import Actor, LiveLink, aware, live_link, utcnow
from web.spaces.errors import Forbidden, InvalidInput, NotFound
from web.spaces.services import require_not_archived, require_role, token_hash
from web.spaces.tables import LINK_ROLES, guest_link_users, guest_links, pages
from web.spaces.validation import choice, one_line

DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True)
class GuestLink:
    id: int
    space_id: int
    page_id: int | None
    page_title: str | None
    role: str
    label: str
    expires_at: datetime
    created_at: datetime
    created_by_name: str | None
    revoked_at: datetime | None
    created_by: int | None = None

    def status(self, now: datetime) -> str:
        """'revoked', 'expired' or 'active'."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


@dataclass(frozen=True)
class NewLink:
    link: GuestLink
    token: str  # shown once


def _require_not_guest(actor: Actor) -> None:
    # Guests work with what they were given; they do not invite others.
    if actor.role == "guest" or actor.guest_link_id is not None:
        raise Forbidden("Les invités ne gèrent pas les liens d'invitation.")


async def create_guest_link(
    engine: AsyncEngine,
    actor: Actor,
    space_id: int,
    *,
    role: str,
    page_id: int | None = None,
    label: str = "",
    days: int | None = None,
    default_days: int = DEFAULT_DAYS,
    now: datetime | None = None,
) -> NewLink:
    """Create a link to a space (space admins) or one of its pages (editors and up)."""
    now = now or utcnow()
    _require_not_guest(actor)
    role = choice(role, "Rôle", LINK_ROLES)
    label = one_line(label, "Libellé", required=False)
    days = default_days if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"Durée : de 1 à {MAX_DAYS} jours.")
    async with engine.begin() as conn:
        await require_role(
            conn, actor, space_id, "editor" if page_id is not None else "admin", now=now
        )
        await require_not_archived(conn, space_id)
        if page_id is not None:
            page_space = (
                await conn.execute(
                    select(pages.c.space_id).where(
                        pages.c.id == page_id, pages.c.deleted_at.is_(None)
                    )
                )
            ).scalar()
            if page_space != space_id:
                raise NotFound("Page introuvable.")
        token = secrets.token_urlsafe(32)
        link_id = (
            await conn.execute(
                insert(guest_links)
                .values(
                    token_hash=token_hash(token),
                    space_id=space_id,
                    page_id=page_id,
                    role=role,
                    label=label,
                    expires_at=now + timedelta(days=days),
                    created_by=actor.id,
                    created_at=now,
                )
                .returning(guest_links.c.id)
            )
        ).scalar_one()
    links = await _links(engine, guest_links.c.id == link_id)
    return NewLink(links[0], token)


async def _links(engine: AsyncEngine, condition: object) -> list[GuestLink]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    guest_links,
                    pages.c.title.label("page_title"),
                    users.c.display_name.label("creator"),
                )
                .select_from(
                    guest_links.outerjoin(pages, pages.c.id == guest_links.c.page_id).outerjoin(
                        users, users.c.id == guest_links.c.created_by
                    )
                )
                .where(condition)  # type: ignore[arg-type]
                .order_by(guest_links.c.created_at.desc(), guest_links.c.id.desc())
            )
        ).all()
    return [
        GuestLink(
            r.id,
            r.space_id,
            r.page_id,
            r.page_title,
            r.role,
            r.label,
            aware(r.expires_at),
            aware(r.created_at),
            r.creator,
            None if r.revoked_at is None else aware(r.revoked_at),
            r.created_by,
        )
        for r in rows
    ]


async def list_guest_links(
    engine: AsyncEngine, actor: Actor, space_id: int, *, now: datetime | None = None
) -> list[GuestLink]:
    """Every link of a space and its pages, newest first, with who created it (editors and up)."""
    _require_not_guest(actor)
    async with engine.connect() as conn:
        await require_role(conn, actor, space_id, "editor", now=now or utcnow())
    return await _links(engine, guest_links.c.space_id == space_id)


async def revoke_guest_link(
    engine: AsyncEngine,
    actor: Actor,
    link_id: int,
    *,
    space_id: int | None = None,
    now: datetime | None = None,
) -> GuestLink:
    """Revoke a link at once (space admins, or the editor who created it); with `space_id`,
    only a link of that space (a link reached through another space's address is unknown)."""
    now = now or utcnow()
    _require_not_guest(actor)
    found = await _links(engine, guest_links.c.id == link_id)
    if not found or (space_id is not None and found[0].space_id != space_id):
        raise NotFound("Lien introuvable.")
    link = found[0]
    async with engine.begin() as conn:
        role = await require_role(conn, actor, link.space_id, "editor", now=now)
        creator = (
            await conn.execute(select(guest_links.c.created_by).where(guest_links.c.id == link_id))
        ).scalar()
        if role not in ("admin", "owner") and creator != actor.id:
            raise Forbidden(
                "Seuls les administrateurs de l'espace et l'auteur du lien le révoquent."
            )
        await conn.execute(
            update(guest_links)
            .where(guest_links.c.id == link_id, guest_links.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return (await _links(engine, guest_links.c.id == link_id))[0]


async def find_live_link(
    engine: AsyncEngine, token: str, *, now: datetime | None = None
) -> LiveLink:
    """The live link a token opens; Forbidden when revoked or expired, NotFound when unknown."""
    now = now or utcnow()
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(guest_links.c.id).where(guest_links.c.token_hash == token_hash(token))
            )
        ).first()
        if row is None:
            raise NotFound("Ce lien d'invitation n'existe pas.")
        link = await live_link(conn, row.id, now)
    if link is None:
        raise Forbidden("Ce lien d'invitation a expiré ou a été révoqué.")
    return link


async def open_guest_link(
    engine: AsyncEngine, token: str, display_name: str, *, now: datetime | None = None
) -> tuple[int, LiveLink]:
    """Make a guest account for whoever opens a live link; returns (user id, link)."""
    now = now or utcnow()
    name = one_line(display_name, "Nom affiché", max_length=100)
    link = await find_live_link(engine, token, now=now)
    async with engine.begin() as conn:
        user_id = (
            await conn.execute(
                insert(users)
                .values(
                    # Unique and undeliverable (.invalid): a link guest has no mailbox here.
                    email=f"lien-{link.id}-{secrets.token_hex(8)}@invite.invalid",
                    display_name=name,
                    role="guest",
                    status="active",
                )
                .returning(users.c.id)
            )
        ).scalar_one()
        await conn.execute(insert(guest_link_users).values(guest_link_id=link.id, user_id=user_id))
    return int(user_id), link


async def guest_link_of_user(engine: AsyncEngine, user_id: int) -> int | None:
    """The link a guest account came through, or None for any other account."""
    async with engine.connect() as conn:
        link_id = (
            await conn.execute(
                select(guest_link_users.c.guest_link_id).where(
                    guest_link_users.c.user_id == user_id
                )
            )
        ).scalar()
    return None if link_id is None else int(link_id)


async def link_is_live(engine: AsyncEngine, link_id: int, *, now: datetime | None = None) -> bool:
    async with engine.connect() as conn:
        return await live_link(conn, link_id, now or utcnow()) is not None
