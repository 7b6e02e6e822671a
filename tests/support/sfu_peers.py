"""aiortc test participants ("bots") on loopback only: host candidates 127.0.0.1, no STUN.

A bot speaks the signaling protocol through `send` (in-process to an `SfuNode`, or over the
WebSocket) and answers the SFU's `subscribe` offers by itself. What it receives is captured
from its receivers' jitter-buffer frames (the same private path the SFU uses): no decoding.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
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

from sfu.frame_assembly import FrameTap
from sfu.frames import EncodedFrame
from sfu.ice import host_addresses
from sfu.node import SfuNode
from sfu.room import Newcomer
from sfu.room_runtime import Member
from sfu.signaling import ClientMessage, Publish, ServerMessage, SubscribeAnswer, TrackSource

LOOPBACK = ("127.0.0.1",)


def loopback_pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


class Bot:
    """One participant: a publish and a subscribe connection, and the messages it got."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.send: Callable[[ClientMessage], Awaitable[None]] | None = None
        self.messages: list[ServerMessage] = []
        self.closed: tuple[int, str] | None = None
        self.pub = loopback_pc()
        self.sub = loopback_pc()
        self.pub_transceivers: dict[str, RTCRtpTransceiver] = {}
        self.frames: dict[str, list[EncodedFrame]] = {}  # subscriber mid → frames received
        self.payloads: dict[str, list[bytes]] = {}  # subscriber mid → RTP payloads, arrival order
        self.first_frame_at: dict[str, float] = {}
        self.receivers: dict[str, RTCRtpReceiver] = {}
        self.ssrc: dict[str, int] = {}
        self.tracks: dict[str, str | None] = {}  # subscriber mid → SFU track id
        self.plis_received: dict[str, int] = {}  # publisher mid → PLI/FIR from the SFU
        self._changed = asyncio.Event()
        self._work: asyncio.Queue[ServerMessage | None] = asyncio.Queue()
        self._pump = asyncio.create_task(self._run())
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
        while (message := await self._work.get()) is not None:
            if message.type == "publish_answer":
                answer = RTCSessionDescription(message.fields["sdp"], "answer")
                await self.pub.setRemoteDescription(answer)
            elif message.type == "subscribe":
                await self.sub.setRemoteDescription(
                    RTCSessionDescription(message.fields["sdp"], "offer")
                )
                answer = await self.sub.createAnswer()
                with host_addresses(LOOPBACK):
                    await self.sub.setLocalDescription(answer)
                self.tracks = dict(message.fields["tracks"])
                assert self.send is not None
                await self.send(
                    SubscribeAnswer(self.sub.localDescription.sdp, message.fields["revision"])
                )
            self._changed.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        transceiver = next(t for t in self.sub.getTransceivers() if t.receiver.track is track)
        mid = str(transceiver.mid)
        receiver = transceiver.receiver
        self.receivers[mid] = receiver
        frames = self.frames.setdefault(mid, [])
        loop = asyncio.get_running_loop()

        def got(frame: EncodedFrame) -> None:
            self.first_frame_at.setdefault(mid, loop.time())
            frames.append(frame)
            self._changed.set()

        FrameTap.install(receiver, got)
        handle = receiver._handle_rtp_packet

        payloads = self.payloads.setdefault(mid, [])

        async def watched(packet: Any, arrival_time_ms: int) -> None:
            if self.ssrc.setdefault(mid, packet.ssrc) == packet.ssrc:  # not RTX
                payloads.append(packet.payload)
            await handle(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = watched  # type: ignore[method-assign]

    async def wait_for(self, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `check()` is truthy (re-checked on every message or frame)."""
        async with asyncio.timeout(timeout):
            while not (result := check()):
                self._changed.clear()
                # Woken by messages and frames; polled too, for counters such as PLIs.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.05)
            return result

    def got(self, kind: str) -> list[ServerMessage]:
        return [m for m in self.messages if m.type == kind]

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
        """Ask the SFU for a keyframe of the track received on `mid` (what a decoder does)."""
        await self.receivers[mid]._send_rtcp_pli(self.ssrc[mid])

    def received_track(self, track_id: str) -> str | None:
        """The subscriber mid currently carrying an SFU track id."""
        return next((mid for mid, t in self.tracks.items() if t == track_id), None)

    async def close(self) -> None:
        for transceiver in self.pub.getTransceivers():
            if transceiver.sender.track is not None:
                transceiver.sender.track.stop()
        await self.pub.close()
        await self.sub.close()
        self._work.put_nowait(None)
        with contextlib.suppress(Exception):
            await self._pump


class NodeBot(Bot):
    """A bot talking to an in-process `SfuNode` (the endpoint's calls, without the socket)."""

    def __init__(
        self,
        node: SfuNode,
        room: str,
        name: str,
        role: str = "member",
        address: str = LOOPBACK[0],
    ) -> None:
        super().__init__(name)
        self.node = node
        self.room = room
        self.role = role
        self.address = address  # where its signaling "connection" comes from
        self.member: Member | None = None
        self.send = self._send

    async def join(self, lobby: bool = False) -> NodeBot:
        self.member = await self.node.join(
            self.room,
            Newcomer(self.name, self.role, lobby=lobby),
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
        await self.ws.send(message.to_json())

    async def leave(self) -> None:
        await self.close()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader
