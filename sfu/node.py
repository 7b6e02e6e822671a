"""An SFU in one process: owns meeting rooms, runs their peers, carries out the cores' actions.

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

Each room serialises its events (joins, publications, other messages, departures) under a
lock; a subscribe answer or an ICE candidate touches only its member's own connection and is
applied without it, and the renegotiation a message causes runs in a task of its own, so a
newcomer's media starts while the others are being offered its tracks. Media frames take the
direct path: a publisher's receiver → `on_frame` → the subscribers' `RtpWriter`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from sfu import native
from sfu.candidates import candidate_allowed, without_refused_candidates
from sfu.cluster import (
    BEAT_SECONDS,
    RENEW_SECONDS,
    WATCH_SECONDS,
    MediaServerUnavailable,
    NodeDirectory,
    RoomLeases,
)
from sfu.errors import NegotiationError, SfuError, SignalingError
from sfu.feedback import KeyframeRequests
from sfu.forwarding import KeyframeGate, Publication, RecentFrames, is_keyframe
from sfu.peer import (
    NTP_OFFSET,
    AvPacket,
    Codec,
    EncodedFrame,
    IceConfig,
    IceServer,
    PublisherPeer,
    RtpWriter,
    SubscriberPeer,
    UdpPortsExhausted,
    Wanted,
    fanout,
)
from sfu.room import Action, Close, MeetingRoom, Newcomer, Send
from sfu.signaling import (
    Candidate,
    ClientMessage,
    Publish,
    ServerMessage,
    SubscribeAnswer,
    parse_client,
)
from sfu.turn import turn_credentials

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from plumbing.bus import Bus

log = logging.getLogger("atelier.sfu")

SendMessage = Callable[[ServerMessage], None]
CloseConnection = Callable[[int, str], None]
# The room's timer sleeps until the next remembered keyframe request is due, at most this long:
# once a second it closes members whose media failed or who never answer their offer.
CHECK_SECONDS = 1.0
# Shortest sleep of the timer (a request due "now" by a rounding error must not make it spin).
MIN_SLEEP = 0.01
ANSWER_TIMEOUT = 15.0
ANSWER_FIRST = 0.15
CLOSE_MEDIA_FAILED = 4408
# A participant whose connection found no free UDP port (ATELIER_VISIO_UDP_PORTS): the meeting
# server is full for now. The client retries with back-off and, when it gives up, says the server
# is full rather than absent (1013, no media server at all).
CLOSE_SERVER_FULL = 4503
NO_MEDIA_PORT = "no free UDP port for media on the meeting server, retry shortly"
NODE_CHANNEL = "atelier:sfu:node:"
ROLES = ("embedded", "signaling", "standalone")


@dataclass(frozen=True)
class SfuConfig:
    """What the SFU takes from the settings."""

    ice: IceConfig = field(default_factory=IceConfig)
    max_participants: int = 50
    last_n: int = 6
    keyframe_interval: float = 0.3
    # coturn `use-auth-secret`: TURN servers get short-lived credentials (sfu/turn.py).
    turn_secret: str = ""

    def _servers(self, identity: str, now: float | None) -> list[IceServer]:
        if not self.turn_secret:
            return list(self.ice.ice_servers)
        username, credential = turn_credentials(
            self.turn_secret, identity, time.time() if now is None else now
        )
        return [
            IceServer(s.urls, username, credential) if s.urls.startswith("turn") else s
            for s in self.ice.ice_servers
        ]

    def browser_ice_servers(
        self, identity: str = "", now: float | None = None
    ) -> list[dict[str, object]]:
        """The STUN/TURN servers for browsers' `RTCPeerConnection({iceServers})`; with a TURN
        secret, TURN servers carry credentials for `identity` (the participant)."""
        servers: list[dict[str, object]] = []
        for server in self._servers(identity, now):
            entry: dict[str, object] = {"urls": server.urls}
            if server.username is not None:
                entry.update(username=server.username, credential=server.credential)
            servers.append(entry)
        return servers

    def peer_ice(self) -> IceConfig:
        """The ICE configuration for one new SFU peer connection (fresh TURN credentials)."""
        if not self.turn_secret:
            return self.ice
        return replace(self.ice, ice_servers=tuple(self._servers("sfu", None)))


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
    # The address its signaling connection comes from (None: unknown): which ICE candidates
    # it may give (sfu/candidates.py).
    address: str | None = None


@dataclass(frozen=True)
class Track:
    participant: str
    mid: str
    codec: Codec


class Fanout(NamedTuple):
    """A track's subscribers as the room last sorted them: those sent to from C (`dests`, the
    first `sending`, and their `writers`, held while C may use them) and the `others`. Made
    again when the room's `epoch` or `routes` change."""

    epoch: int
    routes: dict[str, set[str]]
    dests: Any
    sending: int
    writers: list[RtpWriter]
    others: list[str]


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
        self._fanouts: dict[str, Fanout] = {}
        self._epoch = 0
        self.recent: RecentFrames[AvPacket] = RecentFrames()
        self._replay: list[tuple[str, str]] = []  # (subscriber, track) to start from recent
        self._fresh: set[tuple[str, str]] = set()  # (subscriber, track) owed a keyframe request
        self.keyframes = KeyframeRequests(interval=config.keyframe_interval)
        self.lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake_timer = asyncio.Event()  # a keyframe request was remembered
        self._ticker = asyncio.create_task(self._tick(), name=f"sfu-room-{name}")

    # -- actions ---------------------------------------------------------------------------

    def perform(self, actions: list[Action]) -> None:
        for action in actions:
            member = self.members.get(action.to if isinstance(action, Send) else action.participant)
            if member is None or member.gone:
                continue
            if isinstance(action, Send):
                message = action.message
                if message.type == "welcome" and self.config.turn_secret:
                    servers = self.config.browser_ice_servers(f"{self.name}/{member.id}")
                    message = ServerMessage("welcome", message.fields | {"ice_servers": servers})
                member.send(message)
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
        video = frame.codec.kind == "video"
        keyframe = video and is_keyframe(frame.codec.mime_type, frame.data)
        packet: AvPacket | None = None
        if video:
            packet = frame.packet()
            self.recent.add(track_id, packet, keyframe)
        subscribers = self.routes.get(track_id)
        if not subscribers:
            return
        if native.LIB is not None and not (video and self.gate):
            # From C to every subscriber whose writer allows it; the others (not yet started
            # or connected, or without C's route) through their writers, below.
            fan = self._fanouts.get(track_id)
            if fan is None or fan.epoch != self._epoch or fan.routes is not self.routes:
                fan = self._fanouts[track_id] = self._fanout(track_id, subscribers)
            packet = packet or frame.packet()
            if fan.sending:
                fanout(fan.dests, fan.sending, packet, time.time() + NTP_OFFSET)
            rest: Iterable[str] = fan.others
        else:
            rest = subscribers
        for sub in rest:
            member = self.members.get(sub)
            if member is None or member.subscriber is None:
                continue
            if video and self.gate and not self.gate.admit(sub, track_id, keyframe):
                continue
            packet = packet or frame.packet()
            if not member.subscriber.push(track_id, packet) and video:
                # Too slow: frames were dropped, so start again from a keyframe.
                self.gate.start(sub, track_id)
                self.request_keyframe(track_id)

    def _fanout(self, track_id: str, subscribers: set[str]) -> Fanout:
        writers: list[RtpWriter] = []
        dests = []
        others = []
        for sub in subscribers:
            member = self.members.get(sub)
            writer = member.subscriber.writer(track_id) if member and member.subscriber else None
            dest = writer.native_dest() if writer is not None else None
            if writer is None or dest is None:
                others.append(sub)
            else:
                writers.append(writer)
                dests.append(dest)
        array = native.FFI.new("atelier_dest *[]", dests) if dests else None
        return Fanout(self._epoch, self.routes, array, len(dests), writers, others)

    def routes_changed(self) -> None:
        """Who may be sent to from C changed (a writer's route, an answer, the plan): the
        fan-outs are made again at their next frame."""
        self._epoch += 1

    def on_audio_level(self, publisher: str, level: int) -> None:
        actions = self.core.audio_level(publisher, level, self.clock())
        if actions:
            self.perform(actions)
            self.spawn(self.locked_update())

    def request_keyframe(self, track_id: str, *, urgent: bool = False) -> None:
        if self.keyframes.request(track_id, self.clock(), urgent=urgent):
            self._send_pli(track_id)
        elif not urgent:
            self._wake_timer.set()  # remembered: the timer sends it when it is due

    def _send_pli(self, track_id: str) -> None:
        track = self.tracks.get(track_id)
        member = self.members.get(track.participant) if track else None
        if track and member and member.publisher:
            member.publisher.request_keyframe(track.mid)

    async def _tick(self) -> None:
        """Send remembered keyframe requests when due, and close stuck members once a second.

        It wakes only for those (not on a fixed short tick): an idle room costs nothing."""
        next_check = time.monotonic() + CHECK_SECONDS
        while True:
            self._wake_timer.clear()
            wait = next_check - time.monotonic()
            due = self.keyframes.next_due()
            if due is not None:
                wait = min(wait, due - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_timer.wait(), max(wait, MIN_SLEEP))
            try:
                for track_id in self.keyframes.due(self.clock()):
                    self._send_pli(track_id)
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + CHECK_SECONDS
                    self._close_stuck(now)
                    # Routes checked again once a second (a new nominated pair, say).
                    self.routes_changed()
            except Exception:  # the timer must outlive any one bad step
                log.exception("meeting %s: timer step failed", self.name)

    def _close_stuck(self, now: float) -> None:
        """Close members whose media failed or who never answer: their client reconnects."""
        for member in list(self.members.values()):
            sub, pub = member.subscriber, member.publisher
            if (sub and sub.failed) or (pub and pub.failed):
                self.perform([Close(member.id, CLOSE_MEDIA_FAILED, "media connection failed")])
            elif sub and sub.unanswered_for(now) > ANSWER_TIMEOUT:
                self.perform([Close(member.id, 1008, "no answer to the subscribe offer")])

    # -- signaling -------------------------------------------------------------------------

    async def publish(self, member: Member, message: Publish) -> None:
        if not self.core.may_publish(member.id):
            raise SignalingError("wait until a host lets you in")
        if member.publisher is None:
            pid = member.id
            member.publisher = PublisherPeer(
                self.config.peer_ice(),
                on_frame=lambda mid, frame: self.on_frame(pid, mid, frame),
                on_audio_level=lambda mid, level: self.on_audio_level(pid, level),
            )
        try:
            offer = self._own_candidates(member, message.sdp)
            answer, sending = await member.publisher.answer(offer)
        except UdpPortsExhausted as exc:
            self._no_media_port(member, exc)
            return
        member.send(ServerMessage("publish_answer", {"sdp": answer}))
        sources = {t.mid: t.source for t in message.tracks}
        publications = []
        for item in sending:
            if item.mid not in sources:
                continue
            track_id = f"{member.id}:{item.mid}"
            self.tracks[track_id] = Track(member.id, item.mid, item.codec)
            before = self.core.publication(track_id)
            if before is not None and before.source != sources[item.mid]:
                self.recent.forget(track_id)  # another picture now: no replay of the old one
            publications.append(Publication(member.id, track_id, item.kind, sources[item.mid]))
        for track_id in [t for t, v in self.tracks.items() if v.participant == member.id]:
            if track_id not in {p.track for p in publications}:
                del self.tracks[track_id]
                self.keyframes.forget(track_id)
                self.recent.forget(track_id)
        self.perform(self.core.set_tracks(member.id, publications))

    async def subscribe_answer(self, member: Member, message: SubscribeAnswer) -> bool:
        """Apply the answer to the member's latest offer (True), or ignore a stale one.

        Runs without the room lock: `update_forwarding` leaves a subscriber alone while its
        offer awaits the answer, and an answer is only taken for the latest offer.
        """
        sub = member.subscriber
        if sub is None or not sub.awaiting_answer or message.revision != sub.revision:
            return False  # an answer to an offer that was replaced: the newer one follows
        try:
            await sub.accept_answer(self._own_candidates(member, message.sdp))
        finally:
            self.routes_changed()  # senders enabled or paused
        if member.gone:
            return False
        # A new subscriber asks for a fresh keyframe at once, even when it could start from
        # the recent frames (they may be up to two seconds old).
        for track_id in sub.forwarded():
            if (member.id, track_id) in self._fresh:
                self._fresh.discard((member.id, track_id))
                self.request_keyframe(track_id, urgent=True)
        return True

    def _own_candidates(self, member: Member, sdp: str) -> str:
        """The SDP without the candidates this member may not give (sfu/candidates.py)."""
        kept = without_refused_candidates(sdp, member.address)
        if kept != sdp:
            log.debug("meeting %s: %s: ICE candidates of its SDP ignored", self.name, member.id)
        return kept

    async def candidate(self, member: Member, message: Candidate) -> None:
        peer = member.publisher if message.pc == "publish" else member.subscriber
        if peer is None:
            return
        if not candidate_allowed(message.candidate, member.address):
            # Not an error: browsers offer every address they have; this one is not for us.
            log.debug(
                "meeting %s: %s: ICE candidate ignored: %s",
                self.name,
                member.id,
                message.candidate[:200],
            )
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
                    self.config.peer_ice(),
                    on_keyframe_request=self.request_keyframe,
                    on_route_change=self.routes_changed,
                )
            if member.subscriber is not None:
                if await self._renegotiate(member, member.subscriber, wanted):
                    # Between two offers, let the loop run what waits (a newcomer's answer,
                    # its ICE and DTLS packets).
                    await asyncio.sleep(0)
                if member.gone:  # closed meanwhile (or its offer found no UDP port)
                    continue
                for track_id in member.subscriber.forwarded():
                    routes.setdefault(track_id, set()).add(sub)
        # No await from here: the replayed frames and the live ones that follow are contiguous.
        self.routes = routes
        self._fanouts.clear()
        self.routes_changed()
        replay, self._replay = self._replay, []
        for sub, track_id in replay:
            self._start_from_recent(sub, track_id)

    def _start_from_recent(self, sub: str, track_id: str) -> None:
        member = self.members.get(sub)
        frames = self.recent.since_keyframe(track_id)
        if member is None or member.subscriber is None or not frames:
            return
        if all(member.subscriber.push(track_id, packet) for packet in frames):
            self.gate.stop(sub, track_id)

    async def _renegotiate(self, member: Member, sub: SubscriberPeer, wanted: list[Wanted]) -> bool:
        """Offer the subscriber what it should receive now; True when an offer went out."""
        if sub.awaiting_answer:
            return False  # one offer at a time: the answer triggers the next update
        before = sub.forwarded()
        try:
            offer = await sub.offer(wanted)
        except UdpPortsExhausted as exc:
            self._no_media_port(member, exc)
            return False
        if offer is None:
            return False
        sdp, mids = offer
        for track_id in before - {w.track_id for w in wanted}:
            self.gate.stop(member.id, track_id)
        for want in wanted:
            if want.track_id not in before and want.codec.kind == "video":
                self.gate.start(member.id, want.track_id)
                self._replay.append((member.id, want.track_id))
                self._fresh.add((member.id, want.track_id))
        fields = {"sdp": sdp, "revision": sub.revision, "tracks": mids}
        member.send(ServerMessage("subscribe", fields))
        return True

    def _no_media_port(self, member: Member, exc: UdpPortsExhausted) -> None:
        """A connection of `member` found no UDP port: close it (others go on)."""
        log.error(
            "meeting %s: participant %s refused: %s (ATELIER_VISIO_UDP_PORTS too small? each "
            "participant takes two ports)",
            self.name,
            member.id,
            exc,
        )
        self.perform([Close(member.id, CLOSE_SERVER_FULL, NO_MEDIA_PORT)])

    async def locked_update(self, first: SubscriberPeer | None = None) -> None:
        """`update_forwarding` in its own task (after a message, an answer, a new speaker).

        With `first`, the subscriber whose offer awaits its answer (a newcomer publishing
        while its own subscribe answer is on its way): that answer is applied before the
        others are renegotiated, at most ANSWER_FIRST seconds later, so that the newcomer's
        media starts without competing with the renegotiations its publication causes.
        """
        if first is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ANSWER_FIRST):
                    await first.answered()
        try:
            async with self.lock:
                await self.update_forwarding()
        except Exception:  # a failed renegotiation must not go unnoticed in a task
            log.exception("meeting %s: updating the forwarding failed", self.name)

    async def drop(self, member: Member) -> None:
        """Close a member's peers and stop forwarding its tracks (idempotent)."""
        async with self.lock:
            if self.members.get(member.id) is not member:
                return
            del self.members[member.id]
            self.routes_changed()
            self._fresh = {(sub, t) for sub, t in self._fresh if sub != member.id}
            self.perform(self.core.disconnect(member.id, self.clock()))
            for track_id in [t for t, v in self.tracks.items() if v.participant == member.id]:
                del self.tracks[track_id]
                self.keyframes.forget(track_id)
                self.recent.forget(track_id)
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
        if role != "signaling" and native.LIB is None:
            log.warning(
                "visio: the C sender is not built, media is sent from Python (more "
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
