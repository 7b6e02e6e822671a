"""The WebSocket route `/visio/{room}`: authorise, then pump JSON messages to and from the SFU.

Who may join is the web app's answer (an `Authorizer` giving an `Admission`, as `/sync` takes
one giving a `Grant`); refusals close with 4401 (no credentials) or 4403 (forbidden). Every
connection joins the registry of live sockets with its admission's tags, so that ending a
session or a membership closes it, and a changed role makes it rejoin with the new one.
With `ATELIER_VISIO_MODE=signaling` and no live SFU node, a join closes with 1013 (retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from starlette.websockets import WebSocket, WebSocketDisconnect

from plumbing.ratelimit import TokenBucket
from plumbing.sockets import LiveSockets
from plumbing.websocket import SocketRefused, websocket_session
from sfu.cluster import MediaServerUnavailable
from sfu.errors import SfuError, SignalingError
from sfu.node import RemoteMember, SfuNode
from sfu.room import MODES, Newcomer
from sfu.room_runtime import Member
from sfu.signaling import ServerMessage, parse_client

log = logging.getLogger("atelier.visio")

ROOM_NAME = re.compile(r"^(space-[1-9][0-9]{0,9}|meet-[a-z0-9][a-z0-9-]{2,62})$")
SEND_QUEUE = 500
RATE_MESSAGES = 50.0
RATE_BURST = 200.0
# Closed with this, the meeting client joins again at once (see RECONNECT_CODES in client.ts).
ROLE_CHANGED = 4100


class VisioRefused(SfuError, SocketRefused):
    """Refused or ended: close with `code` (4401 no credentials, 4403 forbidden...)."""


@dataclass(frozen=True)
class Admission:
    """Who a connection is in a meeting, what that rests on, and how to check it again.

    `recheck` answers the same question later: the newcomer it would be now, None when access
    is gone, or `VisioRefused`.
    """

    newcomer: Newcomer
    tags: frozenset[str] = frozenset()
    recheck: Callable[[], Awaitable[Newcomer | None]] | None = field(default=None, compare=False)


Authorizer = Callable[[WebSocket, str], Awaitable[Admission]]


class MeetingSocket:
    """A `/visio` connection as the registry of live sockets sees it."""

    def __init__(self, member: Member | RemoteMember, room: str, admission: Admission) -> None:
        self.tags = admission.tags | {f"meeting:{room}"}
        self._member = member
        self._role = admission.newcomer.role
        self._recheck = admission.recheck

    def close(self, code: int, reason: str) -> None:
        self._member.close(code, reason)

    async def recheck(self, reason: str) -> None:
        if self._recheck is None:
            return
        try:
            newcomer = await self._recheck()
        except VisioRefused as refused:
            self.close(refused.code, refused.reason)
            return
        if newcomer is None:
            self.close(4403, reason)
        elif newcomer.role != self._role:
            # Hosts and members differ in what they may do: the client joins again as what
            # the person is now.
            self.close(ROLE_CHANGED, "your role changed: joining again")


class VisioEndpoint:
    """An ASGI WebSocket endpoint for meeting signaling (protocol in docs/visio.md)."""

    def __init__(
        self, node: SfuNode, authorize: Authorizer, sockets: LiveSockets | None = None
    ) -> None:
        self._node = node
        self._authorize = authorize
        self._sockets = sockets if sockets is not None else LiveSockets()

    async def handle(self, websocket: WebSocket) -> None:
        await websocket_session(
            websocket,
            name="room",
            pattern=ROOM_NAME,
            what="meeting",
            session=self._session,
            log=log,
        )

    async def _session(self, websocket: WebSocket, room: str) -> None:
        mode = websocket.query_params.get("mode", "both")
        if mode not in MODES:
            raise SocketRefused(1008, f"'mode' must be one of {', '.join(MODES)}")
        admission = await self._authorize(websocket, room)  # VisioRefused closes with its code
        if mode != admission.newcomer.mode:
            admission = replace(admission, newcomer=replace(admission.newcomer, mode=mode))
        # Messages, then maybe a close, in order: the room's closes (a host removed you) come
        # after what it said before them.
        outgoing: asyncio.Queue[ServerMessage | tuple[int, str] | None] = asyncio.Queue()
        closing = asyncio.Event()

        def send(message: ServerMessage) -> None:
            if closing.is_set():
                return
            if outgoing.qsize() >= SEND_QUEUE:
                close(1008, "too slow to read meeting messages")
                return
            outgoing.put_nowait(message)

        def close(code: int, reason: str) -> None:
            if not closing.is_set():
                closing.set()
                outgoing.put_nowait((code, reason))

        writer = asyncio.create_task(self._write(websocket, outgoing))
        member: Member | RemoteMember | None = None
        live: MeetingSocket | None = None
        try:
            # Which ICE candidates it may give depends on where it connects from.
            address = websocket.client.host if websocket.client else None
            member = await self._node.join(room, admission.newcomer, send, close, address=address)
            live = MeetingSocket(member, room, admission)
            self._sockets.add(live)
            bucket = TokenBucket(RATE_MESSAGES, RATE_BURST, time.monotonic())
            while not closing.is_set():
                receive = asyncio.ensure_future(websocket.receive())
                stop = asyncio.ensure_future(closing.wait())
                done, _ = await asyncio.wait({receive, stop}, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                if receive not in done:
                    receive.cancel()
                    with contextlib.suppress(BaseException):
                        await receive
                    break
                event = receive.result()
                if event["type"] == "websocket.disconnect":
                    break
                text = event.get("text")
                try:
                    if text is None:
                        raise SignalingError("send JSON text frames", code=1003)
                    if not bucket.take(time.monotonic()):
                        raise SignalingError("too many messages: slow down")
                    await self._node.handle(member, parse_client(text))
                except SignalingError as exc:
                    log.info("meeting %s: closing %s: %s", room, member.id, exc)
                    close(exc.code, str(exc)[:120])
        except MediaServerUnavailable as exc:  # no live SFU node: the client retries
            log.warning("meeting %s: %s", room, exc.reason)
            raise SocketRefused(exc.code, exc.reason) from None
        except SfuError as exc:  # the meeting server is stopping, or runs no meetings here
            raise SocketRefused(1013, str(exc)) from None
        except RuntimeError:  # receiving after the connection closed under us
            pass
        finally:
            if live is not None:
                self._sockets.discard(live)
            if member is not None:
                await self._node.leave(member)
            # What is queued goes out first; the close is the writer's (asked for above) or
            # the shared session path's.
            outgoing.put_nowait(None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(writer), timeout=1.0)
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer

    async def _write(
        self,
        websocket: WebSocket,
        outgoing: asyncio.Queue[ServerMessage | tuple[int, str] | None],
    ) -> None:
        try:
            while True:
                item = await outgoing.get()
                if item is None:
                    return
                if isinstance(item, tuple):
                    await websocket.close(*item)
                    return
                await websocket.send_text(item.to_json())
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            pass
