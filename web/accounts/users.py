"""User accounts: look up, create, change; no HTTP here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from web.auth.passwords import hash_password
from web.auth.sessions import SessionStore, now_utc, utc
from web.local_time import is_zone
from web.schema import users

ROLES = ("admin", "agent", "guest")
STATUSES = ("active", "pending", "unconfirmed", "refused", "deactivated")
# Deliberately simple: one @, a dot in the domain, no spaces; the mail itself proves the rest.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
MAX_NAME = 200


class AccountError(ValueError):
    """An account operation cannot be done; the message (French source) says why."""


@dataclass(frozen=True)
class User:
    """A user account as the app sees it."""

    id: int
    email: str
    display_name: str
    organisation: str
    role: str
    status: str
    locale: str
    password_hash: str | None
    oidc_subject: str | None
    created_at: datetime
    last_login_at: datetime | None
    time_zone: str | None = None  # None: Europe/Paris (web/local_time.py)

    @property
    def is_active(self) -> bool:
        return self.status == "active"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_is_valid(email: str) -> bool:
    return len(email) <= 320 and _EMAIL.fullmatch(email) is not None


def email_domain(email: str) -> str:
    return normalise_email(email).rpartition("@")[2]


def domain_allowed(email: str, domains: tuple[str, ...]) -> bool:
    """True when the address is in one of `domains` or their subdomains."""
    domain = email_domain(email)
    return any(domain == d or domain.endswith("." + d) for d in domains)


def _user(row: Row[tuple[object, ...]]) -> User:
    m = row._mapping
    return User(
        id=m["id"],
        email=m["email"],
        display_name=m["display_name"],
        organisation=m["organisation"],
        role=m["role"],
        status=m["status"],
        locale=m["locale"],
        password_hash=m["password_hash"],
        oidc_subject=m["oidc_subject"],
        created_at=utc(m["created_at"]),
        last_login_at=None if m["last_login_at"] is None else utc(m["last_login_at"]),
        time_zone=m.get("time_zone"),
    )


async def get_user(engine: AsyncEngine, user_id: int) -> User | None:
    async with engine.connect() as connection:
        row = (await connection.execute(select(users).where(users.c.id == user_id))).first()
    return None if row is None else _user(row)


async def find_by_email(engine: AsyncEngine, email: str) -> User | None:
    async with engine.connect() as connection:
        query = select(users).where(users.c.email == normalise_email(email))
        row = (await connection.execute(query)).first()
    return None if row is None else _user(row)


async def find_by_oidc_subject(engine: AsyncEngine, subject: str) -> User | None:
    async with engine.connect() as connection:
        row = (
            await connection.execute(select(users).where(users.c.oidc_subject == subject))
        ).first()
    return None if row is None else _user(row)


async def list_users(
    engine: AsyncEngine,
    *,
    status: str | None = None,
    statuses: tuple[str, ...] = (),
    search: str = "",
    limit: int | None = None,
) -> list[User]:
    """Accounts by name; `search` matches name, address or organisation (case-insensitive)."""
    query = select(users).order_by(func.lower(users.c.display_name), users.c.id)
    if status is not None:
        query = query.where(users.c.status == status)
    if statuses:
        query = query.where(users.c.status.in_(statuses))
    if search.strip():
        # What the admin types is matched literally: LIKE wildcards are escaped.
        words = search.strip().lower()
        for char in "\\%_":
            words = words.replace(char, "\\" + char)
        pattern = f"%{words}%"
        query = query.where(
            func.lower(users.c.display_name).like(pattern, escape="\\")
            | func.lower(users.c.email).like(pattern, escape="\\")
            | func.lower(users.c.organisation).like(pattern, escape="\\")
        )
    if limit is not None:
        query = query.limit(limit)
    async with engine.connect() as connection:
        return [_user(row) for row in await connection.execute(query)]


async def count_users(connection: AsyncConnection) -> int:
    return int((await connection.execute(select(func.count()).select_from(users))).scalar_one())


def check_profile(email: str, display_name: str) -> None:
    if not email_is_valid(email):
        raise AccountError("Cette adresse électronique n'est pas valide.")
    if not display_name.strip():
        raise AccountError("Indiquez votre nom.")
    if len(display_name) > MAX_NAME:
        raise AccountError("Ce nom est trop long (200 caractères au plus).")


async def create_user(
    engine: AsyncEngine,
    *,
    email: str,
    display_name: str,
    password: str | None = None,
    role: str = "agent",
    status: str = "active",
    organisation: str = "",
    locale: str = "fr",
    oidc_subject: str | None = None,
) -> int:
    """Create an account; raise AccountError when the address is taken or invalid."""
    email = normalise_email(email)
    check_profile(email, display_name)
    if role not in ROLES or status not in STATUSES:
        raise AccountError("Rôle ou état de compte inconnu.")
    password_hash = None if password is None else await hash_password(password)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(
                users.insert().values(
                    email=email,
                    display_name=display_name.strip(),
                    organisation=organisation.strip()[:MAX_NAME],
                    password_hash=password_hash,
                    role=role,
                    status=status,
                    locale=locale,
                    oidc_subject=oidc_subject,
                    created_at=now_utc(),
                )
            )
    except IntegrityError:
        raise AccountError("Un compte existe déjà avec cette adresse.") from None
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def set_password(engine: AsyncEngine, user_id: int, password: str) -> None:
    password_hash = await hash_password(password)
    async with engine.begin() as connection:
        await connection.execute(
            update(users).where(users.c.id == user_id).values(password_hash=password_hash)
        )


async def set_profile(
    engine: AsyncEngine,
    user_id: int,
    *,
    display_name: str,
    organisation: str,
    time_zone: str | None = None,
) -> None:
    """Change the name and organisation people see (directory, carets, member lists) and,
    when given, the time zone times are shown in (an IANA name, web/local_time.py)."""
    display_name = display_name.strip()
    if not display_name:
        raise AccountError("Indiquez votre nom.")
    if len(display_name) > MAX_NAME or len(organisation.strip()) > MAX_NAME:
        raise AccountError("Ce nom est trop long (200 caractères au plus).")
    values: dict[str, str] = {"display_name": display_name, "organisation": organisation.strip()}
    if time_zone is not None:
        if not is_zone(time_zone):
            raise AccountError("Choisissez un fuseau horaire de la liste.")
        values["time_zone"] = time_zone
    async with engine.begin() as connection:
        await connection.execute(update(users).where(users.c.id == user_id).values(**values))


async def set_locale(engine: AsyncEngine, user_id: int, locale: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(update(users).where(users.c.id == user_id).values(locale=locale))


async def touch_login(engine: AsyncEngine, user_id: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(users).where(users.c.id == user_id).values(last_login_at=now_utc())
        )


async def set_status(
    sessions: SessionStore, user_id: int, status: str, *, reviewed_by: int | None = None
) -> None:
    """Change an account's status; leaving 'active' ends all its sessions and live sockets
    at once."""
    engine = sessions.engine
    if status not in STATUSES:
        raise AccountError("État de compte inconnu.")
    values: dict[str, object] = {"status": status}
    if reviewed_by is not None:
        values["reviewed_by"] = reviewed_by
    async with engine.begin() as connection:
        await connection.execute(update(users).where(users.c.id == user_id).values(**values))
    if status != "active":
        await sessions.revoke_all(user_id)


async def set_role(engine: AsyncEngine, user_id: int, role: str) -> None:
    if role not in ROLES:
        raise AccountError("Rôle inconnu.")
    async with engine.begin() as connection:
        await connection.execute(update(users).where(users.c.id == user_id).values(role=role))


async def count_pending(engine: AsyncEngine) -> int:
    """Registrations waiting for an administrator's decision."""
    query = select(func.count()).select_from(users).where(users.c.status == "pending")
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


async def count_active_admins(engine: AsyncEngine) -> int:
    query = (
        select(func.count())
        .select_from(users)
        .where(users.c.role == "admin", users.c.status == "active")
    )
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())
