"""A meeting room with its media, in an SFU process: the frame hot path and the peers' lifecycle.

The room's core (sfu/room.py) decides who is in, who may publish and what each subscriber
receives; `RoomRuntime` carries that out with the members' peer connections (sfu/peers.py):
it renegotiates subscribers as the plan changes, relays keyframe requests (sfu/feedback.py),
and forwards every frame a publisher's receiver hands it (`on_frame`) to the subscribers'
writers: from C for all of a track's writers that allow it (`Recipients`, sfu/sending.py's
`send_from_c`), through each writer otherwise. It knows nothing of other processes: the node
(sfu/node.py) owns the rooms, their leases and the relays.

Each room serialises its events (joins, publications, other messages, departures) under a
lock; a subscribe answer or an ICE candidate touches only its member's own connection and is
applied without it, and the renegotiation a message causes runs in a task of its own, so a
newcomer's media starts while the others are being offered its tracks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sfu import native
from sfu.candidates import candidate_allowed, without_refused_candidates
from sfu.config import SfuConfig
from sfu.errors import NegotiationError, SignalingError
from sfu.feedback import KeyframeRequests
from sfu.forwarding import KeyframeGate, Publication, RecentFrames, is_keyframe
from sfu.frames import Codec, EncodedFrame, PackedFrame
from sfu.ice import UdpPortsExhausted
from sfu.peers import PublisherPeer, SubscriberPeer, Wanted
from sfu.room import Action, Close, MeetingRoom, Send
from sfu.rtp import ntp_seconds
from sfu.sending import RtpWriter, send_from_c
from sfu.signaling import Candidate, Publish, ServerMessage, SubscribeAnswer

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


class Recipients(NamedTuple):
    """A track's subscribers as the room last sorted them: those its frames go to from C at
    once (the first `c_count` of `c_dests`, and their `c_writers`, held while C may use them)
    and the `others`, each through its writer. Sorted again when the room's `epoch` or
    `routes` change."""

    epoch: int
    routes: dict[str, set[str]]
    c_dests: Any
    c_count: int
    c_writers: list[RtpWriter]
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
        self._recipients: dict[str, Recipients] = {}
        self._epoch = 0
        self.recent: RecentFrames[PackedFrame] = RecentFrames()
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
        packet: PackedFrame | None = None
        if video:
            packet = frame.packed()
            self.recent.add(track_id, packet, keyframe)
        subscribers = self.routes.get(track_id)
        if not subscribers:
            return
        if native.LIB is not None and not (video and self.gate):
            # From C to every subscriber whose writer allows it; the others (not yet started
            # or connected, or without C's route) through their writers, below.
            recipients = self._recipients.get(track_id)
            if (
                recipients is None
                or recipients.epoch != self._epoch
                or recipients.routes is not self.routes
            ):
                recipients = self._recipients[track_id] = self._sort(track_id, subscribers)
            packet = packet or frame.packed()
            if recipients.c_count:
                send_from_c(
                    recipients.c_dests, recipients.c_count, packet, ntp_seconds(time.time())
                )
            rest: Iterable[str] = recipients.others
        else:
            rest = subscribers
        for sub in rest:
            member = self.members.get(sub)
            if member is None or member.subscriber is None:
                continue
            if video and self.gate and not self.gate.admit(sub, track_id, keyframe):
                continue
            packet = packet or frame.packed()
            if not member.subscriber.push(track_id, packet) and video:
                # Too slow: frames were dropped, so start again from a keyframe.
                self.gate.start(sub, track_id)
                self.request_keyframe(track_id)

    def _sort(self, track_id: str, subscribers: set[str]) -> Recipients:
        """Which subscribers of `track_id` C may send to now, and the others."""
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
        return Recipients(self._epoch, self.routes, array, len(dests), writers, others)

    def routes_changed(self) -> None:
        """Who may be sent to from C changed (a writer's route, an answer, the plan): each
        track's recipients are sorted again at its next frame."""
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
            person = self.core.participants.get(member.id)
            if person is not None and person.mode == "receive-only":
                raise SignalingError("a receive-only participant publishes nothing")
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
        self._recipients.clear()
        self.routes_changed()
        replay, self._replay = self._replay, []
        for sub, track_id in replay:
            self._start_from_recent(sub, track_id)

    def _start_from_recent(self, sub: str, track_id: str) -> None:
        """Start a subscriber's new video track from its latest keyframe, when recent: the
        frames since go paced (`RtpWriter.catch_up`), the live ones queued behind them."""
        member = self.members.get(sub)
        frames = self.recent.since_keyframe(track_id)
        writer = member.subscriber.writer(track_id) if member and member.subscriber else None
        if writer is None or not frames:
            return
        if writer.catch_up(frames):
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
