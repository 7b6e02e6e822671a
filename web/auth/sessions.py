"""Server-side sessions behind a signed cookie: open, look up (sliding expiry), revoke.

The cookie carries a random secret signed with the instance key; the database keeps only the
secret's sha256 as the session id, so a leaked table cannot be replayed as cookies.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, Signer
from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from plumbing.sockets import AccessChange, AccessChanges
from web.live_access import SIGNED_OUT, link_tag, session_tag, user_tag
from web.schema import sessions, users

COOKIE_NAME = "atelier_session"
_SALT = "atelier.session.v1"
# A session's expiry is pushed forward at most this often, to keep reads read-only.
_REFRESH_EVERY = timedelta(minutes=5)
_MAX_COOKIE = 512
_KEEP_ENDED = timedelta(days=30)


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes: they are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


def session_id_of(secret_part: str) -> str:
    return hashlib.sha256(secret_part.encode()).hexdigest()


@dataclass(frozen=True)
class SessionRow:
    """What a valid session cookie leads to."""

    session_id: str
    user_id: int
    email: str
    display_name: str
    role: str
    locale: str
    guest_link_id: int | None
    expires_at: datetime
    refreshed: bool  # expiry pushed forward now: the cookie should be sent again
    time_zone: str | None = None  # the zone the person chose; None: Europe/Paris


class SessionStore:
    """Sessions of one instance: the engine, the signing key and the sliding lifetime."""

    def __init__(
        self,
        engine: AsyncEngine,
        secret: str,
        lifetime: timedelta,
        changes: AccessChanges | None = None,
    ) -> None:
        self.engine = engine
        self.lifetime = lifetime
        self._signer = Signer(secret, salt=_SALT)
        # Ending sessions closes the live sockets opened with them, on every worker.
        self._changes = changes

    async def _close_sockets(self, *tags: str, reason: str, keep: str | None = None) -> None:
        if self._changes is not None:
            kept = frozenset() if keep is None else frozenset({session_tag(keep)})
            await self._changes.publish(
                AccessChange(frozenset(tags), reason, close=SIGNED_OUT, keep=kept)
            )

    def _sign(self, secret_part: str) -> str:
        return self._signer.sign(secret_part).decode()

    def session_id(self, cookie_value: str) -> str | None:
        """The session id a cookie names, or None when it is forged or malformed."""
        if not cookie_value or len(cookie_value) > _MAX_COOKIE:
            return None
        try:
            secret_part = self._signer.unsign(cookie_value).decode()
        except (BadSignature, UnicodeDecodeError):
            return None
        return session_id_of(secret_part)

    async def open(
        self,
        user_id: int,
        user_agent: str = "",
        *,
        guest_link_id: int | None = None,
        now: datetime | None = None,
    ) -> str:
        """Open a session for `user_id`; return the cookie value."""
        now = now or now_utc()
        secret_part = secrets.token_urlsafe(32)
        async with self.engine.begin() as connection:
            # The user's sessions that ended long ago are of no use: dropped as we go.
            await connection.execute(
                delete(sessions).where(
                    sessions.c.user_id == user_id, sessions.c.expires_at < now - _KEEP_ENDED
                )
            )
            await connection.execute(
                sessions.insert().values(
                    id=session_id_of(secret_part),
                    user_id=user_id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.lifetime,
                    user_agent=user_agent[:300],
                    guest_link_id=guest_link_id,
                )
            )
        return self._sign(secret_part)

    async def lookup(self, cookie_value: str, now: datetime | None = None) -> SessionRow | None:
        """The live session and active user behind a cookie, extending its expiry."""
        session_id = self.session_id(cookie_value)
        if session_id is None:
            return None
        return await self.live(session_id, now, extend=True)

    async def live(
        self, session_id: str, now: datetime | None = None, *, extend: bool = False
    ) -> SessionRow | None:
        """The session `session_id` and its user as they are now, if both are still live
        (what a socket opened with it checks again when access changes)."""
        now = now or now_utc()
        query = (
            select(
                sessions.c.user_id,
                sessions.c.expires_at,
                sessions.c.last_seen_at,
                sessions.c.revoked_at,
                sessions.c.guest_link_id,
                users.c.email,
                users.c.display_name,
                users.c.role,
                users.c.locale,
                users.c.time_zone,
                users.c.status,
            )
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.id == session_id)
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None or row.revoked_at is not None or row.status != "active":
            return None
        expires_at = utc(row.expires_at)
        if expires_at <= now:
            return None
        refreshed = extend and now - utc(row.last_seen_at) >= _REFRESH_EVERY
        if refreshed:
            expires_at = now + self.lifetime
            async with self.engine.begin() as connection:
                await connection.execute(
                    update(sessions)
                    .where(and_(sessions.c.id == session_id, sessions.c.revoked_at.is_(None)))
                    .values(last_seen_at=now, expires_at=expires_at)
                )
        return SessionRow(
            session_id=session_id,
            user_id=row.user_id,
            email=row.email,
            display_name=row.display_name,
            role=row.role,
            locale=row.locale,
            guest_link_id=row.guest_link_id,
            expires_at=expires_at,
            refreshed=refreshed,
            time_zone=row.time_zone,
        )

    async def revoke(self, session_id: str, now: datetime | None = None) -> None:
        """End one session (sign out), and its live sockets."""
        async with self.engine.begin() as connection:
            await connection.execute(
                update(sessions)
                .where(and_(sessions.c.id == session_id, sessions.c.revoked_at.is_(None)))
                .values(revoked_at=now or now_utc())
            )
        await self._close_sockets(session_tag(session_id), reason="signed out")

    async def revoke_all(
        self, user_id: int, *, keep: str | None = None, now: datetime | None = None
    ) -> int:
        """End every session of a user (except `keep`) and their live sockets; return how
        many sessions were live."""
        condition = and_(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
        if keep is not None:
            condition = and_(condition, sessions.c.id != keep)
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(sessions).where(condition).values(revoked_at=now or now_utc())
            )
        await self._close_sockets(user_tag(user_id), reason="signed out", keep=keep)
        return int(result.rowcount or 0)

    async def revoke_guest_link(self, guest_link_id: int, now: datetime | None = None) -> int:
        """End every session opened through a guest link (when the link is revoked), and its
        live sockets."""
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(sessions)
                .where(
                    and_(
                        sessions.c.guest_link_id == guest_link_id,
                        sessions.c.revoked_at.is_(None),
                    )
                )
                .values(revoked_at=now or now_utc())
            )
        # 4403, not 4401: signing in again will not bring the link back.
        if self._changes is not None:
            change = AccessChange(frozenset({link_tag(guest_link_id)}), "guest link revoked", 4403)
            await self._changes.publish(change)
        return int(result.rowcount or 0)
