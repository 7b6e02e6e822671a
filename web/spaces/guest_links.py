"""Guest links: a role on a space or one page, an expiry, a label; several per item; revocable.

The token is shown once, at creation; only its sha256 is stored. Opening a link makes a guest
account (role guest) tied to the link by `guest_link_users`; access checks look the link up on
every request, so revoking or expiring it cuts that account off at once.

A browser that opened a link before gets its guest account back (the routes remember it in a
cookie), so reopening a link makes no new account. New accounts are limited per client address
and hour (`guest_account_creations`), so a script cannot fill the users table through a link.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from web.i18n import N_
from web.schema import users
from web.spaces.access import Actor, LiveLink, aware, live_link, utcnow
from web.spaces.errors import Forbidden, InvalidInput, NotFound, SpaceError
from web.spaces.services import require_not_archived, require_role, token_hash
from web.spaces.tables import (
    LINK_ROLES,
    guest_account_creations,
    guest_link_users,
    guest_links,
    pages,
)
from web.spaces.validation import choice, one_line

DEFAULT_DAYS = 30
MAX_DAYS = 366
# The window of the limit on new guest accounts per client address.
CREATION_WINDOW = timedelta(hours=1)


TOO_MANY_GUEST_ACCOUNTS = N_(
    "Trop de comptes invités ont été créés depuis votre adresse réseau en une heure. "
    "Réessayez dans %(minutes)d minute(s), ou rouvrez le lien dans le navigateur où "
    "vous l'aviez déjà ouvert."
)


class TooManyGuestAccounts(SpaceError):
    """This client address made as many guest accounts as allowed within the window; the
    message has a `%(minutes)d` to fill in once translated."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(TOO_MANY_GUEST_ACCOUNTS)
        self.retry_after = retry_after

    @property
    def minutes(self) -> int:
        return max(1, (self.retry_after + 59) // 60)


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


@dataclass(frozen=True)
class EndedLink:
    """A link that no longer opens anything: since when, and whom to ask for another."""

    state: str  # 'revoked' or 'expired'
    at: datetime
    creator_name: str | None


class LinkEnded(Forbidden):
    """The link was revoked or has expired: its page says so and names whom to ask (410)."""

    status = 410

    def __init__(self, ended: EndedLink) -> None:
        super().__init__("Ce lien d'invitation a expiré ou a été révoqué.")
        self.ended = ended


async def ended_link(
    engine: AsyncEngine, link_id: int, *, now: datetime | None = None
) -> EndedLink | None:
    """How link `link_id` ended, or None while it is live (or when there is no such link)."""
    now = now or utcnow()
    found = await _links(engine, guest_links.c.id == link_id)
    if not found:
        return None
    link = found[0]
    state = link.status(now)
    if state == "active":
        return None
    at = link.revoked_at if state == "revoked" and link.revoked_at else link.expires_at
    return EndedLink(state, at, link.created_by_name)


async def require_live_guest_link(
    engine: AsyncEngine, actor: Actor, *, now: datetime | None = None
) -> LiveLink | None:
    """A link guest's live link (None for anyone else); LinkEnded once it is revoked or
    expired, so that the guest reads why rather than "not found"."""
    if actor.guest_link_id is None:
        return None
    now = now or utcnow()
    async with engine.connect() as conn:
        link = await live_link(conn, actor.guest_link_id, now)
    if link is None:
        raise LinkEnded(
            await ended_link(engine, actor.guest_link_id, now=now)
            or EndedLink("revoked", now, None)
        )
    return link


async def find_live_link(
    engine: AsyncEngine, token: str, *, now: datetime | None = None
) -> LiveLink:
    """The live link a token opens; LinkEnded (a Forbidden) when revoked or expired, NotFound
    when unknown."""
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
        ended = await ended_link(engine, int(row.id), now=now)
        raise LinkEnded(ended or EndedLink("revoked", now, None))
    return link


@dataclass(frozen=True)
class OpenedLink:
    """Whose session opening a link starts: a guest account of that link, new or found again."""

    user_id: int
    link: LiveLink
    expires_at: datetime
    reused: bool


@dataclass(frozen=True)
class ReturningGuest:
    """A guest account a link made before, named by the browser opening it again."""

    user_id: int
    display_name: str
    active: bool


async def returning_guest(
    engine: AsyncEngine, link_id: int, user_id: int | None
) -> ReturningGuest | None:
    """The guest account `user_id` if this link made it, else None."""
    if user_id is None:
        return None
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(users.c.id, users.c.display_name, users.c.status)
                .join(guest_link_users, guest_link_users.c.user_id == users.c.id)
                .where(guest_link_users.c.guest_link_id == link_id, users.c.id == user_id)
            )
        ).first()
    if row is None:
        return None
    return ReturningGuest(int(row.id), str(row.display_name), row.status == "active")


async def open_guest_link(
    engine: AsyncEngine,
    token: str,
    display_name: str,
    *,
    returning_user: int | None = None,
    address: str = "",
    per_address: int | None = None,
    now: datetime | None = None,
) -> OpenedLink:
    """Open a live link: the guest account `returning_user` again when the link made it, else
    a new guest account, at most `per_address` a window for one client `address`."""
    now = now or utcnow()
    name = one_line(display_name, "Nom affiché", max_length=100)
    link = await find_live_link(engine, token, now=now)
    expires_at = (await _links(engine, guest_links.c.id == link.id))[0].expires_at
    returning = await returning_guest(engine, link.id, returning_user)
    if returning is not None:
        if not returning.active:
            raise Forbidden(
                "Votre compte invité a été désactivé : adressez-vous à la personne "
                "qui vous a donné ce lien."
            )
        if name != returning.display_name:
            async with engine.begin() as conn:
                await conn.execute(
                    update(users).where(users.c.id == returning.user_id).values(display_name=name)
                )
        return OpenedLink(returning.user_id, link, expires_at, reused=True)
    async with engine.begin() as conn:
        if per_address is not None:
            await _count_creation(conn, address, per_address, now)
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
    return OpenedLink(int(user_id), link, expires_at, reused=False)


async def _count_creation(conn: AsyncConnection, address: str, limit: int, now: datetime) -> None:
    """Count one new guest account for `address`, or raise TooManyGuestAccounts (the caller's
    transaction then rolls back: nothing is created, nothing counted)."""
    # Written first, then counted: the transaction takes the write lock before it reads, so
    # two workers' SQLite transactions queue instead of deadlocking. (On PostgreSQL two
    # openings at the same instant may each miss the other's row: the limit is not exact.)
    await conn.execute(insert(guest_account_creations).values(address=address[:64], at=now))
    await conn.execute(
        delete(guest_account_creations).where(guest_account_creations.c.at <= now - CREATION_WINDOW)
    )
    count, oldest = (
        await conn.execute(
            select(func.count(), func.min(guest_account_creations.c.at)).where(
                guest_account_creations.c.address == address[:64],
                guest_account_creations.c.at > now - CREATION_WINDOW,
            )
        )
    ).one()
    if count > limit:
        # Until the oldest creation in the window leaves it.
        wait = (aware(oldest) + CREATION_WINDOW - now).total_seconds()
        raise TooManyGuestAccounts(max(1, int(wait) + 1))


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
