"""aiortc test participants ("bots") on loopback only: host candidates 127.0.0.1, no STUN.

A bot speaks the signaling protocol through `send` (in-process to an `SfuNode`, or over the
WebSocket) and answers the SFU's `subscribe` offers by itself. It receives as any WebRTC
client does, through aiortc's public API: each received track's `recv()` gives decoded
frames, and a video picture is kept as a digest of its pixels (`picture_digest`), so that a
test compares what a subscriber sees with the decoded pictures of what the publisher sent.
Only what a browser does below that API reaches into aiortc, each in one place here: asking
for a keyframe (`send_pli`), counting the keyframe requests a publisher gets, and recording a
receiver's RTP payloads (`RtpPayloads`).

A bot's own failures (a refused answer, an error while receiving) fail the test: `wait_for`
and `close` raise them. Its connections closing under it (the signaling socket, or a peer
connection the SFU ended) end it quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from sfu.ice import host_addresses
from sfu.node import SfuNode
from sfu.room import Newcomer
from sfu.room_runtime import Member
from sfu.signaling import ClientMessage, Publish, ServerMessage, SubscribeAnswer, TrackSource
from tests.support.sfu_media import picture_digest

LOOPBACK = ("127.0.0.1",)


def loopback_pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


@dataclass(frozen=True)
class Received:
    """One frame a bot's receiver decoded: a video picture (its pixels' digest) or audio."""

    kind: str
    picture: str | None
    sample_rate: int | None
    at: float  # the event loop's time when it came out of the decoder


class RtpPayloads:
    """The RTP payloads of one received stream, in arrival order, as they came off the wire.

    aiortc's public API gives decoded frames only; a test that checks the SFU forwards the
    publisher's own payload descriptors and partitions must read packets. It wraps the
    receiver's packet handler (aiortc 1.16's `RTCRtpReceiver._handle_rtp_packet`): the only
    reach into aiortc's receiving side in these bots.
    """

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self.payloads: list[bytes] = []
        # Each frame's RTP timestamp and when the sender says it sent its first packet to
        # arrive (its abs-send-time: seconds, modulo 64, 18-bit fraction).
        self.frames: list[tuple[int, float]] = []
        self._ssrc: int | None = None
        handle = receiver._handle_rtp_packet

        async def recorded(packet: Any, arrival_time_ms: int) -> None:
            if self._ssrc is None:
                self._ssrc = packet.ssrc
            if packet.ssrc == self._ssrc:  # the media stream, not its retransmissions
                self.payloads.append(packet.payload)
                sent = packet.extensions.abs_send_time
                if sent is not None and (not self.frames or self.frames[-1][0] != packet.timestamp):
                    self.frames.append((packet.timestamp, sent / 262144))
            await handle(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = recorded  # type: ignore[method-assign]


def set_receive_buffer(pc: RTCPeerConnection, size: int) -> None:
    """Give `pc`'s ICE sockets a receive buffer of `size` bytes (as a client on default
    socket settings has: no room for a burst)."""
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        if dtls is None:
            continue
        for protocol in dtls.transport._connection._protocols:
            sock = protocol.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size // 2)
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == size


def without_rtx(sdp: str) -> str:
    """An offer as a client without RTX (RFC 4588) reads it: its answer then negotiates none,
    and lost packets come back as they were first sent."""
    rtx = set(re.findall(r"a=rtpmap:(\d+) rtx/", sdp))
    lines = []
    for line in sdp.split("\r\n"):
        if (
            re.match(r"a=(rtpmap|fmtp|rtcp-fb):(\d+) ", line)
            and line.split(":")[1].split()[0] in rtx
        ):
            continue
        if line.startswith("m="):
            words = line.split(" ")
            line = " ".join(words[:3] + [w for w in words[3:] if w not in rtx])
        lines.append(line)
    return "\r\n".join(lines)


class LossyReceive:
    """Drops a share of the RTP media packets a bot's connection receives, at random from a
    fixed seed, as a congested network or a full socket buffer would: what the SFU must
    repair with retransmissions (the receiver NACKs what is missing).

    Retransmissions (the RTX payload types its answer negotiated) and RTCP pass, and so does
    each stream's first packet (aiortc's receiver NACKs only gaps after a packet it has seen).
    It wraps the datagram handler of the connection's ICE sockets (aioice's protocols): the
    one reach into aioice in these bots.
    """

    def __init__(self, rate: float, seed: int = 1) -> None:
        self.rate = rate
        self.dropped = 0
        self.passed = 0
        self.retransmissions = 0  # RTX packets that arrived
        self._random = random.Random(seed)
        self._spared: set[int] = set()  # RTX payload types
        self._seen: set[bytes] = set()  # SSRCs a packet of which arrived
        self._dropped: set[bytes] = set()
        self._wrapped: set[int] = set()

    def install(self, pc: RTCPeerConnection) -> None:
        """Drop from now on what `pc`'s ICE sockets receive (again after a renegotiation)."""
        description = pc.localDescription
        if description is not None:
            found = re.findall(r"a=rtpmap:(\d+) rtx/", description.sdp)
            self._spared |= {int(pt) for pt in found}
        for transceiver in pc.getTransceivers():
            dtls = transceiver.receiver.transport
            if dtls is None:
                continue
            for protocol in dtls.transport._connection._protocols:
                if id(protocol) in self._wrapped:
                    continue
                self._wrapped.add(id(protocol))
                received = protocol.datagram_received

                def lossy(data: bytes, addr: Any, received: Any = received) -> None:
                    if not self._drops(data):
                        received(data, addr)

                protocol.datagram_received = lossy

    def _drops(self, data: bytes) -> bool:
        # SRTP (RFC 7983: first byte 128-191) that is not RTCP (packet types 192-208); its
        # header is sent in clear.
        if len(data) < 12 or not 127 < data[0] < 192 or 192 <= data[1] <= 208:
            return False
        if data[1] & 0x7F in self._spared:
            self.retransmissions += 1
            return False
        ssrc = data[8:12]
        if ssrc not in self._seen:
            self._seen.add(ssrc)
            return False
        packet = data[2:4] + ssrc  # sequence number and SSRC: a packet resent as it was
        if packet not in self._dropped and self._random.random() < self.rate:
            self._dropped.add(packet)  # dropped once: its copy resent as it was gets through
            self.dropped += 1
            return True
        self.passed += 1
        return False


class Bot:
    """One participant: a publish and a subscribe connection, and the messages it got.

    `answers=False` makes a broken client that never answers the SFU's offers.
    """

    def __init__(self, name: str, *, answers: bool = True) -> None:
        self.name = name
        self.answers = answers
        self.loss: LossyReceive | None = None  # what its subscribe connection loses
        self.rtx = True  # False: a client without RTX, answering without it (`without_rtx`)
        # The receive buffer of its subscribe connection's sockets, in bytes (None: the
        # kernel's default), as `SO_RCVBUF` reports it (Linux doubles what is asked).
        self.receive_buffer: int | None = None
        self.record_wire = False  # record each received stream's packets (`wire`)
        self.wire: dict[str, RtpPayloads] = {}  # subscriber mid → its packets
        self.send: Callable[[ClientMessage], Awaitable[None]] | None = None
        self.messages: list[ServerMessage] = []
        self.closed: tuple[int, str] | None = None
        self.pub = loopback_pc()
        self.sub = loopback_pc()
        self.pub_transceivers: dict[str, RTCRtpTransceiver] = {}
        self.frames: dict[str, list[Received]] = {}  # subscriber mid → frames decoded
        self.receivers: dict[str, RTCRtpReceiver] = {}
        self.tracks: dict[str, str | None] = {}  # subscriber mid → SFU track id
        self.plis_received: dict[str, int] = {}  # publisher mid → PLI/FIR from the SFU
        self._changed = asyncio.Event()
        self._work: asyncio.Queue[ServerMessage] = asyncio.Queue()
        self._receiving: list[asyncio.Task[None]] = []
        self._pump = asyncio.create_task(self._run(), name=f"bot {name}: signaling")
        self.sub.on("track", self._on_track)

    # -- incoming ------------------------------------------------------------------------------

    def deliver(self, message: ServerMessage) -> None:
        self.messages.append(message)
        self._work.put_nowait(message)
        self._changed.set()

    def deliver_close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self._changed.set()

    async def _run(self) -> None:
        while True:
            message = await self._work.get()
            try:
                await self._handle(message)
            except InvalidStateError:
                # aiortc closes a connection whose far end closed it (DTLS close_notify): a
                # description for it is then moot, as it would be in a browser.
                if "closed" not in (self.pub.signalingState, self.sub.signalingState):
                    raise
            self._changed.set()

    async def _handle(self, message: ServerMessage) -> None:
        if message.type == "publish_answer":
            answer = RTCSessionDescription(message.fields["sdp"], "answer")
            await self.pub.setRemoteDescription(answer)
        elif message.type == "subscribe" and self.answers:
            offer = message.fields["sdp"]
            if not self.rtx:
                offer = without_rtx(offer)
            await self.sub.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            answer = await self.sub.createAnswer()
            with host_addresses(LOOPBACK):
                await self.sub.setLocalDescription(answer)
            if self.loss is not None:
                self.loss.install(self.sub)
            if self.receive_buffer is not None:
                set_receive_buffer(self.sub, self.receive_buffer)
            self.tracks = dict(message.fields["tracks"])
            assert self.send is not None
            await self.send(
                SubscribeAnswer(self.sub.localDescription.sdp, message.fields["revision"])
            )

    def _on_track(self, track: MediaStreamTrack) -> None:
        transceiver = next(t for t in self.sub.getTransceivers() if t.receiver.track is track)
        mid = str(transceiver.mid)
        self.receivers[mid] = transceiver.receiver
        if self.record_wire and mid not in self.wire:
            self.wire[mid] = RtpPayloads(transceiver.receiver)
        frames = self.frames.setdefault(mid, [])
        self._receiving.append(
            asyncio.create_task(self._receive(track, frames), name=f"bot {self.name}: {mid}")
        )

    async def _receive(self, track: MediaStreamTrack, frames: list[Received]) -> None:
        """Decoded frames of one track, as an application reads them, until it ends."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return  # the track ended: its connection closed
            if isinstance(frame, VideoFrame):
                frames.append(Received("video", picture_digest(frame), None, loop.time()))
            else:
                frames.append(Received("audio", None, frame.sample_rate, loop.time()))
            self._changed.set()

    def _raise_failure(self) -> None:
        """Raise what made the bot's signaling or receiving fail, if anything did."""
        for task in (self._pump, *self._receiving):
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise AssertionError(f"{task.get_name()} failed") from task.exception()

    async def wait_for(self, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `check()` is truthy (re-checked on every message or frame); the bot's
        own failure ends the wait at once."""
        async with asyncio.timeout(timeout):
            while not (result := check()):
                self._raise_failure()
                self._changed.clear()
                # Woken by messages and frames; polled too, for counters such as PLIs.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.05)
            return result

    def got(self, kind: str) -> list[ServerMessage]:
        return [m for m in self.messages if m.type == kind]

    def pictures(self, mid: str) -> list[str]:
        """The digests of the video pictures decoded on subscriber `mid`, in order."""
        return [f.picture for f in self.frames.get(mid, []) if f.picture is not None]

    # -- outgoing ------------------------------------------------------------------------------

    async def publish(
        self, tracks: list[tuple[MediaStreamTrack, str]], video_codec: str = ""
    ) -> None:
        """Add tracks (with their sources) to the publish connection and offer; `video_codec`
        (`video/H264`) puts that codec first, as a browser preferring it does."""
        for track, source in tracks:
            transceiver = self.pub.addTransceiver(track, direction="sendonly")
            if video_codec and track.kind == "video":
                caps = RTCRtpSender.getCapabilities("video").codecs
                first = [c for c in caps if c.mimeType.lower() == video_codec.lower()]
                transceiver.setCodecPreferences(first + [c for c in caps if c not in first])
            transceiver._atelier_source = source  # type: ignore[attr-defined]
            # Count the keyframe requests the SFU sends this track: aiortc answers them in
            # `RTCRtpSender._send_keyframe` (1.16) and tells nobody.
            sender = transceiver.sender
            counted = sender._send_keyframe

            def count(transceiver: RTCRtpTransceiver = transceiver, counted: Any = counted) -> None:
                mid = str(transceiver.mid)
                self.plis_received[mid] = self.plis_received.get(mid, 0) + 1
                counted()

            sender._send_keyframe = count  # type: ignore[method-assign]
        await self.offer_publish()

    async def offer_publish(self) -> None:
        offer = await self.pub.createOffer()
        with host_addresses(LOOPBACK):
            await self.pub.setLocalDescription(offer)
        sending = [
            TrackSource(str(t.mid), t._atelier_source)  # type: ignore[attr-defined]
            for t in self.pub.getTransceivers()
            if t.direction == "sendonly"
        ]
        self.pub_transceivers = {str(t.mid): t for t in self.pub.getTransceivers()}
        assert self.send is not None
        await self.send(Publish(self.pub.localDescription.sdp, tuple(sending)))

    async def stop_publishing(self, mid: str) -> None:
        """Stop one published track (screen share off) and renegotiate."""
        transceiver = self.pub_transceivers[mid]
        transceiver.direction = "inactive"
        track = transceiver.sender.track
        transceiver.sender.replaceTrack(None)
        if track is not None:
            track.stop()
        await self.offer_publish()

    async def send_pli(self, mid: str) -> None:
        """Ask the SFU for a keyframe of the track received on `mid`, as a browser's decoder
        does after a loss (aiortc 1.16 has no public call for it: `_send_rtcp_pli`)."""
        receiver = self.receivers[mid]
        (source,) = receiver.getSynchronizationSources()
        await receiver._send_rtcp_pli(source.source)

    def received_track(self, track_id: str) -> str | None:
        """The subscriber mid currently carrying an SFU track id."""
        return next((mid for mid, t in self.tracks.items() if t == track_id), None)

    async def close(self) -> None:
        """Close both connections; raise what made the bot fail, if anything did."""
        for transceiver in self.pub.getTransceivers():
            if transceiver.sender.track is not None:
                transceiver.sender.track.stop()
        self._pump.cancel()  # no more answers: the connections are going away
        await asyncio.wait([self._pump])  # a failure of its own is raised below, once closed
        await self.pub.close()
        await self.sub.close()
        for task in self._receiving:
            # Its track has ended with the connection, or never started (an offer refused).
            task.cancel()
        if self._receiving:
            await asyncio.wait(self._receiving)
        self._raise_failure()


class NodeBot(Bot):
    """A bot talking to an in-process `SfuNode` (the endpoint's calls, without the socket)."""

    def __init__(
        self,
        node: SfuNode,
        room: str,
        name: str,
        role: str = "member",
        address: str = LOOPBACK[0],
        *,
        answers: bool = True,
        mode: str = "both",
    ) -> None:
        super().__init__(name, answers=answers)
        self.node = node
        self.room = room
        self.role = role
        self.mode = mode  # both, publish-only, receive-only
        self.address = address  # where its signaling "connection" comes from
        self.member: Member | None = None
        self.send = self._send

    async def join(self, lobby: bool = False) -> NodeBot:
        self.member = await self.node.join(
            self.room,
            Newcomer(self.name, self.role, lobby=lobby, mode=self.mode),
            self.deliver,
            self.deliver_close,
            address=self.address,
        )
        return self

    async def _send(self, message: ClientMessage) -> None:
        assert self.member is not None
        await self.node.handle(self.member, message)

    async def leave(self) -> None:
        await self.close()
        if self.member is not None:
            await self.node.leave(self.member)


class WsBot(Bot):
    """A bot on the real WebSocket `/visio/{room}` of a server (how benchmark bots join)."""

    def __init__(self, url: str, name: str, cookie: str = "") -> None:
        super().__init__(name)
        self.url = url
        self.cookie = cookie
        self.ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self.send = self._send

    async def join(self) -> WsBot:
        import websockets

        headers = {}
        if self.cookie:  # a browser's session cookie, from the same site
            origin = "http://" + self.url.split("//", 1)[1].split("/", 1)[0]
            headers = {"Cookie": self.cookie, "Origin": origin}
        self.ws = await websockets.connect(self.url, max_size=2**20, additional_headers=headers)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        import websockets

        try:
            async for text in self.ws:
                self.deliver(ServerMessage.parse(text))
        except websockets.ConnectionClosed:
            pass
        self.deliver_close(self.ws.close_code or 1006, self.ws.close_reason or "")

    async def _send(self, message: ClientMessage) -> None:
        import websockets

        with contextlib.suppress(websockets.ConnectionClosed):
            # Closed under it: as a browser's, the message goes nowhere, and `_read` tells.
            await self.ws.send(message.to_json())

    async def leave(self) -> None:
        await self.close()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader
