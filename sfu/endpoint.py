"""The WebSocket route `/visio/{room}`: authorise, then pump JSON messages to and from the SFU.

Who may join (checked on connect; `VisioAuthorizer`):
- `space-<id>` rooms: signed-in members of the space (space owners and admins are hosts;
  other members and agents reading a listed space join directly); a guest whose guest link to
  that space is live waits in the lobby until a host admits them;
- `meet-<name>` ad-hoc rooms: any signed-in person who is not a guest, as a host;
- any room with `?token=` minted by `atelier token --docs visio-...` (bots, benchmarks): a
  read-write token joins as a host, read-only as a member; `?name=` sets the display name.
Refusals close with 4401 (no credentials) or 4403 (forbidden), like `/sync`.
With `ATELIER_VISIO_MODE=signaling` and no live SFU node, a join closes with 1013 (retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from realtime.bus import Bus
from realtime.ratelimit import TokenBucket
from sfu.cluster import MediaServerUnavailable
from sfu.errors import SfuError, SignalingError
from sfu.node import Member, RemoteMember, SfuConfig, SfuNode
from sfu.peer import IceConfig, IceServer
from sfu.room import Newcomer
from sfu.signaling import ServerMessage, parse_client
from web.auth.current import CurrentUser, current_user
from web.auth.tokens import TokenError, read_document_token
from web.config import Settings
from web.spaces.access import at_least, live_link, space_role, space_role_in, utcnow

log = logging.getLogger("atelier.visio")

ROOM_NAME = re.compile(r"^(space-[1-9][0-9]{0,9}|meet-[a-z0-9][a-z0-9-]{2,62})$")
SEND_QUEUE = 500
RATE_MESSAGES = 50.0
RATE_BURST = 200.0
ACCESS_WATCH_SECONDS = 5.0


def sfu_config(settings: Settings) -> SfuConfig:
    """The SFU's configuration from the instance settings."""
    servers = []
    for url in settings.visio_ice_servers.split():
        if url.startswith(("turn:", "turns:")):
            user, password = settings.visio_turn_username, settings.visio_turn_password
            servers.append(IceServer(url, user or None, password or None))
        else:
            servers.append(IceServer(url))
    addresses = tuple(a for a in settings.visio_host_addresses.split(",") if a)
    public = settings.visio_public_address.split(",")[0]
    ice = IceConfig(
        host_addresses=addresses,
        ice_servers=tuple(servers),
        public_address=public,
        udp_ports=settings.visio_udp_ports,
    )
    return SfuConfig(
        ice=ice,
        max_participants=settings.visio_max_participants,
        last_n=settings.visio_last_n,
        turn_secret=settings.visio_turn_secret,
    )


def make_sfu(settings: Settings, bus: Bus, *, role: str | None = None) -> SfuNode:
    """The SFU of this process: embedded; with Redis, rooms leased and signaling relayed; in
    `signaling` mode (or `role="standalone"`, `atelier sfu`) a part of separate SFU nodes."""
    role = role or ("signaling" if settings.visio_mode == "signaling" else "embedded")
    if not settings.redis_url:
        if role != "embedded":
            raise SfuError(f"an SFU node in the {role} role needs REDIS_URL")
        return SfuNode(sfu_config(settings))
    client = Redis.from_url(settings.redis_url, socket_connect_timeout=2)
    return SfuNode(sfu_config(settings), bus=bus, redis=client, role=role)


class VisioRefused(SfuError):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class VisioAuthorizer:
    """Decides who a connection is in a room: a `Newcomer`, or `VisioRefused`."""

    engine: AsyncEngine
    secret: str

    async def __call__(self, websocket: WebSocket, room: str) -> Newcomer:
        user = current_user(websocket)
        if user is not None:
            newcomer = await self._user(user, room)
            if newcomer is not None:
                return newcomer
        token = websocket.query_params.get("token")
        if token:
            try:
                grant = read_document_token(self.secret, token, now=time.time())
            except TokenError as exc:
                raise VisioRefused(4401, str(exc)) from None
            if not grant.covers(f"visio-{room}"):
                raise VisioRefused(4403, "this token does not grant that meeting")
            name = websocket.query_params.get("name") or grant.name or "bot"
            role = "host" if grant.writable else "member"
            return Newcomer(name[:80], role, principal=f"token:{grant.name}")
        if user is None:
            raise VisioRefused(4401, "sign in or pass ?token=")
        raise VisioRefused(4403, "you may not join this meeting")

    async def _user(self, user: CurrentUser, room: str) -> Newcomer | None:
        principal = f"user:{user.id}"
        if room.startswith("meet-"):
            if user.is_guest:
                return None
            return Newcomer(user.display_name, "host", principal=principal)
        space_id = int(room.removeprefix("space-"))
        if user.guest_link_id is not None:
            async with self.engine.connect() as conn:
                link = await live_link(conn, user.guest_link_id, utcnow())
            if link is None or link.space_id != space_id:
                return None
            principal = f"guest-link:{link.id}"
            return Newcomer(user.display_name, "guest", principal=principal, lobby=True)
        role = await space_role(self.engine, user, space_id)
        if role is None:
            return None
        kind = "host" if at_least(role, "admin") else "member"
        return Newcomer(user.display_name, kind, principal=principal)


class VisioEndpoint:
    """An ASGI WebSocket endpoint for meeting signaling (protocol in docs/visio.md)."""

    def __init__(self, node: SfuNode, authorize: VisioAuthorizer) -> None:
        self._node = node
        self._authorize = authorize
        self.connections: dict[Member | RemoteMember, str] = {}
        # Space meetings' signed-in members, whose membership is checked again while connected.
        self.members_of: dict[Member | RemoteMember, tuple[int, CurrentUser]] = {}
        self._access_watch: asyncio.Task[None] | None = None
        self.access_watch_seconds = ACCESS_WATCH_SECONDS

    async def handle(self, websocket: WebSocket) -> None:
        room = str(websocket.path_params.get("room", ""))
        await websocket.accept()
        if not ROOM_NAME.match(room):
            await websocket.close(1008, "invalid meeting name")
            return
        try:
            newcomer = await self._authorize(websocket, room)
        except VisioRefused as refused:
            await websocket.close(refused.code, refused.reason)
            return

        outgoing: asyncio.Queue[ServerMessage | tuple[int, str]] = asyncio.Queue()
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
        try:
            # Which ICE candidates it may give depends on where it connects from.
            address = websocket.client.host if websocket.client else None
            member = await self._node.join(room, newcomer, send, close, address=address)
            self.connections[member] = newcomer.principal
            user = current_user(websocket)
            if room.startswith("space-") and user is not None and user.guest_link_id is None:
                self.members_of[member] = (int(room.removeprefix("space-")), user)
            watched = newcomer.principal.startswith("guest-link:") or member in self.members_of
            if watched and (self._access_watch is None or self._access_watch.done()):
                self._access_watch = asyncio.create_task(self.watch_access())
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
            close(exc.code, exc.reason)
        except (WebSocketDisconnect, RuntimeError, ConnectionError, SfuError):
            pass
        except Exception:  # a bug must cost one connection, never the worker
            log.exception("meeting %s: unexpected error", room)
            close(1011, "internal error")
        finally:
            if member is not None:
                self.connections.pop(member, None)
                self.members_of.pop(member, None)
                await self._node.leave(member)
            close(1000, "")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(writer), timeout=1.0)
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer
            if websocket.application_state != WebSocketState.DISCONNECTED:
                with contextlib.suppress(Exception):
                    await websocket.close(1000)

    async def _write(
        self, websocket: WebSocket, outgoing: asyncio.Queue[ServerMessage | tuple[int, str]]
    ) -> None:
        try:
            while True:
                item = await outgoing.get()
                if isinstance(item, tuple):
                    await websocket.close(*item)
                    return
                await websocket.send_text(item.to_json())
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            pass

    async def watch_access(self) -> None:
        """Close meeting connections within seconds of losing access: a guest link revoked or
        expired, a member removed from the space (what web/spaces/revocation.py does for
        `/sync` sockets); runs while such connections are open."""
        while True:
            await asyncio.sleep(self.access_watch_seconds)
            links = {
                int(owner.removeprefix("guest-link:"))
                for owner in self.connections.values()
                if owner.startswith("guest-link:")
            }
            members = dict(self.members_of)
            if not links and not members:
                return  # started again by the next connection to watch
            try:
                engine = self._authorize.engine
                async with engine.connect() as conn:
                    dead = [i for i in links if await live_link(conn, i, utcnow()) is None]
                    gone = [
                        member
                        for member, (space_id, user) in members.items()
                        if await space_role_in(conn, user, space_id, utcnow()) is None
                    ]
            except Exception:
                log.warning("visio: could not check meeting access", exc_info=True)
                continue
            for link_id in dead:
                self.close_principal(f"guest-link:{link_id}", 4403, "your guest link has ended")
            for member in gone:
                member.close(4403, "you are no longer a member of this space")

    def close_principal(self, principal: str, code: int = 4403, reason: str = "") -> None:
        """Cut off every meeting connection opened by `principal` (a revoked link)."""
        for member, owner in list(self.connections.items()):
            if owner == principal:
                member.close(code, reason or "your access was revoked")
