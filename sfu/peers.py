"""A participant's two aiortc peer connections: the one it publishes on, the one it receives on.

`PublisherPeer` answers the browser's offer and turns each published track's packets into
encoded frames for the room (sfu/receiving.py, sfu/frame_assembly.py); `SubscriberPeer`
offers what the participant should receive, renegotiating as it changes, each of its
transceivers sending through an `RtpWriter` (sfu/sending.py). Keyframe requests go both
ways: a subscriber's PLI/FIR to the room (`on_keyframe_request`), the room's relayed request
to the publisher (`PublisherPeer.request_keyframe`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpCodecParameters,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtp import RtpPacket

from sfu.aiortc_internals import receiver_internals, sender_internals, transceiver_internals
from sfu.config import IceConfig
from sfu.errors import NegotiationError, SfuError
from sfu.frame_assembly import FrameAssembler, FrameTap, SyncRtpHandler, no_bandwidth_estimation
from sfu.frames import Codec, EncodedFrame, PackedFrame
from sfu.ice import add_candidate, reachable_candidates, rtc_configuration, set_local_description
from sfu.receiving import FastReceive
from sfu.sending import RtpWriter


def _negotiated(transceiver: RTCRtpTransceiver) -> Codec:
    codecs = [c for c in transceiver._codecs if c.mimeType.lower() != f"{transceiver.kind}/rtx"]
    if not codecs:
        raise NegotiationError(f"no common {transceiver.kind} codec")
    return Codec(codecs[0].mimeType, codecs[0].clockRate)


def _keep_first_codec(transceiver: RTCRtpTransceiver) -> None:
    """Answer with one codec (the browser's first choice) and its RTX: what we forward."""
    private = transceiver_internals(transceiver)
    codecs: list[RTCRtpCodecParameters] = private._codecs
    main = next((c for c in codecs if not c.mimeType.lower().endswith("/rtx")), None)
    if main is None:
        raise NegotiationError(f"no common {transceiver.kind} codec")
    rtx = [
        c
        for c in codecs
        if c.mimeType.lower().endswith("/rtx") and c.parameters.get("apt") == main.payloadType
    ]
    # No REMB from the SFU (see `no_bandwidth_estimation`): do not announce it.
    main.rtcpFeedback = [f for f in main.rtcpFeedback if f.type != "goog-remb"]
    private._codecs = [main, *rtx[:1]]


@dataclass(frozen=True)
class Published:
    """A sending transceiver of a publisher, after negotiation."""

    mid: str
    kind: str
    codec: Codec


class PublisherPeer:
    """The connection a participant publishes on: the browser offers, the SFU answers."""

    def __init__(
        self,
        ice: IceConfig,
        on_frame: Callable[[str, EncodedFrame], None],
        on_audio_level: Callable[[str, int], None],
    ) -> None:
        self._ice = ice
        self._on_frame = on_frame
        self._on_audio_level = on_audio_level
        self.pc = RTCPeerConnection(rtc_configuration(ice))
        self._receivers: dict[str, RTCRtpReceiver] = {}
        self._ssrc: dict[str, int] = {}
        self._pli_pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.fast_receive: list[FastReceive] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        # aiortc emits the track only: find its transceiver.
        transceiver = next(t for t in self.pc.getTransceivers() if t.receiver.track is track)
        mid = str(transceiver.mid)
        receiver = transceiver.receiver
        self._receivers[mid] = receiver
        FrameTap.install(receiver, lambda frame: self._on_frame(mid, frame))
        FrameAssembler.install(receiver)
        no_bandwidth_estimation(receiver)
        self._watch_packets(mid, receiver)

    def _watch_packets(self, mid: str, receiver: RTCRtpReceiver) -> None:
        """Note each packet's SSRC (for keyframe requests) and audio level (the speaker)."""
        rtx = receiver_internals(receiver)._RTCRtpReceiver__rtx_ssrc

        def seen(packet: RtpPacket) -> None:
            if packet.ssrc not in rtx:
                self._ssrc[mid] = packet.ssrc
                if mid in self._pli_pending:
                    self._pli_pending.discard(mid)
                    self.request_keyframe(mid)
            level = packet.extensions.audio_level
            if level is not None:
                self._on_audio_level(mid, int(level[1]))

        SyncRtpHandler.install(receiver, seen)

    async def answer(self, offer_sdp: str) -> tuple[str, list[Published]]:
        """Apply the browser's offer; return the answer and every transceiver that sends."""
        try:
            offer = reachable_candidates(offer_sdp, self._ice)
            await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        except SfuError:
            raise
        except Exception as exc:  # aiortc raises many kinds on bad SDP; all mean "refused"
            raise NegotiationError(f"offer refused: {exc}"[:200]) from None
        published = []
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind not in ("audio", "video") or transceiver._offerDirection not in (
                "recvonly",
                "sendrecv",
            ):
                continue
            _keep_first_codec(transceiver)
            codec = _negotiated(transceiver)
            published.append(Published(str(transceiver.mid), transceiver.kind, codec))
        answer = await self.pc.createAnswer()
        sdp = await set_local_description(self.pc, answer, self._ice)
        self.fast_receive += FastReceive.watch(self.pc)
        return sdp, published

    def request_keyframe(self, mid: str) -> None:
        """Send a PLI for a published video track (once its first packet is in, if not yet)."""
        receiver = self._receivers.get(mid)
        ssrc = self._ssrc.get(mid)
        if receiver is None:
            return
        if ssrc is None:
            self._pli_pending.add(mid)
            return
        task = asyncio.ensure_future(receiver._send_rtcp_pli(ssrc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def add_candidate(self, line: str, mid: str | None, index: int | None) -> None:
        await add_candidate(self.pc, line, mid, index, self._ice)

    @property
    def failed(self) -> bool:
        return bool(self.pc.connectionState == "failed")

    async def close(self) -> None:
        await self.pc.close()
        for fast in self.fast_receive:
            await fast.aclose()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class ForwardedTrack(MediaStreamTrack):
    """What a subscriber's sender holds: its id names the forwarded track in the SDP (msid).

    Frames do not go through it (`RtpWriter` sends them): `recv()` never returns, so aiortc's
    sending task waits on it, idle, until the sender stops.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    async def recv(self) -> Any:
        await asyncio.get_running_loop().create_future()  # cancelled when the sender stops


@dataclass
class _Slot:
    transceiver: RTCRtpTransceiver
    codec: Codec
    writer: RtpWriter
    track_id: str | None = None
    track: ForwardedTrack | None = None


@dataclass(frozen=True)
class Wanted:
    """A track a subscriber should receive: its id and codec."""

    track_id: str
    codec: Codec


def _codec_preferences(codec: Codec) -> list[RTCRtpCodecCapability]:
    caps = RTCRtpSender.getCapabilities(codec.kind).codecs
    chosen = [c for c in caps if c.mimeType.lower() == codec.mime_type.lower()]
    if not chosen:
        raise NegotiationError(f"cannot forward {codec.mime_type}")
    rtx = [c for c in caps if c.mimeType.lower() == f"{codec.kind}/rtx"]
    return chosen + rtx


class SubscriberPeer:
    """The connection a participant receives on: the SFU offers, renegotiating as it changes.

    Transceivers are kept and reused (aiortc cannot remove m-lines): a track that goes away
    leaves its transceiver inactive until another track of the same codec takes it.
    """

    def __init__(
        self,
        ice: IceConfig,
        on_keyframe_request: Callable[[str], None],
        on_route_change: Callable[[], None] | None = None,
    ) -> None:
        self._ice = ice
        self._on_keyframe_request = on_keyframe_request
        self._on_route_change = on_route_change
        self.pc = RTCPeerConnection(rtc_configuration(ice))
        self._slots: list[_Slot] = []
        self._by_track: dict[str, RtpWriter] = {}
        self.revision = 0
        self.awaiting_answer = False
        self._answered = asyncio.Event()
        self.fast_receive: list[FastReceive] = []

    def forwarded(self) -> set[str]:
        return {s.track_id for s in self._slots if s.track_id is not None}

    def push(self, track_id: str, packet: PackedFrame) -> bool:
        """Send a frame of `track_id` to this subscriber now; False when it was dropped."""
        writer = self._by_track.get(track_id)
        return writer is not None and writer.write(packet)

    def writer(self, track_id: str) -> RtpWriter | None:
        """The writer that sends `track_id` to this subscriber (`RtpWriter.native_dest`)."""
        return self._by_track.get(track_id)

    def _redirect_keyframe_requests(self, slot: _Slot) -> None:
        """A subscriber's PLI/FIR sets a flag aiortc's pass-through never reads (aiortc 1.16's
        `RTCRtpSender._send_keyframe`): it goes to the room instead, which relays it."""

        def requested() -> None:
            if slot.track_id is not None:
                self._on_keyframe_request(slot.track_id)

        sender_internals(slot.transceiver.sender)._send_keyframe = requested

    async def offer(self, wanted: list[Wanted]) -> tuple[str, dict[str, str | None]] | None:
        """Make the transceivers match `wanted`; the new offer and mid → track id, or None."""
        by_id = {w.track_id: w for w in wanted}
        changed = False
        for slot in self._slots:
            if slot.track_id is not None and slot.track_id not in by_id:
                assert slot.track is not None
                # The sender keeps this (idle) track: with none, aiortc's sending task would
                # poll every 20 ms.
                slot.track.stop()
                slot.transceiver.direction = "inactive"
                del self._by_track[slot.track_id]
                slot.writer.clear()
                slot.track_id = slot.track = None
                changed = True
        current = self.forwarded()
        for want in wanted:
            if want.track_id in current:
                continue
            changed = True
            free = next(
                (s for s in self._slots if s.track_id is None and s.codec == want.codec), None
            )
            track = ForwardedTrack(want.codec.kind)
            if free is not None:
                slot = free
                slot.transceiver.sender.replaceTrack(track)
                slot.transceiver.direction = "sendonly"
            else:
                transceiver = self.pc.addTransceiver(track, direction="sendonly")
                transceiver.setCodecPreferences(_codec_preferences(want.codec))
                writer = RtpWriter(transceiver.sender)
                writer.on_route_change = self._on_route_change
                slot = _Slot(transceiver, want.codec, writer)
                self._slots.append(slot)
                self._redirect_keyframe_requests(slot)
            slot.track_id, slot.track = want.track_id, track
            self._by_track[want.track_id] = slot.writer
        if not changed:
            return None
        offer = await self.pc.createOffer()
        sdp = await set_local_description(self.pc, offer, self._ice)
        self.fast_receive += FastReceive.watch(self.pc)
        self.revision += 1
        self.awaiting_answer = True
        self._answered.clear()
        self.offered_at = time.monotonic()
        return sdp, {str(s.transceiver.mid): s.track_id for s in self._slots}

    async def accept_answer(self, sdp: str) -> None:
        try:
            answer = reachable_candidates(sdp, self._ice)
            await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        except Exception as exc:  # as for offers: any failure is a refused answer
            raise NegotiationError(f"answer refused: {exc}"[:200]) from None
        finally:
            self.awaiting_answer = False
            self._answered.set()

    async def answered(self) -> None:
        """Until the latest offer has been answered (or the connection closed)."""
        if self.awaiting_answer:
            await self._answered.wait()

    async def add_candidate(self, line: str, mid: str | None, index: int | None) -> None:
        await add_candidate(self.pc, line, mid, index, self._ice)

    @property
    def failed(self) -> bool:
        return bool(self.pc.connectionState == "failed")

    def unanswered_for(self, now: float) -> float:
        """Seconds the latest offer has waited for its answer (0 when answered)."""
        return now - self.offered_at if self.awaiting_answer else 0.0

    async def close(self) -> None:
        self._answered.set()
        for slot in self._slots:
            slot.writer.close()  # nothing more from C, and our sockets closed
            if slot.track is not None:
                slot.track.stop()
        await self.pc.close()
        for fast in self.fast_receive:
            await fast.aclose()
