"""Closing live sockets when access ends: on this worker at once, on the others over the bus.

A revocation names a socket principal ("guest-link:5", "user:12") and optionally the
documents it applies to; every worker closes the matching connections of its rooms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from realtime.bus import Bus
from realtime.rooms import Connection, DocumentRooms
from web.spaces.tables import guest_links

log = logging.getLogger("atelier.spaces")

CHANNEL = "atelier:revocations"
# y-websocket never reconnects after a 44xx close: for access that is gone for good.
FORBIDDEN = 4403
# Any other code makes it reconnect at once, and get a grant for its new role.
RECONNECT = 4100


@dataclass(frozen=True)
class Revocation:
    """Close the sockets of `principal` (any, when None) on `documents` (all, when None)."""

    reason: str
    principal: str | None = None
    documents: tuple[str, ...] | None = None
    code: int = FORBIDDEN

    def matches(self, document: str, principal: str) -> bool:
        if self.principal is not None and principal != self.principal:
            return False
        return self.documents is None or document in self.documents

    def encode(self) -> bytes:
        return json.dumps(
            {
                "reason": self.reason,
                "principal": self.principal,
                "documents": None if self.documents is None else list(self.documents),
                "code": self.code,
            }
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> Revocation:
        raw = json.loads(data)
        documents = raw.get("documents")
        return cls(
            str(raw["reason"]),
            None if raw.get("principal") is None else str(raw["principal"]),
            None if documents is None else tuple(str(d) for d in documents),
            int(raw.get("code", FORBIDDEN)),
        )


def close_local(rooms: DocumentRooms, revocation: Revocation) -> int:
    """Close this worker's matching connections; returns how many."""
    return rooms.close_connections(
        lambda document, conn: revocation.matches(document, conn.principal),
        revocation.code,
        revocation.reason,
    )


def revoke(rooms: DocumentRooms, bus: Bus | None, revocation: Revocation) -> int:
    """Close matching sockets here and tell the other workers to do the same."""
    closed = close_local(rooms, revocation)
    if bus is not None:
        bus.publish(CHANNEL, revocation.encode())
    return closed


async def listen(bus: Bus, rooms: DocumentRooms) -> None:
    """Apply the revocations other workers publish (call once the bus has started)."""

    def on_message(data: bytes) -> None:
        try:
            revocation = Revocation.decode(data)
        except (ValueError, KeyError, TypeError):
            log.warning("bus: ignoring a malformed revocation")
            return
        close_local(rooms, revocation)

    await bus.subscribe(CHANNEL, on_message)


# A guest link that expires while its guest is connected closes within this many seconds.
WATCH_SECONDS = 5.0


def _link_ids(rooms: DocumentRooms) -> set[int]:
    found: set[int] = set()

    def record(_document: str, conn: Connection) -> bool:
        prefix, _, number = conn.principal.partition(":")
        if prefix == "guest-link" and number.isdigit():
            found.add(int(number))
        return False  # only looking

    rooms.close_connections(record, FORBIDDEN, "")
    return found


async def close_dead_links(
    engine: AsyncEngine, rooms: DocumentRooms, now: datetime | None = None
) -> int:
    """Close this worker's sockets opened through links that expired (or were revoked)."""
    ids = _link_ids(rooms)
    if not ids:
        return 0
    now = now or datetime.now(UTC)
    async with engine.connect() as conn:
        live = set(
            (
                await conn.execute(
                    select(guest_links.c.id).where(
                        guest_links.c.id.in_(ids),
                        guest_links.c.revoked_at.is_(None),
                        guest_links.c.expires_at > now,
                    )
                )
            ).scalars()
        )
    closed = 0
    for link_id in ids - live:
        closed += close_local(rooms, Revocation("guest link expired", f"guest-link:{link_id}"))
    return closed


@contextlib.asynccontextmanager
async def watching_guest_links(
    engine: AsyncEngine, rooms: DocumentRooms, every: float = WATCH_SECONDS
) -> AsyncIterator[None]:
    """While open, close sockets of expired guest links every few seconds."""

    async def watch() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await close_dead_links(engine, rooms)
            except Exception:
                log.warning("could not check guest links", exc_info=True)

    task = asyncio.create_task(watch(), name="guest-link-watch")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
