"""aiortc adapters: the only module that imports aiortc, aioice or av.

Encoded pass-through, built on aiortc 1.16 internals (pinned; tests fail loudly on change):
- in: each receiver's private decoder queue gets a stand-in (`FrameTap`) that hands the
  reassembled `(codec, JitterFrame)` to the SFU instead of the decoder thread — no decoding;
- out: a subscriber's sender reads a `ForwardedTrack` whose `recv()` returns `av.Packet`s, so
  `RTCRtpSender` calls the codec's `Encoder.pack()` — re-packetising only, no encoding;
- keyframes: a sender's `_send_keyframe` (PLI/FIR from the subscriber) is redirected to the
  SFU, which relays it, coalesced, to the publisher's receiver `_send_rtcp_pli`;
- the audio level header extension is read from each incoming packet for the active speaker.

ICE: host candidates come from `IceConfig.host_addresses` (aioice alone never offers
127.0.0.1) and the ICE servers are exactly `IceConfig.ice_servers` (none means none; aiortc
would otherwise fall back to a public STUN server).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import fractions
import ipaddress
import logging
import queue
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aioice.ice
import av
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpCodecParameters,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from sfu.errors import NegotiationError, SfuError

log = logging.getLogger("atelier.sfu.peer")

if TYPE_CHECKING:
    AvPacket = av.Packet[Any]
else:
    AvPacket = av.Packet

# Frames waiting for one subscriber's sender; past this the subscriber is too slow and frames
# are dropped (video then waits for the next keyframe).
TRACK_QUEUE_FRAMES = 128

# --- ICE host addresses -------------------------------------------------------------------

_HOST_ADDRESSES: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "sfu_host_addresses", default=None
)
_aioice_host_addresses = aioice.ice.get_host_addresses


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    chosen = _HOST_ADDRESSES.get()
    if chosen is None:
        return _aioice_host_addresses(use_ipv4, use_ipv6)
    return list(chosen)


# aioice looks the function up in its module at gathering time; the replacement only differs
# inside `host_addresses(...)` blocks, so other aiortc users in the process are unaffected.
aioice.ice.get_host_addresses = _host_addresses
# aioice logs every candidate pair's state change at INFO: a dozen lines per participant.
logging.getLogger("aioice.ice").setLevel(logging.WARNING)


@contextlib.contextmanager
def host_addresses(addresses: tuple[str, ...]) -> Iterator[None]:
    """Gather ICE host candidates on exactly these addresses (empty: aioice's own choice)."""
    token = _HOST_ADDRESSES.set(addresses or None)
    try:
        yield
    finally:
        _HOST_ADDRESSES.reset(token)


@dataclass(frozen=True)
class IceServer:
    urls: str
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class IceConfig:
    """Where the SFU's peers gather candidates and which STUN/TURN servers they use."""

    host_addresses: tuple[str, ...] = ()
    ice_servers: tuple[IceServer, ...] = ()
    public_address: str = ""

    def rtc_configuration(self) -> RTCConfiguration:
        servers = [RTCIceServer(s.urls, s.username, s.credential) for s in self.ice_servers]
        # One transport (one UDP port) per connection, as browsers bundle by default.
        return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


_HOST_CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ udp \d+ )(\S+)( \d+ typ host.*)$", re.M)


def _with_public_address(sdp: str, public_address: str) -> str:
    """Advertise host candidates at the public address (a 1:1 NAT in front of the SFU)."""
    if not public_address:
        return sdp
    return _HOST_CANDIDATE.sub(lambda m: m.group(1) + public_address + m.group(3), sdp)


_CANDIDATE_LINE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ (\S+) .*\r?\n?", re.M)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a hostname, such as a browser's mDNS `.local` name


def _loopback_only(ice: IceConfig) -> bool:
    return bool(ice.host_addresses) and all(_is_loopback(a) for a in ice.host_addresses)


def _reachable_candidates(sdp: str, ice: IceConfig) -> str:
    """With loopback host addresses (tests, benchmarks) keep only loopback remote candidates:
    nothing is sent to another address, and no mDNS name is resolved on the network."""
    if not _loopback_only(ice):
        return sdp
    return _CANDIDATE_LINE.sub(lambda m: m.group(0) if _is_loopback(m.group(1)) else "", sdp)


async def _set_local(
    pc: RTCPeerConnection, description: RTCSessionDescription, ice: IceConfig
) -> str:
    with host_addresses(ice.host_addresses):
        await pc.setLocalDescription(description)
    return _with_public_address(pc.localDescription.sdp, ice.public_address)


async def add_candidate(
    pc: RTCPeerConnection, line: str, mid: str | None, index: int | None, ice: IceConfig
) -> None:
    """Add a browser's trickled candidate (`candidate:...`); an empty line ends candidates."""
    if not line:
        await pc.addIceCandidate(None)
        return
    try:
        candidate = candidate_from_sdp(line.removeprefix("candidate:"))
        if _loopback_only(ice) and not _is_loopback(candidate.ip):
            return
        candidate.sdpMid = mid
        candidate.sdpMLineIndex = index
        await pc.addIceCandidate(candidate)
    except Exception:
        raise NegotiationError("malformed ICE candidate") from None


# --- receiving encoded frames ---------------------------------------------------------------


@dataclass(frozen=True)
class Codec:
    """The negotiated codec of a publication, as subscribers' senders must use it."""

    mime_type: str
    clock_rate: int

    @property
    def kind(self) -> str:
        return self.mime_type.split("/")[0]


@dataclass(frozen=True)
class EncodedFrame:
    """One reassembled frame, exactly as the publisher encoded it."""

    codec: Codec
    data: bytes
    timestamp: int

    def packet(self) -> AvPacket:
        """The frame as the `av.Packet` a sender packs without encoding (shared, read-only)."""
        packet = av.Packet(self.data)
        packet.pts = self.timestamp
        packet.time_base = fractions.Fraction(1, self.codec.clock_rate)
        return packet


class FrameTap(queue.Queue[Any]):
    """Stands in for a receiver's private decoder queue: frames go to `deliver`, undecoded.

    The idle decoder thread aiortc starts still blocks on `get()`; the `None` that
    `RTCRtpReceiver` puts on stop reaches it, so it ends as usual.
    """

    def __init__(self, deliver: Callable[[EncodedFrame], None]) -> None:
        super().__init__()
        self._deliver = deliver

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None)
            return
        codec, frame = item
        codec_id = Codec(codec.mimeType, codec.clockRate)
        self._deliver(EncodedFrame(codec_id, frame.data, frame.timestamp))

    @classmethod
    def install(cls, receiver: RTCRtpReceiver, deliver: Callable[[EncodedFrame], None]) -> FrameTap:
        """Put a tap on a receiver before it starts (from the `track` event)."""
        if not hasattr(receiver, "_RTCRtpReceiver__decoder_queue"):
            raise SfuError("aiortc internals changed: RTCRtpReceiver has no decoder queue")
        if getattr(receiver, "_RTCRtpReceiver__decoder_thread", None) is not None:
            raise SfuError("the receiver started before its frame tap was installed")
        tap = cls(deliver)
        receiver._RTCRtpReceiver__decoder_queue = tap
        return tap


def _negotiated(transceiver: RTCRtpTransceiver) -> Codec:
    codecs = [c for c in transceiver._codecs if c.mimeType.lower() != f"{transceiver.kind}/rtx"]
    if not codecs:
        raise NegotiationError(f"no common {transceiver.kind} codec")
    return Codec(codecs[0].mimeType, codecs[0].clockRate)


def _keep_first_codec(transceiver: RTCRtpTransceiver) -> None:
    """Answer with one codec (the browser's first choice) and its RTX: what we forward."""
    codecs: list[RTCRtpCodecParameters] = transceiver._codecs
    main = next((c for c in codecs if not c.mimeType.lower().endswith("/rtx")), None)
    if main is None:
        raise NegotiationError(f"no common {transceiver.kind} codec")
    rtx = [
        c
        for c in codecs
        if c.mimeType.lower().endswith("/rtx") and c.parameters.get("apt") == main.payloadType
    ]
    transceiver._codecs = [main, *rtx[:1]]


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
        self.pc = RTCPeerConnection(ice.rtc_configuration())
        self._receivers: dict[str, RTCRtpReceiver] = {}
        self._ssrc: dict[str, int] = {}
        self._pli_pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        # aiortc emits the track only: find its transceiver.
        transceiver = next(t for t in self.pc.getTransceivers() if t.receiver.track is track)
        mid = str(transceiver.mid)
        receiver = transceiver.receiver
        self._receivers[mid] = receiver
        FrameTap.install(receiver, lambda frame: self._on_frame(mid, frame))
        self._watch_packets(mid, receiver)

    def _watch_packets(self, mid: str, receiver: RTCRtpReceiver) -> None:
        handle = receiver._handle_rtp_packet
        rtx: dict[int, int] = receiver._RTCRtpReceiver__rtx_ssrc  # type: ignore[attr-defined]

        async def watched(packet: Any, arrival_time_ms: int) -> None:
            if packet.ssrc not in rtx:
                self._ssrc[mid] = packet.ssrc
                if mid in self._pli_pending:
                    self._pli_pending.discard(mid)
                    self.request_keyframe(mid)
            level = packet.extensions.audio_level
            if level is not None:
                self._on_audio_level(mid, int(level[1]))
            await handle(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = watched  # type: ignore[method-assign]

    async def answer(self, offer_sdp: str) -> tuple[str, list[Published]]:
        """Apply the browser's offer; return the answer and every transceiver that sends."""
        try:
            offer = _reachable_candidates(offer_sdp, self._ice)
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
        return await _set_local(self.pc, answer, self._ice), published

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
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


# --- sending encoded frames ------------------------------------------------------------------


class ForwardedTrack(MediaStreamTrack):
    """What a subscriber's sender reads: `av.Packet`s, so aiortc packs instead of encoding."""

    def __init__(self, kind: str, max_frames: int = TRACK_QUEUE_FRAMES) -> None:
        super().__init__()
        self.kind = kind
        self._queue: asyncio.Queue[AvPacket | None] = asyncio.Queue(max_frames)

    def push(self, packet: AvPacket) -> bool:
        """Queue a frame; False (dropped) when the subscriber is too slow."""
        if self.readyState != "live":
            return False
        try:
            self._queue.put_nowait(packet)
        except asyncio.QueueFull:
            return False
        return True

    async def recv(self) -> AvPacket:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            super().stop()
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)


@dataclass
class _Slot:
    transceiver: RTCRtpTransceiver
    codec: Codec
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

    def __init__(self, ice: IceConfig, on_keyframe_request: Callable[[str], None]) -> None:
        self._ice = ice
        self._on_keyframe_request = on_keyframe_request
        self.pc = RTCPeerConnection(ice.rtc_configuration())
        self._slots: list[_Slot] = []
        self.revision = 0
        self.awaiting_answer = False

    def forwarded(self) -> set[str]:
        return {s.track_id for s in self._slots if s.track_id is not None}

    def push(self, track_id: str, packet: AvPacket) -> bool:
        for slot in self._slots:
            if slot.track_id == track_id and slot.track is not None:
                return slot.track.push(packet)
        return False

    def _redirect_keyframe_requests(self, slot: _Slot) -> None:
        def requested() -> None:
            if slot.track_id is not None:
                self._on_keyframe_request(slot.track_id)

        slot.transceiver.sender._send_keyframe = requested  # type: ignore[method-assign]

    async def offer(self, wanted: list[Wanted]) -> tuple[str, dict[str, str | None]] | None:
        """Make the transceivers match `wanted`; the new offer and mid → track id, or None."""
        by_id = {w.track_id: w for w in wanted}
        changed = False
        for slot in self._slots:
            if slot.track_id is not None and slot.track_id not in by_id:
                assert slot.track is not None
                slot.track.stop()
                slot.transceiver.sender.replaceTrack(None)
                slot.transceiver.direction = "inactive"
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
                slot = _Slot(transceiver, want.codec)
                self._slots.append(slot)
                self._redirect_keyframe_requests(slot)
            slot.track_id, slot.track = want.track_id, track
        if not changed:
            return None
        offer = await self.pc.createOffer()
        sdp = await _set_local(self.pc, offer, self._ice)
        self.revision += 1
        self.awaiting_answer = True
        self.offered_at = time.monotonic()
        return sdp, {str(s.transceiver.mid): s.track_id for s in self._slots}

    async def accept_answer(self, sdp: str) -> None:
        try:
            answer = _reachable_candidates(sdp, self._ice)
            await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        except Exception as exc:  # as for offers: any failure is a refused answer
            raise NegotiationError(f"answer refused: {exc}"[:200]) from None
        finally:
            self.awaiting_answer = False

    async def add_candidate(self, line: str, mid: str | None, index: int | None) -> None:
        await add_candidate(self.pc, line, mid, index, self._ice)

    @property
    def failed(self) -> bool:
        return bool(self.pc.connectionState == "failed")

    def unanswered_for(self, now: float) -> float:
        """Seconds the latest offer has waited for its answer (0 when answered)."""
        return now - self.offered_at if self.awaiting_answer else 0.0

    async def close(self) -> None:
        for slot in self._slots:
            if slot.track is not None:
                slot.track.stop()
        await self.pc.close()
