"""The administrators' network: run-time instance settings, administrators and the log.

Only settings that the code reads on every use are changeable here (a row in
`instance_settings` overrides the environment value, which stays the initial one):

- `signup_domains`: e-mail domains whose people register themselves (registration, OpenID
  Connect first sign-in, the sign-up page);
- `signup_open`: whether the sign-up form takes registrations at all.

Every change an administrator makes (these settings, roles, registrations, accounts) is a row
of `admin_audit`: who, when, what. No HTTP here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from web.auth.sessions import now_utc, utc
from web.config import Settings, SettingsError
from web.schema import admin_audit, instance_settings, users
from web.setting_types import parse_domains as domain_list

MAX_DOMAINS = 100
AUDIT_PAGE = 100


@dataclass(frozen=True)
class InstanceSettings:
    """The run-time settings as they are now."""

    signup_domains: tuple[str, ...]
    signup_open: bool


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor_name: str
    action: str  # setting | role | registration | status | account
    subject: str
    before: str
    after: str


@dataclass(frozen=True)
class Admin:
    id: int
    email: str
    display_name: str


def parse_domains(raw: str) -> tuple[str, ...]:
    """Domains from a text (commas, spaces or lines between them); SettingsError when bad."""
    names = domain_list(",".join(raw.replace("\n", ",").replace(" ", ",").split(",")))
    unique = tuple(dict.fromkeys(names))
    if len(unique) > MAX_DOMAINS:
        raise SettingsError(f"at most {MAX_DOMAINS} domains")
    return unique


def _encode(name: str, value: object) -> str:
    if name == "signup_domains":
        assert isinstance(value, tuple)
        return ",".join(value)
    return "true" if value else "false"


def _decode(name: str, raw: str) -> object:
    if name == "signup_domains":
        return parse_domains(raw)
    return raw == "true"


async def current(engine: AsyncEngine, settings: Settings) -> InstanceSettings:
    """The environment's values overridden by what administrators changed."""
    async with engine.connect() as connection:
        rows = (await connection.execute(select(instance_settings))).all()
    values: dict[str, Any] = {
        "signup_domains": settings.signup_domains,
        "signup_open": settings.signup_open,
    }
    for row in rows:
        if row.name in values:
            try:
                values[row.name] = _decode(row.name, row.value)
            except SettingsError:
                pass  # a value the code no longer accepts: the environment's
    return InstanceSettings(**values)


async def log(
    connection: AsyncConnection,
    actor_id: int,
    actor_name: str,
    action: str,
    subject: str = "",
    before: str = "",
    after: str = "",
    now: datetime | None = None,
) -> None:
    """Add a line to the administrators' log, in the caller's transaction."""
    await connection.execute(
        insert(admin_audit).values(
            at=now or now_utc(),
            actor_id=actor_id,
            actor_name=actor_name[:200],
            action=action,
            subject=subject[:320],
            before=before,
            after=after,
        )
    )


async def record(
    engine: AsyncEngine,
    actor_id: int,
    actor_name: str,
    action: str,
    *,
    subject: str = "",
    before: str = "",
    after: str = "",
) -> None:
    """`log` in a transaction of its own (after a change made elsewhere)."""
    async with engine.begin() as connection:
        await log(connection, actor_id, actor_name, action, subject, before, after)


async def change(
    engine: AsyncEngine,
    settings: Settings,
    actor_id: int,
    actor_name: str,
    new: InstanceSettings,
    now: datetime | None = None,
) -> list[str]:
    """Store the settings that differ from the current ones, each logged; their names."""
    now = now or now_utc()
    old = await current(engine, settings)
    changed: list[str] = []
    async with engine.begin() as connection:
        for name in ("signup_domains", "signup_open"):
            before, after = getattr(old, name), getattr(new, name)
            if before == after:
                continue
            value = _encode(name, after)
            done = await connection.execute(
                update(instance_settings)
                .where(instance_settings.c.name == name)
                .values(value=value, updated_at=now, updated_by=actor_id)
            )
            if done.rowcount == 0:
                await connection.execute(
                    insert(instance_settings).values(
                        name=name, value=value, updated_at=now, updated_by=actor_id
                    )
                )
            await log(
                connection,
                actor_id,
                actor_name,
                "setting",
                name,
                _encode(name, before),
                value,
                now,
            )
            changed.append(name)
    return changed


async def recent(engine: AsyncEngine, limit: int = AUDIT_PAGE) -> list[AuditEntry]:
    """The latest lines of the log, newest first."""
    query = select(admin_audit).order_by(admin_audit.c.at.desc(), admin_audit.c.id.desc())
    async with engine.connect() as connection:
        rows = (await connection.execute(query.limit(limit))).all()
    return [
        AuditEntry(utc(r.at), r.actor_name, r.action, r.subject, r.before, r.after) for r in rows
    ]


async def admins(engine: AsyncEngine) -> list[Admin]:
    """The active administrators, by name."""
    query = (
        select(users.c.id, users.c.email, users.c.display_name)
        .where(and_(users.c.role == "admin", users.c.status == "active"))
        .order_by(users.c.display_name, users.c.id)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [Admin(r.id, r.email, r.display_name) for r in rows]


async def set_role(engine: AsyncEngine, user_id: int, role: str) -> bool:
    """Give an account a role; False when that would leave the instance with no active admin.

    One statement checks and changes, so two administrators removing each other at the same
    moment cannot both succeed.
    """
    statement = update(users).where(users.c.id == user_id).values(role=role)
    if role != "admin":
        other = users.alias("other_admin")
        others = (
            select(func.count())
            .select_from(other)
            .where(and_(other.c.role == "admin", other.c.status == "active", other.c.id != user_id))
            .scalar_subquery()
        )
        statement = statement.where(others > 0)
    async with engine.begin() as connection:
        # On PostgreSQL, a second removal waits here for the first and then counts again.
        await connection.execute(
            select(users.c.id)
            .where(and_(users.c.role == "admin", users.c.status == "active"))
            .with_for_update()
        )
        done = await connection.execute(statement)
    return done.rowcount == 1
