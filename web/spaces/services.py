"""Spaces and their members: create, archive, list; add, invite, leave, remove, change role.

Services take typed arguments and know nothing of HTTP; they raise `SpaceError`s.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from web.i18n import N_
from web.schema import users
from web.social import activity
from web.spaces.access import AGENT_ROLES, Actor, at_least, aware, space_role_in, utcnow
from web.spaces.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from web.spaces.tables import (
    SPACE_KINDS,
    SPACE_ROLES,
    VISIBILITIES,
    invitations,
    memberships,
    spaces,
)
from web.spaces.validation import (
    choice,
    description_html,
    email_address,
    one_line,
    search_text,
    slug_or_none,
    slugify,
)

# Slugs that are routes under /espaces/.
RESERVED_SLUGS = frozenset({"nouveau", "recherche", "annuaire"})
# Space roles a guest account may hold: it works in the space, it does not run it.
GUEST_ROLES = ("reader", "commenter", "editor")
INVITATION_DAYS = 14


@dataclass(frozen=True)
class Space:
    id: int
    slug: str
    kind: str
    name: str
    description: str  # sanitised HTML
    visibility: str
    archived_at: datetime | None
    created_at: datetime
    # Whether guests see who the members are (space home, share dialog, members page).
    guests_see_members: bool = False

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


def visible_members(space: Space, viewer: Actor, members: list[Member]) -> list[Member]:
    """The members `viewer` may see listed: all of them, except that a guest (a guest account
    or a guest link) sees only themself unless the space lets guests see its members."""
    if not members_hidden_from(space, viewer):
        return members
    return [m for m in members if m.user_id == viewer.id]


def members_hidden_from(space: Space, viewer: Actor) -> bool:
    """Whether `viewer` is a guest (a guest account or a guest link) that the space does not
    let see who its members are (nor what they did: the home's activity names them)."""
    guest = viewer.role not in AGENT_ROLES or viewer.guest_link_id is not None
    return guest and not space.guests_see_members


@dataclass(frozen=True)
class SpaceWithRole:
    space: Space
    role: str | None  # None: a listed space the user is not a member of


@dataclass(frozen=True)
class Member:
    user_id: int
    display_name: str
    email: str
    organisation: str
    instance_role: str
    role: str


@dataclass(frozen=True)
class Invitation:
    """The outcome of inviting by email; `token` is set when the invited person enters by the
    mail's link: a new guest account, or a guest account that has no password."""

    user_id: int
    new_account: bool
    token: str | None


def _space(row: object) -> Space:
    return Space(
        row.id,  # type: ignore[attr-defined]
        row.slug,  # type: ignore[attr-defined]
        row.kind,  # type: ignore[attr-defined]
        row.name,  # type: ignore[attr-defined]
        row.description,  # type: ignore[attr-defined]
        row.visibility,  # type: ignore[attr-defined]
        row.archived_at,  # type: ignore[attr-defined]
        row.created_at,  # type: ignore[attr-defined]
        bool(row.guests_see_members),  # type: ignore[attr-defined]
    )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def require_role(
    conn: AsyncConnection, actor: Actor, space_id: int, needed: str, *, now: datetime
) -> str:
    """The actor's role if it is `needed` or stronger; NotFound when it cannot see the space."""
    role = await space_role_in(conn, actor, space_id, now)
    if role is None:
        raise NotFound("Espace introuvable.")
    if not at_least(role, needed):
        raise Forbidden("Votre rôle dans cet espace ne permet pas cette action.")
    return role


async def require_not_archived(conn: AsyncConnection, space_id: int) -> None:
    archived = (
        await conn.execute(select(spaces.c.archived_at).where(spaces.c.id == space_id))
    ).scalar()
    if archived is not None:
        raise Conflict("Cet espace est archivé : désarchivez-le d'abord.")


# -- spaces ------------------------------------------------------------------------------


async def create_space(
    engine: AsyncEngine,
    actor: Actor,
    *,
    name: str,
    kind: str = "project",
    description: str = "",
    visibility: str = "private",
) -> Space:
    """Create a space; its creator becomes its owner. Guests may not create spaces."""
    if actor.role not in AGENT_ROLES or actor.guest_link_id is not None:
        raise Forbidden("Les invités ne peuvent pas créer d'espace.")
    name = one_line(name, "Nom")
    kind = choice(kind, "Type", SPACE_KINDS)
    visibility = choice(visibility, "Visibilité", VISIBILITIES)
    description = description_html(description)
    base = slugify(name)
    if base in RESERVED_SLUGS:
        base = f"{base}-espace"
    async with engine.begin() as conn:
        taken = set(
            (
                await conn.execute(
                    select(spaces.c.slug).where(
                        or_(spaces.c.slug == base, spaces.c.slug.like(f"{base}-%"))
                    )
                )
            ).scalars()
        )
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        space_id = (
            await conn.execute(
                insert(spaces)
                .values(
                    slug=slug,
                    kind=kind,
                    name=name,
                    description=description,
                    visibility=visibility,
                    created_by=actor.id,
                )
                .returning(spaces.c.id)
            )
        ).scalar_one()
        await conn.execute(
            insert(memberships).values(space_id=space_id, user_id=actor.id, role="owner")
        )
        row = (await conn.execute(select(spaces).where(spaces.c.id == space_id))).one()
    return _space(row)


async def update_space(
    engine: AsyncEngine,
    actor: Actor,
    space_id: int,
    *,
    name: str,
    description: str,
    visibility: str,
    guests_see_members: bool | None = None,
) -> None:
    """Change a space's name, description, visibility and whether guests see its members
    (None: unchanged) (space admins and owners)."""
    name = one_line(name, "Nom")
    visibility = choice(visibility, "Visibilité", VISIBILITIES)
    description = description_html(description)
    values: dict[str, Any] = {"name": name, "description": description, "visibility": visibility}
    if guests_see_members is not None:
        values["guests_see_members"] = guests_see_members
    async with engine.begin() as conn:
        await require_role(conn, actor, space_id, "admin", now=utcnow())
        await conn.execute(update(spaces).where(spaces.c.id == space_id).values(**values))


async def set_archived(
    engine: AsyncEngine, actor: Actor, space_id: int, archived: bool, *, now: datetime | None = None
) -> None:
    """Archive a space (read-only for everyone) or bring it back (space admins and owners)."""
    now = now or utcnow()
    async with engine.begin() as conn:
        await require_role(conn, actor, space_id, "admin", now=now)
        await conn.execute(
            update(spaces)
            .where(spaces.c.id == space_id)
            .values(archived_at=now if archived else None)
        )


async def space_by_slug(engine: AsyncEngine, slug: str) -> Space | None:
    if slug_or_none(slug) is None:
        return None
    async with engine.connect() as conn:
        row = (await conn.execute(select(spaces).where(spaces.c.slug == slug))).first()
    return None if row is None else _space(row)


async def space_by_id(engine: AsyncEngine, space_id: int) -> Space | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(spaces).where(spaces.c.id == space_id))).first()
    return None if row is None else _space(row)


async def my_spaces(engine: AsyncEngine, user: Actor) -> list[SpaceWithRole]:
    """The spaces the user belongs to (a link guest: its link's space), archived last."""
    async with engine.connect() as conn:
        if user.guest_link_id is not None:
            # A link guest reaches its item from the link; it is not a member of anything.
            return []
        rows = (
            await conn.execute(
                select(spaces, memberships.c.role.label("member_role"))
                .select_from(spaces.join(memberships, memberships.c.space_id == spaces.c.id))
                .where(memberships.c.user_id == user.id)
                .order_by(spaces.c.archived_at.is_not(None), func.lower(spaces.c.name))
            )
        ).all()
    return [SpaceWithRole(_space(row), row.member_role) for row in rows]


def _like(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


async def listed_spaces(engine: AsyncEngine, user: Actor, query: str = "") -> list[Space]:
    """The directory of spaces: listed, not archived ones matching `query`; none for guests."""
    if user.role not in AGENT_ROLES or user.guest_link_id is not None:
        return []
    statement = select(spaces).where(
        spaces.c.visibility == "listed", spaces.c.archived_at.is_(None)
    )
    query = search_text(query)
    if query:
        pattern = _like(query)
        statement = statement.where(
            or_(
                func.lower(spaces.c.name).like(pattern, escape="\\"),
                func.lower(spaces.c.description).like(pattern, escape="\\"),
            )
        )
    async with engine.connect() as conn:
        rows = (await conn.execute(statement.order_by(func.lower(spaces.c.name)))).all()
    return [_space(row) for row in rows]


# -- members -----------------------------------------------------------------------------


async def list_members(engine: AsyncEngine, space_id: int) -> list[Member]:
    """Members, strongest role first, then by name."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    users.c.id,
                    users.c.display_name,
                    users.c.email,
                    users.c.organisation,
                    users.c.role.label("instance_role"),
                    memberships.c.role,
                )
                .select_from(memberships.join(users, users.c.id == memberships.c.user_id))
                .where(memberships.c.space_id == space_id)
            )
        ).all()
    members = [
        Member(r.id, r.display_name, r.email, r.organisation, r.instance_role, r.role) for r in rows
    ]
    members.sort(key=lambda m: (-SPACE_ROLES.index(m.role), m.display_name.lower()))
    return members


async def _member_role(conn: AsyncConnection, space_id: int, user_id: int) -> str | None:
    role = (
        await conn.execute(
            select(memberships.c.role).where(
                memberships.c.space_id == space_id, memberships.c.user_id == user_id
            )
        )
    ).scalar()
    return None if role is None else str(role)


async def _owner_count(conn: AsyncConnection, space_id: int) -> int:
    return int(
        (
            await conn.execute(
                select(func.count()).where(
                    memberships.c.space_id == space_id, memberships.c.role == "owner"
                )
            )
        ).scalar_one()
    )


def _check_grantable(actor_role: str, role: str, instance_role: str) -> None:
    if role == "owner" and actor_role != "owner":
        raise Forbidden("Seul un propriétaire peut nommer un propriétaire.")
    if instance_role == "guest" and role not in GUEST_ROLES:
        raise InvalidInput("Rôle : un invité peut être lecteur, commentateur ou éditeur.")


async def _instance_role(conn: AsyncConnection, user_id: int) -> str:
    role = (await conn.execute(select(users.c.role).where(users.c.id == user_id))).scalar()
    if role is None:
        raise NotFound("Personne introuvable.")
    return str(role)


async def add_member(
    engine: AsyncEngine, actor: Actor, space_id: int, user_id: int, role: str
) -> None:
    """Add an existing account (from the directory) to a space (space admins and owners)."""
    role = choice(role, "Rôle", SPACE_ROLES)
    async with engine.begin() as conn:
        actor_role = await require_role(conn, actor, space_id, "admin", now=utcnow())
        _check_grantable(actor_role, role, await _instance_role(conn, user_id))
        if await _member_role(conn, space_id, user_id) is not None:
            raise Conflict("Cette personne est déjà membre de l'espace.")
        await conn.execute(
            insert(memberships).values(space_id=space_id, user_id=user_id, role=role)
        )
        await activity.record(conn, space_id, user_id, "member.joined")


async def invite_by_email(
    engine: AsyncEngine,
    actor: Actor,
    space_id: int,
    email: str,
    role: str,
    *,
    display_name: str = "",
    now: datetime | None = None,
) -> Invitation:
    """Invite anyone by email: an account joins at once; an outsider gets a guest account.

    The guest account sees only the spaces it is invited to. The returned token (outsiders
    only) goes into the invitation mail: it opens a session for that account until it expires.
    """
    now = now or utcnow()
    address = email_address(email)
    role = choice(role, "Rôle", SPACE_ROLES)
    name = one_line(display_name, "Nom", required=False) or address.split("@", 1)[0]
    async with engine.begin() as conn:
        actor_role = await require_role(conn, actor, space_id, "admin", now=now)
        existing = (
            await conn.execute(
                select(users.c.id, users.c.role, users.c.password_hash).where(
                    users.c.email == address
                )
            )
        ).first()
        if existing is not None:
            _check_grantable(actor_role, role, existing.role)
            # A guest with no password enters only through invitation links, each good for one
            # use: inviting them again (a member already) is how they get a new one.
            by_link = existing.role == "guest" and existing.password_hash is None
            member = await _member_role(conn, space_id, existing.id) is not None
            if member and not by_link:
                raise Conflict("Cette personne est déjà membre de l'espace.")
            if not member:
                await conn.execute(
                    insert(memberships).values(space_id=space_id, user_id=existing.id, role=role)
                )
            if not by_link:
                return Invitation(existing.id, new_account=False, token=None)
            token = await _issue_invitation(conn, actor, space_id, existing.id, address, role, now)
            return Invitation(existing.id, new_account=False, token=token)
        _check_grantable(actor_role, role, "guest")
        try:
            user_id = (
                await conn.execute(
                    insert(users)
                    .values(email=address, display_name=name, role="guest", status="active")
                    .returning(users.c.id)
                )
            ).scalar_one()
        except IntegrityError:
            raise Conflict("Cette adresse vient d'être inscrite : réessayez.") from None
        await conn.execute(
            insert(memberships).values(space_id=space_id, user_id=user_id, role=role)
        )
        token = await _issue_invitation(conn, actor, space_id, user_id, address, role, now)
    return Invitation(user_id, new_account=True, token=token)


async def _issue_invitation(
    conn: AsyncConnection,
    actor: Actor,
    space_id: int,
    user_id: int,
    address: str,
    role: str,
    now: datetime,
) -> str:
    """A new invitation token for the mail (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    await conn.execute(
        insert(invitations).values(
            space_id=space_id,
            user_id=user_id,
            email=address,
            role=role,
            token_hash=token_hash(token),
            invited_by=actor.id,
            expires_at=now + timedelta(days=INVITATION_DAYS),
        )
    )
    return token


INVITATION_SPENT = N_(
    "Cette invitation a déjà été utilisée : demandez-en une nouvelle "
    "aux administrateurs de l'espace."
)


async def _usable_invitation(
    conn: AsyncConnection, token: str, now: datetime
) -> Row[*tuple[Any, ...]]:
    """The invitation row of a token that may still be accepted, else the reason it may not."""
    row = (
        await conn.execute(
            select(
                invitations.c.id,
                invitations.c.user_id,
                invitations.c.expires_at,
                invitations.c.accepted_at,
                spaces.c.slug,
            )
            .select_from(invitations.join(spaces, spaces.c.id == invitations.c.space_id))
            .where(invitations.c.token_hash == token_hash(token))
        )
    ).first()
    if row is None:
        raise NotFound("Cette invitation n'existe pas.")
    if row.accepted_at is not None:
        raise Gone(INVITATION_SPENT)
    if aware(row.expires_at) <= now:
        raise Forbidden("Cette invitation a expiré : demandez-en une nouvelle.")
    return row


async def check_invitation(engine: AsyncEngine, token: str, *, now: datetime | None = None) -> None:
    """Raise the reason an invitation token can no longer be accepted (before the form)."""
    async with engine.connect() as conn:
        await _usable_invitation(conn, token, now or utcnow())


async def accept_invitation(
    engine: AsyncEngine, token: str, *, now: datetime | None = None
) -> tuple[int, str]:
    """The (user id, space slug) an invitation token opens a session for: once, before it
    expires (whoever finds the mail later must not enter as the invited person)."""
    now = now or utcnow()
    # One conditional UPDATE spends the token: of two acceptances at once exactly one gets the
    # row back, and no read comes first (two SQLite readers both upgrading would deadlock).
    async with engine.begin() as conn:
        spent = (
            await conn.execute(
                update(invitations)
                .where(
                    invitations.c.token_hash == token_hash(token),
                    invitations.c.accepted_at.is_(None),
                )
                .values(accepted_at=now)
                .returning(invitations.c.user_id, invitations.c.space_id, invitations.c.expires_at)
            )
        ).first()
        if spent is None:
            await _usable_invitation(conn, token, now)  # says why: unknown, used or expired
            raise Gone(INVITATION_SPENT)
        if aware(spent.expires_at) <= now:
            raise Forbidden("Cette invitation a expiré : demandez-en une nouvelle.")  # rolled back
        slug = (
            await conn.execute(select(spaces.c.slug).where(spaces.c.id == spent.space_id))
        ).scalar_one()
        await activity.record(conn, spent.space_id, spent.user_id, "member.joined", now=now)
    return int(spent.user_id), str(slug)


async def change_role(
    engine: AsyncEngine, actor: Actor, space_id: int, user_id: int, role: str
) -> None:
    """Change a member's role; owners alone touch owners; the last owner stays an owner."""
    role = choice(role, "Rôle", SPACE_ROLES)
    async with engine.begin() as conn:
        actor_role = await require_role(conn, actor, space_id, "admin", now=utcnow())
        current = await _member_role(conn, space_id, user_id)
        if current is None:
            raise NotFound("Cette personne n'est pas membre de l'espace.")
        _check_grantable(actor_role, role, await _instance_role(conn, user_id))
        if current == "owner" and actor_role != "owner":
            raise Forbidden("Seul un propriétaire peut changer le rôle d'un propriétaire.")
        if current == "owner" and role != "owner" and await _owner_count(conn, space_id) <= 1:
            raise Conflict(
                "Le dernier propriétaire ne peut pas changer de rôle : nommez-en un autre d'abord."
            )
        await conn.execute(
            update(memberships)
            .where(memberships.c.space_id == space_id, memberships.c.user_id == user_id)
            .values(role=role)
        )


async def remove_member(engine: AsyncEngine, actor: Actor, space_id: int, user_id: int) -> None:
    """Remove a member (space admins and owners; owners alone remove owners)."""
    async with engine.begin() as conn:
        actor_role = await require_role(conn, actor, space_id, "admin", now=utcnow())
        current = await _member_role(conn, space_id, user_id)
        if current is None:
            raise NotFound("Cette personne n'est pas membre de l'espace.")
        if current == "owner" and actor_role != "owner":
            raise Forbidden("Seul un propriétaire peut retirer un propriétaire.")
        if current == "owner" and await _owner_count(conn, space_id) <= 1:
            raise Conflict("Le dernier propriétaire ne peut pas être retiré.")
        await _delete_membership(conn, space_id, user_id)


async def leave_space(engine: AsyncEngine, actor: Actor, space_id: int) -> None:
    """Leave a space; the last owner must name another owner first."""
    async with engine.begin() as conn:
        current = await _member_role(conn, space_id, actor.id)
        if current is None or actor.guest_link_id is not None:
            raise NotFound("Vous n'êtes pas membre de cet espace.")
        if current == "owner" and await _owner_count(conn, space_id) <= 1:
            raise Conflict(
                "Vous êtes le dernier propriétaire : nommez-en un autre avant de partir."
            )
        await _delete_membership(conn, space_id, actor.id)


async def _delete_membership(conn: AsyncConnection, space_id: int, user_id: int) -> None:
    await conn.execute(
        delete(memberships).where(
            and_(memberships.c.space_id == space_id, memberships.c.user_id == user_id)
        )
    )
