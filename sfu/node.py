"""An SFU process: owns meeting rooms, and with Redis, leases them and relays signaling.

Embedded (the default) it runs inside the web process and the WebSocket endpoint calls it
directly. With Redis, a room lives in exactly one process, its owner, named by a lease
(sfu/cluster.py); a worker that receives a join for a room owned elsewhere relays the
connection's signaling over the bus to the owner (`RemoteMember` here, `RelayedConnection`
there), and media flows straight between the client and the owner's UDP ports. Roles:

- `embedded`: this process runs rooms; with Redis the first to see a join becomes the owner.
- `signaling`: a web worker that runs no rooms: every join is relayed to a standalone node,
  the least loaded live one for a new room (or for a room whose owner died).
- `standalone`: `atelier sfu`, no HTTP: it serves the rooms the web workers place on it.

Every process with Redis keeps a heartbeat; one that stops answering is noticed within
seconds by those it relays for (their members are closed with 4408 and reconnect) and by the
owners of rooms it relays to (its members leave the rooms).

A room and its media are a `RoomRuntime` (sfu/room_runtime.py); a node that runs rooms puts
aiortc's patches in place when it is made (`sfu.aiortc_internals.install`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sfu import aiortc_internals, native
from sfu.cluster import (
    BEAT_SECONDS,
    RENEW_SECONDS,
    WATCH_SECONDS,
    MediaServerUnavailable,
    NodeDirectory,
    RoomLeases,
)
from sfu.config import SfuConfig
from sfu.errors import NegotiationError, SfuError, SignalingError
from sfu.room import Newcomer
from sfu.room_runtime import (
    CLOSE_MEDIA_FAILED,
    CloseConnection,
    Member,
    RoomRuntime,
    SendMessage,
)
from sfu.signaling import (
    Candidate,
    ClientMessage,
    Publish,
    ServerMessage,
    SubscribeAnswer,
    parse_client,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from plumbing.bus import Bus

log = logging.getLogger("atelier.sfu")

NODE_CHANNEL = "atelier:sfu:node:"
ROLES = ("embedded", "signaling", "standalone")


@dataclass(eq=False)
class RemoteMember:
    """A connection on this worker to a room owned by another SFU process."""

    room: str
    id: str
    owner: str
    send: SendMessage
    close: CloseConnection
    gone: bool = False


class RelayedConnection:
    """On the owner: a connection that reached another worker, driven by relayed messages."""

    def __init__(
        self,
        node: SfuNode,
        origin: str,
        conn: str,
        room: str,
        newcomer: Newcomer,
        address: str | None = None,
    ) -> None:
        self.node = node
        self.origin = origin
        self.conn = conn
        self.room = room
        self.newcomer = newcomer
        self.address = address
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._run(), name=f"sfu-relayed-{conn}")

    def _send(self, message: ServerMessage) -> None:
        payload = {"op": "send", "conn": self.conn, "message": message.type}
        self.node.relay(self.origin, payload | {"fields": message.fields})

    def _close(self, code: int, reason: str) -> None:
        self.node.relay(
            self.origin, {"op": "close", "conn": self.conn, "code": code, "reason": reason}
        )

    async def _run(self) -> None:
        member: Member | None = None
        try:
            if not await self.node.owns(self.room):
                # The lease names another live node now: the client reconnects and lands there.
                self._close(CLOSE_MEDIA_FAILED, "the meeting moved to another server")
                return
            member = await self.node.join_local(
                self.room, self.newcomer, self._send, self._close, address=self.address
            )
            while (text := await self.inbox.get()) is not None:
                try:
                    await self.node.handle(member, parse_client(text))
                except SignalingError as exc:
                    member.gone = True
                    self._close(exc.code, str(exc)[:120])
        except MediaServerUnavailable as exc:
            self._close(exc.code, exc.reason)
        except SfuError as exc:
            self._close(1011, str(exc)[:120])
        except Exception:
            log.exception("meeting %s: relayed connection failed", self.room)
            self._close(1011, "internal error")
        finally:
            self.node.relayed.pop(self.conn, None)
            if member is not None:
                await self.node.leave(member)


class SfuNode:
    """The rooms of this process; the endpoint calls `join`, `handle` and `leave`.

    With `bus` and `redis`, rooms are claimed with a lease, connections to rooms owned by
    another process are relayed to it over the bus, and the node keeps a heartbeat. `role` is
    `embedded` (rooms run here), `signaling` (a web worker relaying every join to standalone
    nodes) or `standalone` (`atelier sfu`: rooms placed here by the web workers).
    """

    def __init__(
        self,
        config: SfuConfig,
        clock: Callable[[], float] = time.monotonic,
        *,
        bus: Bus | None = None,
        redis: Redis | None = None,
        role: str = "embedded",
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown SFU role {role!r}")
        if role != "embedded" and (bus is None or redis is None):
            raise SfuError(f"an SFU node in the {role} role needs Redis (REDIS_URL)")
        self.config = config
        self.clock = clock
        self.role = role
        self.node_id = uuid.uuid4().hex
        self.rooms: dict[str, RoomRuntime] = {}
        self.bus = bus
        self.leases = RoomLeases(redis, self.node_id) if redis is not None else None
        self.directory = NodeDirectory(redis) if redis is not None else None
        self._redis = redis
        self.remote: dict[str, RemoteMember] = {}  # connections here, rooms elsewhere
        self.relayed: dict[str, RelayedConnection] = {}  # connections elsewhere, rooms here
        self._background: list[asyncio.Task[None]] = []
        self._closing = False
        self._next_beat: asyncio.Task[None] | None = None
        if role != "signaling":
            aiortc_internals.install()  # this process runs peers
            if native.LIB is None:
                log.warning(
                    "visio: the C sender is not in use, media is sent from Python (more "
                    "CPU per stream): %s",
                    native.WHY,
                )

    @property
    def participants(self) -> int:
        return sum(len(runtime.members) for runtime in self.rooms.values())

    async def start(self) -> None:
        """Listen for relayed signaling, beat and keep this node's leases (Redis only)."""
        if self.bus is None or self.leases is None:
            return
        await self.bus.subscribe(NODE_CHANNEL + self.node_id, self._on_relay)
        try:
            await self._beat()  # listening first: a standalone node may be picked from now on
        except Exception:
            log.warning("sfu: could not write the first heartbeat", exc_info=True)
        self._background = [
            asyncio.create_task(self._heartbeat(), name="sfu-heartbeat"),
            asyncio.create_task(self._watch(), name="sfu-watch"),
        ]
        if self.role != "signaling":
            self._background.append(asyncio.create_task(self._renew_leases(), name="sfu-leases"))

    async def _beat(self) -> None:
        assert self.directory is not None
        await self.directory.beat(self.node_id, self.role, len(self.rooms), self.participants)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(BEAT_SECONDS)
            try:
                await self._beat()
            except Exception:
                log.warning("sfu: heartbeat failed (Redis unreachable?)", exc_info=True)

    async def _watch(self) -> None:
        """Close connections relayed to an owner that stopped beating (4408: they reconnect and
        land on a live node), and drop members relayed from a worker that stopped beating."""
        assert self.directory is not None
        missing_since: dict[str, float] = {}
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            peers = {m.owner for m in self.remote.values()}
            peers |= {r.origin for r in self.relayed.values()}
            if not peers:
                continue
            try:
                alive = await self.directory.alive(peers)
            except Exception:
                log.warning("sfu: could not check other nodes' heartbeats", exc_info=True)
                continue
            # Dead: missing on two looks more than a beat apart (so a Redis that restarted
            # empty, before everyone beat again, kills nobody).
            now = time.monotonic()
            for node in peers - alive:
                missing_since.setdefault(node, now)
            for node in list(missing_since):
                if node not in peers or node in alive:
                    del missing_since[node]
            dead = {n for n, t in missing_since.items() if now - t > BEAT_SECONDS}
            for conn, remote in list(self.remote.items()):
                if remote.owner in dead:
                    log.warning("meeting %s: node %s stopped answering", remote.room, remote.owner)
                    del self.remote[conn]
                    if not remote.gone:
                        remote.gone = True
                        remote.close(CLOSE_MEDIA_FAILED, "the media server stopped answering")
            for relayed in list(self.relayed.values()):
                if relayed.origin in dead:
                    relayed.inbox.put_nowait(None)

    async def _renew_leases(self) -> None:
        assert self.leases is not None
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            for room in list(self.rooms):
                try:
                    if await self.leases.renew(room):
                        continue
                    # Expired (a Redis outage): take it back unless another live node has it.
                    await self._beat()
                    owner = await self.leases.claim(room)
                    if owner != self.node_id and room in self.rooms:
                        log.warning("meeting %s: lease lost to node %s", room, owner)
                        await self._evict(room)
                except Exception:
                    log.warning("meeting %s: could not renew the lease", room, exc_info=True)

    async def _evict(self, room: str) -> None:
        """Another node owns the room now: its members here reconnect (4408) and land there."""
        runtime = self.rooms.pop(room, None)
        if runtime is None:
            return
        for member in list(runtime.members.values()):
            if not member.gone:
                member.gone = True
                member.close(CLOSE_MEDIA_FAILED, "the meeting moved to another server")
        await runtime.close()

    async def owns(self, room: str) -> bool:
        """Whether this node may run `room` (claiming it if it has no live owner)."""
        if room in self.rooms or self.leases is None:
            return True
        return await self.leases.claim(room) == self.node_id

    # -- relaying --------------------------------------------------------------------------

    def relay(self, node: str, payload: dict[str, Any]) -> None:
        if self.bus is not None:
            self.bus.publish(NODE_CHANNEL + node, json.dumps(payload).encode())

    def _on_relay(self, data: bytes) -> None:
        try:
            payload = json.loads(data)
            op, conn = payload["op"], str(payload["conn"])
        except (ValueError, KeyError, TypeError):
            log.warning("bus: ignoring a malformed SFU relay message")
            return
        if op == "join":
            newcomer = Newcomer(**payload["newcomer"])
            address = payload.get("address")
            self.relayed[conn] = RelayedConnection(
                self,
                str(payload["from"]),
                conn,
                str(payload["room"]),
                newcomer,
                address if isinstance(address, str) else None,
            )
        elif op in ("message", "leave") and conn in self.relayed:
            self.relayed[conn].inbox.put_nowait(payload.get("text") if op == "message" else None)
        elif op == "send" and conn in self.remote:
            self.remote[conn].send(ServerMessage(str(payload["message"]), payload["fields"]))
        elif op == "close" and conn in self.remote:
            member = self.remote[conn]
            member.gone = True
            member.close(int(payload["code"]), str(payload["reason"]))

    # -- the endpoint's calls ----------------------------------------------------------------

    async def join(
        self,
        room: str,
        newcomer: Newcomer,
        send: SendMessage,
        close: CloseConnection,
        *,
        address: str | None = None,
    ) -> Member | RemoteMember:
        """Connect a participant: it joins, waits in the lobby or is closed at once.
        `address`: where its signaling connection comes from (None: unknown).

        MediaServerUnavailable (close 1013) when no live node can take the room."""
        if self._closing:
            raise SfuError("the meeting server is stopping")
        if self.role == "signaling":
            placed = await self._place(room)
            return self._relay_join(placed, room, newcomer, send, close, address)
        if self.leases is not None and room not in self.rooms:
            owner = await self.leases.claim(room)
            if owner is None:  # our own heartbeat is missing: Redis is in trouble
                raise MediaServerUnavailable()
            if owner != self.node_id:
                return self._relay_join(owner, room, newcomer, send, close, address)
        return await self.join_local(room, newcomer, send, close, address=address)

    async def _place(self, room: str) -> str:
        """The live owner of `room`, or the least loaded live standalone node made its owner."""
        from redis.exceptions import RedisError

        assert self.leases is not None and self.directory is not None
        try:
            for _ in range(3):
                candidate = await self.directory.least_loaded()
                owner = await self.leases.claim(room, candidate or "")
                if owner is not None:
                    return owner
                if candidate is None:
                    break
                # The candidate died between the two calls: pick again.
        except RedisError:
            log.warning("meeting %s: cannot reach Redis to place the room", room, exc_info=True)
        raise MediaServerUnavailable()

    def _relay_join(
        self,
        owner: str,
        room: str,
        newcomer: Newcomer,
        send: SendMessage,
        close: CloseConnection,
        address: str | None,
    ) -> RemoteMember:
        conn = uuid.uuid4().hex
        remote = RemoteMember(room, conn, owner, send, close)
        self.remote[conn] = remote
        payload = {"op": "join", "conn": conn, "from": self.node_id, "room": room}
        self.relay(owner, payload | {"newcomer": asdict(newcomer), "address": address})
        return remote

    async def join_local(
        self,
        room: str,
        newcomer: Newcomer,
        send: SendMessage,
        close: CloseConnection,
        *,
        address: str | None = None,
    ) -> Member:
        if self._closing:
            raise MediaServerUnavailable("the meeting server is stopping, retry shortly")
        if self.role == "signaling":
            raise SfuError("this web worker runs no meetings (ATELIER_VISIO_MODE=signaling)")
        runtime = self.rooms.get(room)
        if runtime is None:
            runtime = self.rooms[room] = RoomRuntime(room, self.config, self.clock)
        async with runtime.lock:
            pid, actions = runtime.core.connect(newcomer, self.clock())
            member = Member(room, pid, send, close, address=address)
            runtime.members[pid] = member
            runtime.perform(actions)
            if not member.gone:
                await runtime.update_forwarding()
        self._beat_soon()  # placement reads the load: keep it fresh
        return member

    def _beat_soon(self) -> None:
        if self.directory is None or self._closing:
            return
        if self._next_beat is None or self._next_beat.done():
            self._next_beat = asyncio.create_task(self._beat_quietly(), name="sfu-beat")

    async def _beat_quietly(self) -> None:
        with contextlib.suppress(Exception):  # the heartbeat loop retries and logs
            await self._beat()

    async def handle(self, member: Member | RemoteMember, message: ClientMessage) -> None:
        """One validated message from a participant; SignalingError for a bad one."""
        if isinstance(member, RemoteMember):
            if not member.gone:
                self.relay(
                    member.owner, {"op": "message", "conn": member.id, "text": message.to_json()}
                )
            return
        runtime = self.rooms.get(member.room)
        if runtime is None or member.gone:
            return
        try:
            if isinstance(message, SubscribeAnswer | Candidate):
                # Only the member's own connections: no room lock, so a newcomer's answer is
                # applied (and its media starts) while the room renegotiates the others.
                if isinstance(message, Candidate):
                    await runtime.candidate(member, message)
                elif await runtime.subscribe_answer(member, message):
                    # The plan may have changed while the offer waited for this answer.
                    runtime.spawn(runtime.locked_update())
                return
            async with runtime.lock:
                if member.gone:
                    return
                if isinstance(message, Publish):
                    await runtime.publish(member, message)
                else:
                    runtime.perform(runtime.core.handle(member.id, message, self.clock()))
        except NegotiationError as exc:
            if member.gone:
                return  # its connections were closed under it
            raise SignalingError(str(exc)) from None
        # The other subscribers' renegotiation goes on without this connection waiting: its
        # next message (a newcomer's subscribe answer) is handled meanwhile.
        own = member.subscriber if isinstance(message, Publish) else None
        runtime.spawn(runtime.locked_update(first=own))

    async def leave(self, member: Member | RemoteMember) -> None:
        """The participant's connection closed: drop it, and the room once it is empty."""
        if isinstance(member, RemoteMember):
            if self.remote.pop(member.id, None) is not None:
                self.relay(member.owner, {"op": "leave", "conn": member.id})
            member.gone = True
            return
        runtime = self.rooms.get(member.room)
        if runtime is None:
            return
        member.gone = True
        await runtime.drop(member)
        if not runtime.members and self.rooms.get(member.room) is runtime:
            del self.rooms[member.room]
            await runtime.close()
            if self.leases is not None:
                with contextlib.suppress(Exception):
                    await self.leases.release(member.room)

    async def close(self) -> None:
        """Stop every room (server shutdown): members are told (1001), then the node leaves
        the placement set, its leases and its heartbeat."""
        self._closing = True
        for task in self._background:
            task.cancel()
        if self._next_beat is not None:
            self._background.append(self._next_beat)
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []
        if self.directory is not None:
            with contextlib.suppress(Exception):
                await self.directory.withdraw(self.node_id)  # no new rooms from now on
        for remote in list(self.remote.values()):
            await self.leave(remote)
        rooms, self.rooms = list(self.rooms.values()), {}
        for runtime in rooms:
            with contextlib.suppress(Exception):
                await runtime.close()  # relayed members too: their worker closes them
            if self.leases is not None:
                with contextlib.suppress(Exception):
                    await self.leases.release(runtime.name)
        relayed = [r.task for r in self.relayed.values()]
        for task in relayed:
            task.cancel()
        await asyncio.gather(*relayed, return_exceptions=True)
        if self.directory is not None:
            with contextlib.suppress(Exception):
                await self.directory.forget(self.node_id)
        if self._redis is not None:
            await self._redis.aclose()
