"""The WebSocket route `/sync/{doc}`: authorise, then pump bytes between socket and room."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.websockets import WebSocket

from plumbing.ratelimit import TokenBucket
from plumbing.sockets import LiveSockets
from plumbing.websocket import SocketRefused, websocket_session
from plumbing.wsframe import DIRECT_EXTENSION, DirectSocket
from realtime.errors import RealtimeError
from realtime.rooms import Connection, DocumentRooms

log = logging.getLogger("atelier.sync")

# Letters, digits and a few separators; slashes allow names such as "space/page".
DOCUMENT_NAME = re.compile(r"^[\w][\w.:@/-]{0,511}$")
# y-websocket never reconnects after a 44xx close: for access that is gone for good.
ACCESS_ENDED = 4403


class Access(enum.Enum):
    """What a connection may do with a document."""

    WRITE = "rw"
    READ = "ro"


class AccessRefused(RealtimeError, SocketRefused):
    """Authorisation failed: close with `code` (4401 no credentials, 4403 forbidden)."""


@dataclass(frozen=True)
class Grant:
    """The outcome of authorisation: what the connection may do, and what that rests on.

    `tags` name what the access rests on ("session:…", "user:12", "space:3", "guest-link:5"),
    so that ending a session or lowering a role reaches exactly the sockets it concerns (see
    `plumbing.sockets`). `recheck` authorises the same connection again when access may have
    changed: a new grant (write or read-only), None when access is gone, or `AccessRefused`.
    """

    access: Access
    tags: frozenset[str] = frozenset()
    recheck: Callable[[], Awaitable[Grant | None]] | None = field(default=None, compare=False)


Authorizer = Callable[[WebSocket, str], Awaitable[Grant]]


@dataclass(frozen=True)
class EndpointLimits:
    """Per-connection limits (from settings)."""

    max_message_bytes: int = 4 * 2**20
    rate_messages: float = 300.0
    rate_burst: float = 1500.0


class SyncSocket:
    """A `/sync` connection as the registry of live sockets sees it."""

    def __init__(self, rooms: DocumentRooms, name: str, conn: Connection, grant: Grant) -> None:
        self.tags = grant.tags | {f"doc:{name}"}
        self._rooms = rooms
        self._name = name
        self._conn = conn
        self._recheck = grant.recheck

    def close(self, code: int, reason: str) -> None:
        self._conn.close(code, reason)

    async def recheck(self, reason: str) -> None:
        if self._recheck is None or self._conn.closing:
            return
        try:
            grant = await self._recheck()
        except AccessRefused as refused:
            self.close(refused.code, refused.reason)
            return
        if grant is None:
            self.close(ACCESS_ENDED, reason)
        else:
            self._rooms.set_writable(self._name, self._conn, grant.access is Access.WRITE)


class SyncEndpoint:
    """An ASGI WebSocket endpoint speaking the y-websocket protocol."""

    def __init__(
        self,
        rooms: DocumentRooms,
        authorize: Authorizer,
        limits: EndpointLimits,
        sockets: LiveSockets | None = None,
    ):
        self._rooms = rooms
        self._authorize = authorize
        self._limits = limits
        self._sockets = sockets if sockets is not None else LiveSockets()

    async def handle(self, websocket: WebSocket) -> None:
        await websocket_session(
            websocket,
            name="doc",
            pattern=DOCUMENT_NAME,
            what="document",
            session=self._session,
            log=log,
        )

    async def _session(self, websocket: WebSocket, name: str) -> None:
        grant = await self._authorize(websocket, name)  # AccessRefused closes with its code
        direct: DirectSocket | None = websocket.scope.get("extensions", {}).get(DIRECT_EXTENSION)
        conn = self._rooms.new_connection(websocket.send_bytes, websocket.close, direct=direct)
        live = SyncSocket(self._rooms, name, conn, grant)
        # Registered before the (maybe slow) load, so that no access change falls in between.
        self._sockets.add(live)
        try:
            await self._rooms.join(name, conn, writable=grant.access is Access.WRITE)
        except Exception:
            log.exception("document %s: could not be loaded", name)
            self._sockets.discard(live)
            await conn.stop()
            raise SocketRefused(1011, "document unavailable; retrying") from None

        limits = self._limits
        bucket = TokenBucket(limits.rate_messages, limits.rate_burst, time.monotonic())
        rooms = self._rooms

        def on_message(data: bytes | None) -> None:
            """One message from the client: checked, then given to the room."""
            if conn.closing:
                return
            refusal: tuple[int, str] | None = None
            if data is None:
                refusal = (1003, "text frames are not part of the y-websocket protocol")
            elif len(data) > limits.max_message_bytes:
                refusal = (1009, f"message larger than {limits.max_message_bytes} bytes")
            elif not bucket.take(time.monotonic()):
                refusal = (1008, "too many messages: slow down")
            if refusal is not None:
                log.warning("document %s: closing connection %d: %s", name, conn.id, refusal[1])
                conn.close(*refusal)
                return
            assert data is not None
            rooms.receive(name, conn, data)

        try:
            if direct is not None:
                # Messages now reach on_message as they are parsed; only the end comes here.
                direct.set_receiver(on_message)
            while not conn.closed.is_set():
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                on_message(message.get("bytes"))
        except RuntimeError:  # receiving after the connection closed under us
            pass
        finally:
            self._sockets.discard(live)
            if conn.closing and not conn.closed.is_set():
                # Let the writer send the close frame with its code and reason.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(conn.closed.wait(), timeout=1.0)
            await self._rooms.leave(name, conn)
