"""Access ends (or narrows) on live sockets the moment it is taken away, on every worker.

Each socket the web app authorises (`/sync`, `/visio`, `/live`) carries tags naming what its
access rests on: the session it was opened with, the user, the space, the guest link, the
document. Whatever changes access publishes an `AccessChange` for those tags through
`plumbing.sockets`: sockets of an ended session, a deactivated account or a revoked link are
closed at once; after a role change, a page moved to the trash or a space archived, each
matching socket asks its authoriser again (and turns read-only, stays, or closes).

A watch also closes, every few seconds, the sockets whose session or guest link expired
meanwhile (or whose ending a worker missed while Redis was away).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection

from plumbing.sockets import AccessChange, AccessChanges, LiveSockets
from web.schema import sessions, users
from web.spaces.tables import guest_links

log = logging.getLogger("atelier.access")

# y-websocket and the meeting client never reconnect after a 44xx close: for access that is
# gone for good. 4401: signed out (sign in again); 4403: refused.
SIGNED_OUT = 4401
FORBIDDEN = 4403
# Sockets whose session or guest link expired are closed within this many seconds.
WATCH_SECONDS = 5.0


def session_tag(session_id: str) -> str:
    return f"session:{session_id}"


def user_tag(user_id: int) -> str:
    return f"user:{user_id}"


def space_tag(space_id: int) -> str:
    return f"space:{space_id}"


def link_tag(link_id: int) -> str:
    return f"guest-link:{link_id}"


def doc_tag(doc_name: str) -> str:
    return f"doc:{doc_name}"


def person_tags(user_id: int, session_id: str, guest_link_id: int | None) -> frozenset[str]:
    """The tags of a signed-in person's sockets: their session, account and guest link."""
    tags = {session_tag(session_id), user_tag(user_id)}
    if guest_link_id is not None:
        tags.add(link_tag(guest_link_id))
    return frozenset(tags)


def changes_of(connection: HTTPConnection) -> AccessChanges:
    changes: AccessChanges = connection.app.state.access
    return changes


async def recheck(connection: HTTPConnection, *tags: str, reason: str) -> int:
    """Sockets carrying all `tags` check their access again, here and on every worker."""
    return await changes_of(connection).publish(AccessChange(frozenset(tags), reason))


async def cut(
    connection: HTTPConnection,
    *tags: str,
    reason: str,
    code: int = FORBIDDEN,
    keep: Iterable[str] = (),
) -> int:
    """Close the sockets carrying all `tags` (but any of `keep`), here and on every worker."""
    change = AccessChange(frozenset(tags), reason, close=code, keep=frozenset(keep))
    return await changes_of(connection).publish(change)


def _ids(tags: set[str], prefix: str) -> set[str]:
    return {tag.removeprefix(prefix) for tag in tags}


async def close_expired(engine: AsyncEngine, live: LiveSockets, now: datetime | None = None) -> int:
    """Close this worker's sockets whose session or guest link is no longer live."""
    session_ids = _ids(live.tags_starting("session:"), "session:")
    link_ids = {int(i) for i in _ids(live.tags_starting("guest-link:"), "guest-link:")}
    if not session_ids and not link_ids:
        return 0
    now = now or datetime.now(UTC)
    async with engine.connect() as conn:
        live_sessions: set[str] = set()
        if session_ids:
            query = (
                select(sessions.c.id)
                .join(users, users.c.id == sessions.c.user_id)
                .where(
                    sessions.c.id.in_(session_ids),
                    sessions.c.revoked_at.is_(None),
                    sessions.c.expires_at > now,
                    users.c.status == "active",
                )
            )
            live_sessions = set((await conn.execute(query)).scalars())
        live_links: set[int] = set()
        if link_ids:
            query = select(guest_links.c.id).where(
                guest_links.c.id.in_(link_ids),
                guest_links.c.revoked_at.is_(None),
                guest_links.c.expires_at > now,
            )
            live_links = set((await conn.execute(query)).scalars())
    closed = 0
    for session_id in session_ids - live_sessions:
        change = AccessChange(frozenset({session_tag(session_id)}), "session ended", SIGNED_OUT)
        closed += await live.apply(change)
    for link_id in link_ids - live_links:
        change = AccessChange(frozenset({link_tag(link_id)}), "guest link expired", FORBIDDEN)
        closed += await live.apply(change)
    return closed


@contextlib.asynccontextmanager
async def watching_expiries(
    engine: AsyncEngine, live: LiveSockets, every: float = WATCH_SECONDS
) -> AsyncIterator[None]:
    """While open, close the sockets of expired sessions and guest links every few seconds."""

    async def watch() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await close_expired(engine, live)
            except Exception:
                log.warning("could not check live sockets' sessions and links", exc_info=True)

    task = asyncio.create_task(watch(), name="access-watch")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
