"""An SFU in one process: owns meeting rooms, runs their peers, carries out the cores' actions.

Embedded (the default) it runs inside the web process and the WebSocket endpoint calls it
directly. Each room serialises its events (signaling, departures) under a lock; media frames
take the direct path: a publisher's receiver → `on_frame` → the subscribers' `ForwardedTrack`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sfu.errors import NegotiationError, SfuError, SignalingError
from sfu.feedback import KeyframeRequests
from sfu.forwarding import KeyframeGate, Publication, is_keyframe
from sfu.peer import (
    AvPacket,
    Codec,
    EncodedFrame,
    IceConfig,
    PublisherPeer,
    SubscriberPeer,
    Wanted,
)
from sfu.room import Action, Close, MeetingRoom, Newcomer, Send
from sfu.signaling import Candidate, ClientMessage, Publish, ServerMessage, SubscribeAnswer

log = logging.getLogger("atelier.sfu")

SendMessage = Callable[[ServerMessage], None]
CloseConnection = Callable[[int, str], None]
TICK_SECONDS = 0.05


@dataclass(frozen=True)
class SfuConfig:
    """What the SFU takes from the settings."""

    ice: IceConfig = field(default_factory=IceConfig)
    max_participants: int = 50
    last_n: int = 6
    keyframe_interval: float = 0.3

    def browser_ice_servers(self) -> list[dict[str, object]]:
        """The STUN/TURN servers for browsers' `RTCPeerConnection({iceServers})`."""
        servers: list[dict[str, object]] = []
        for server in self.ice.ice_servers:
            entry: dict[str, object] = {"urls": server.urls}
            if server.username is not None:
                entry.update(username=server.username, credential=server.credential)
            servers.append(entry)
        return servers


@dataclass(eq=False)
class Member:
    """One participant's connection to a room: its callbacks and its two peers."""

    room: str
    id: str
    send: SendMessage
    close: CloseConnection
    publisher: PublisherPeer | None = None
    subscriber: SubscriberPeer | None = None
    gone: bool = False


@dataclass(frozen=True)
class Track:
    participant: str
    mid: str
    codec: Codec


class RoomRuntime:
    """A meeting room with its media: the core, members' peers, forwarding and feedback."""

    def __init__(self, name: str, config: SfuConfig, clock: Callable[[], float]) -> None:
        self.name = name
        self.config = config
        self.clock = clock
        self.core = MeetingRoom(
            name,
            max_participants=config.max_participants,
            last_n=config.last_n,
            welcome_extra={"ice_servers": config.browser_ice_servers()},
        )
        self.members: dict[str, Member] = {}
        self.tracks: dict[str, Track] = {}
        self.routes: dict[str, set[str]] = {}  # track id → subscribers receiving it
        self.gate = KeyframeGate()
        self.keyframes = KeyframeRequests(interval=config.keyframe_interval)
        self.lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker = asyncio.create_task(self._tick(), name=f"sfu-room-{name}")

    # -- actions ---------------------------------------------------------------------------

    def perform(self, actions: list[Action]) -> None:
        for action in actions:
            member = self.members.get(action.to if isinstance(action, Send) else action.participant)
            if member is None or member.gone:
                continue
            if isinstance(action, Send):
                member.send(action.message)
            elif isinstance(action, Close):
                member.gone = True
                member.close(action.code, action.reason)
                self.spawn(self.drop(member))

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- media callbacks (synchronous, from aiortc) ------------------------------------------

    def on_frame(self, publisher: str, mid: str, frame: EncodedFrame) -> None:
        track_id = f"{publisher}:{mid}"
        subscribers = self.routes.get(track_id)
        if not subscribers:
            return
        video = frame.codec.kind == "video"
        keyframe = video and is_keyframe(frame.codec.mime_type, frame.data)
        packet: AvPacket | None = None
        for sub in subscribers:
            member = self.members.get(sub)
            if member is None or member.subscriber is None:
                continue
            if video and not self.gate.admit(sub, track_id, keyframe):
                continue
            packet = packet or frame.packet()
            if not member.subscriber.push(track_id, packet) and video:
                # Too slow: frames were dropped, so start again from a keyframe.
                self.gate.start(sub, track_id)
                self.request_keyframe(track_id)

    def on_audio_level(self, publisher: str, level: int) -> None:
        actions = self.core.audio_level(publisher, level, self.clock())
        if actions:
            self.perform(actions)
            self.spawn(self.locked_update())

    def request_keyframe(self, track_id: str, *, urgent: bool = False) -> None:
        if self.keyframes.request(track_id, self.clock(), urgent=urgent):
            self._send_pli(track_id)

    def _send_pli(self, track_id: str) -> None:
        track = self.tracks.get(track_id)
        member = self.members.get(track.participant) if track else None
        if track and member and member.publisher:
            member.publisher.request_keyframe(track.mid)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            for track_id in self.keyframes.due(self.clock()):
                self._send_pli(track_id)

    # -- signaling -------------------------------------------------------------------------

    async def publish(self, member: Member, message: Publish) -> None:
        if not self.core.may_publish(member.id):
            raise SignalingError("wait until a host lets you in")
        if member.publisher is None:
            pid = member.id
            member.publisher = PublisherPeer(
                self.config.ice,
                on_frame=lambda mid, frame: self.on_frame(pid, mid, frame),
                on_audio_level=lambda mid, level: self.on_audio_level(pid, level),
            )
        answer, sending = await member.publisher.answer(message.sdp)
        member.send(ServerMessage("publish_answer", {"sdp": answer}))
        sources = {t.mid: t.source for t in message.tracks}
        publications = []
        for item in sending:
            if item.mid not in sources:
                continue
            track_id = f"{member.id}:{item.mid}"
            self.tracks[track_id] = Track(member.id, item.mid, item.codec)
            publications.append(Publication(member.id, track_id, item.kind, sources[item.mid]))
        for track_id in [t for t, v in self.tracks.items() if v.participant == member.id]:
            if track_id not in {p.track for p in publications}:
                del self.tracks[track_id]
                self.keyframes.forget(track_id)
        self.perform(self.core.set_tracks(member.id, publications))

    async def subscribe_answer(self, member: Member, message: SubscribeAnswer) -> None:
        sub = member.subscriber
        if sub is None or not sub.awaiting_answer or message.revision != sub.revision:
            return  # an answer to an offer that was replaced: the newer one follows
        await sub.accept_answer(message.sdp)
        for track_id in sub.forwarded():
            if self.gate.waiting(member.id, track_id):
                self.request_keyframe(track_id, urgent=True)

    async def candidate(self, member: Member, message: Candidate) -> None:
        peer = member.publisher if message.pc == "publish" else member.subscriber
        if peer is None:
            return
        try:
            await peer.add_candidate(message.candidate, message.sdp_mid, message.sdp_mline_index)
        except NegotiationError as exc:
            # One unusable candidate is not worth the connection: say so and go on.
            member.send(ServerMessage("error", {"message": str(exc)}))

    async def update_forwarding(self) -> None:
        """Bring every subscriber's connection in line with the forwarding plan."""
        routes: dict[str, set[str]] = {}
        for sub, track_ids in self.core.forwarding().items():
            member = self.members.get(sub)
            if member is None or member.gone:
                continue
            known = [t for t in sorted(track_ids) if t in self.tracks]
            wanted = [Wanted(t, self.tracks[t].codec) for t in known]
            if member.subscriber is None and wanted:
                member.subscriber = SubscriberPeer(
                    self.config.ice, on_keyframe_request=self.request_keyframe
                )
            if member.subscriber is not None:
                await self._renegotiate(member, member.subscriber, wanted)
                for track_id in member.subscriber.forwarded():
                    routes.setdefault(track_id, set()).add(sub)
        self.routes = routes

    async def _renegotiate(self, member: Member, sub: SubscriberPeer, wanted: list[Wanted]) -> None:
        if sub.awaiting_answer:
            return  # one offer at a time: the answer triggers the next update
        before = sub.forwarded()
        offer = await sub.offer(wanted)
        if offer is None:
            return
        sdp, mids = offer
        for track_id in before - {w.track_id for w in wanted}:
            self.gate.stop(member.id, track_id)
        for want in wanted:
            if want.track_id not in before and want.codec.kind == "video":
                self.gate.start(member.id, want.track_id)
        fields = {"sdp": sdp, "revision": sub.revision, "tracks": mids}
        member.send(ServerMessage("subscribe", fields))

    async def locked_update(self) -> None:
        async with self.lock:
            await self.update_forwarding()

    async def drop(self, member: Member) -> None:
        """Close a member's peers and stop forwarding its tracks (idempotent)."""
        async with self.lock:
            if self.members.get(member.id) is not member:
                return
            del self.members[member.id]
            self.perform(self.core.disconnect(member.id, self.clock()))
            for track_id in [t for t, v in self.tracks.items() if v.participant == member.id]:
                del self.tracks[track_id]
                self.keyframes.forget(track_id)
            for peer in (member.publisher, member.subscriber):
                if peer is not None:
                    await peer.close()
            member.publisher = member.subscriber = None
            await self.update_forwarding()

    async def close(self) -> None:
        """Tear the room down: every peer, task and timer."""
        for member in list(self.members.values()):
            if not member.gone:
                member.gone = True
                member.close(1001, "the meeting server is stopping")
            await self.drop(member)
        self._ticker.cancel()
        tasks = [*self._tasks, self._ticker]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class SfuNode:
    """The rooms of this process; the endpoint calls `join`, `handle` and `leave`."""

    def __init__(self, config: SfuConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.rooms: dict[str, RoomRuntime] = {}
        self._closing = False

    async def join(
        self, room: str, newcomer: Newcomer, send: SendMessage, close: CloseConnection
    ) -> Member:
        """Connect a participant: it joins, waits in the lobby or is closed at once."""
        if self._closing:
            raise SfuError("the meeting server is stopping")
        runtime = self.rooms.get(room)
        if runtime is None:
            runtime = self.rooms[room] = RoomRuntime(room, self.config, self.clock)
        async with runtime.lock:
            pid, actions = runtime.core.connect(newcomer, self.clock())
            member = Member(room, pid, send, close)
            runtime.members[pid] = member
            runtime.perform(actions)
            if not member.gone:
                await runtime.update_forwarding()
        return member

    async def handle(self, member: Member, message: ClientMessage) -> None:
        """One validated message from a participant; SignalingError for a bad one."""
        runtime = self.rooms.get(member.room)
        if runtime is None or member.gone:
            return
        async with runtime.lock:
            if member.gone:
                return
            try:
                if isinstance(message, Publish):
                    await runtime.publish(member, message)
                elif isinstance(message, SubscribeAnswer):
                    await runtime.subscribe_answer(member, message)
                elif isinstance(message, Candidate):
                    await runtime.candidate(member, message)
                    return
                else:
                    runtime.perform(runtime.core.handle(member.id, message, self.clock()))
            except NegotiationError as exc:
                raise SignalingError(str(exc)) from None
            await runtime.update_forwarding()

    async def leave(self, member: Member) -> None:
        """The participant's connection closed: drop it, and the room once it is empty."""
        runtime = self.rooms.get(member.room)
        if runtime is None:
            return
        member.gone = True
        await runtime.drop(member)
        if not runtime.members and self.rooms.get(member.room) is runtime:
            del self.rooms[member.room]
            await runtime.close()

    async def close(self) -> None:
        """Stop every room (server shutdown)."""
        self._closing = True
        rooms, self.rooms = list(self.rooms.values()), {}
        for runtime in rooms:
            with contextlib.suppress(Exception):
                await runtime.close()
