"""aiortc adapters: the only module that imports aiortc, aioice or av.

Encoded pass-through, built on aiortc 1.16 internals (pinned; tests fail loudly on change):
- in: each receiver's private decoder queue gets a stand-in (`FrameTap`) that hands the
  reassembled `(codec, JitterFrame)` to the SFU instead of the decoder thread — no decoding;
- out: each frame is packetised once per publisher track (`PackedFrame`: RTP payloads, as
  aiortc's packetisers make them) and every subscriber's `RtpWriter` sends those payloads
  straight away, synchronously: an RTP header written on bytes, SRTP protection with the
  sender's session, `sendto` on the ICE pair's socket. aiortc's per-packet sender machinery
  (a task per sender, `RtpPacket` objects, header-extension maps) stays out of the way; the
  `RTCRtpSender` still answers RTCP (its SR counters are kept up to date here, NACKs are
  retransmitted as RTX from the writer's history);
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
import functools
import gc
import ipaddress
import logging
import queue
import random
import re
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aioice.ice
import aiortc.clock
import av
import pylibsrtp
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
from aiortc.codecs import get_encoder
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsFingerprint
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap
from aiortc.sdp import candidate_from_sdp
from pylibsrtp._binding import ffi as _srtp_ffi  # type: ignore[import-not-found]
from pylibsrtp._binding import lib as _srtp_lib

from sfu.errors import NegotiationError, SfuError

log = logging.getLogger("atelier.sfu.peer")

# Frames held for a subscriber whose sender has not started yet (the answer or the DTLS
# handshake is on its way); past this they are dropped (video then waits for a keyframe).
TRACK_QUEUE_FRAMES = 128
# Sent packets kept per subscriber track for retransmission on NACK (as aiortc keeps).
RTP_HISTORY = 128
# A packet is resent at most once per round trip (at least RESEND_GAP_MIN, at most
# RESEND_GAP_MAX apart), as libwebrtc and Janus do: aiortc's receivers NACK every packet still
# missing at each new gap, so under loss each one would otherwise be resent again and again
# (in a 10-person meeting on a loaded machine, ~0.7 retransmissions per packet sent), the
# retransmissions adding to the load that made the losses.
RESEND_GAP_MIN = 0.1
RESEND_GAP_MAX = 0.4
_RTP_HEADER = struct.Struct("!BBHII")
_NTP_OFFSET = 2_208_988_800  # 1900 → 1970, in seconds

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

# aiortc hashes the DTLS certificate (three digests) for every m-line of every description it
# makes or applies: a quarter of a subscribe renegotiation's time in a 10-person meeting. A
# certificate never changes, so its fingerprints are computed once.
_aiortc_fingerprints = RTCCertificate.getFingerprints


def _cached_fingerprints(self: RTCCertificate) -> list[RTCDtlsFingerprint]:
    cached: list[RTCDtlsFingerprint] | None = getattr(self, "_sfu_fingerprints", None)
    if cached is None:
        cached = _aiortc_fingerprints(self)
        self._sfu_fingerprints = cached  # type: ignore[attr-defined]
    return list(cached)


RTCCertificate.getFingerprints = _cached_fingerprints  # type: ignore[method-assign]


def _current_ms() -> int:
    """aiortc's `clock.current_ms()` (milliseconds since 1900, the arrival time of every RTP
    packet), from `time.time()` instead of timezone-aware datetime arithmetic."""
    return int((time.time() + _NTP_OFFSET) * 1000)


aiortc.clock.current_ms = _current_ms


@contextlib.contextmanager
def host_addresses(addresses: tuple[str, ...]) -> Iterator[None]:
    """Gather ICE host candidates on exactly these addresses (empty: aioice's own choice)."""
    token = _HOST_ADDRESSES.set(addresses or None)
    try:
        yield
    finally:
        _HOST_ADDRESSES.reset(token)


# The process's modules (~150k long-lived objects, most of the heap) are walked by every full
# collection: 40-100 ms with the event loop stopped, and a meeting's joins (peer connections,
# SDP objects) trigger several, stalling a newcomer's offer or first frames. Frozen once here,
# when the SFU is imported with the rest of the app, they are no longer walked (a full
# collection then takes ~10 ms); being alive now, nothing is lost but the rare cycle among
# them that dies later.
gc.collect()
gc.freeze()


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


class PackedFrame:
    """A frame packetised once for every subscriber: RTP payloads and the RTP timestamp."""

    __slots__ = ("payloads", "size", "timestamp")

    def __init__(self, payloads: list[bytes], timestamp: int) -> None:
        self.payloads = payloads
        self.timestamp = timestamp
        self.size = sum(len(p) for p in payloads)


# What `EncodedFrame.packet()` returns, under the name the runtime (sfu/node.py) uses.
AvPacket = PackedFrame


class Packetizer:
    """One publisher track's RTP packetiser: aiortc's, run once per frame for everyone.

    VP8 keeps a picture id across frames, so a track has one packetiser and each frame is
    packetised once (`EncodedFrame.packet()` caches it).
    """

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        mime = codec.mime_type.lower()
        self._picture_id = random.randint(0, (1 << 15) - 1)
        self._encoder: Any = None
        if mime == "video/vp8":
            self.pack = self._vp8
        elif mime == "audio/opus":
            self.pack = self._whole
        else:
            self._encoder = (
                H264Encoder()
                if mime == "video/h264"
                else get_encoder(RTCRtpCodecParameters(codec.mime_type, codec.clock_rate))
            )
            self.pack = self._with_encoder

    def _vp8(self, data: bytes, timestamp: int) -> PackedFrame:
        payloads = Vp8Encoder._packetize(data, self._picture_id)
        self._picture_id = (self._picture_id + 1) % (1 << 15)
        return PackedFrame(payloads, timestamp)

    def _whole(self, data: bytes, timestamp: int) -> PackedFrame:
        return PackedFrame([data], timestamp)

    def _with_encoder(self, data: bytes, timestamp: int) -> PackedFrame:
        packet = av.Packet(data)
        packet.pts = timestamp
        packet.time_base = fractions.Fraction(1, self.codec.clock_rate)
        payloads, rtp_timestamp = self._encoder.pack(packet)
        return PackedFrame(payloads, rtp_timestamp)


@dataclass(frozen=True)
class EncodedFrame:
    """One reassembled frame, exactly as the publisher encoded it."""

    codec: Codec
    data: bytes
    timestamp: int
    packetizer: Packetizer | None = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def _packed(self) -> PackedFrame:
        packetizer = self.packetizer or Packetizer(self.codec)
        return packetizer.pack(self.data, self.timestamp)

    def packet(self) -> PackedFrame:
        """The frame's RTP payloads, made once and shared by every subscriber (read-only)."""
        return self._packed


class FrameTap(queue.Queue[Any]):
    """Stands in for a receiver's private decoder queue: frames go to `deliver`, undecoded.

    The idle decoder thread aiortc starts still blocks on `get()`; the `None` that
    `RTCRtpReceiver` puts on stop reaches it, so it ends as usual.
    """

    def __init__(self, deliver: Callable[[EncodedFrame], None]) -> None:
        super().__init__()
        self._deliver = deliver
        self._codec: Any = None
        self._packetizer: Packetizer | None = None

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None)
            return
        codec, frame = item
        packetizer = self._packetizer
        if codec is not self._codec or packetizer is None:
            self._codec = codec
            packetizer = self._packetizer = Packetizer(Codec(codec.mimeType, codec.clockRate))
        self._deliver(EncodedFrame(packetizer.codec, frame.data, frame.timestamp, packetizer))

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
    # No REMB from the SFU (see `_no_bandwidth_estimation`): do not announce it.
    main.rtcpFeedback = [f for f in main.rtcpFeedback if f.type != "goog-remb"]
    transceiver._codecs = [main, *rtx[:1]]


def _no_bandwidth_estimation(receiver: RTCRtpReceiver) -> None:
    """Drop a publisher receiver's remote bitrate estimator (and so its REMB feedback).

    aiortc runs it on every video packet that carries abs-send-time (inter-arrival groups,
    an overuse detector, a rate counter): ~8 % of the SFU's CPU in a meeting, for a figure the
    SFU never reads. Publishers keep their loss-based estimate (receiver reports).
    """
    name = "_RTCRtpReceiver__remote_bitrate_estimator"
    if not hasattr(receiver, name):
        raise SfuError("aiortc internals changed: RTCRtpReceiver has no bitrate estimator")
    setattr(receiver, name, None)


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
        _no_bandwidth_estimation(receiver)
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


def _fast_protect(session: pylibsrtp.Session) -> Callable[[bytes], bytes]:
    """`session.protect`, the same libsrtp call without pylibsrtp's per-packet allocations.

    The function holds the session: libsrtp's context is freed with it.
    """
    srtp = session._srtp[0]
    cdata = session._cdata
    buffer = session._buffer
    length = _srtp_ffi.new("int *")
    protect = _srtp_lib.srtp_protect
    limit = len(buffer) - pylibsrtp.SRTP_MAX_TRAILER_LEN
    ok = _srtp_lib.srtp_err_status_ok

    def fast(data: bytes, session: pylibsrtp.Session = session) -> bytes:
        size = len(data)
        if size > limit:
            raise ValueError("packet is too long")
        length[0] = size
        buffer[0:size] = data
        status = protect(srtp, cdata, length)
        if status != ok:
            raise pylibsrtp.Error(f"srtp_protect failed ({status})")
        return bytes(buffer[0 : length[0]])

    return fast


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


class RtpWriter:
    """Sends one subscriber transceiver's frames as SRTP, synchronously, from `write()`.

    Every frame goes out as the RTP packets aiortc's sender would have made (same header, same
    `mid` and `abs-send-time` extensions, same payloads), one `sendto` each on the ICE pair's
    socket. Until aiortc starts the sender (the answer applied, DTLS connected) frames wait
    here, and go out at once when it has. The sender keeps its RTCP: SR counters are updated
    here, and its NACK handling retransmits from this writer's history (as RTX when negotiated).
    """

    def __init__(
        self,
        sender: RTCRtpSender,
        max_pending: int = TRACK_QUEUE_FRAMES,
    ) -> None:
        self._sender = sender
        self._started = False
        self._max_pending = max_pending
        self._pending: list[PackedFrame] | None = []  # None once started and drained
        self._seq = random.randint(0, 0xFFFF)
        self._timestamp_origin = random.getrandbits(32)
        self._rtx_seq = random.randint(0, 0xFFFF)
        self._rtx_payload_type: int | None = None
        self._history: list[bytes | None] = [None] * RTP_HISTORY
        self._resent_at = [0.0] * RTP_HISTORY
        self._extensions = HeaderExtensionsMap()
        self._first_byte = 0x80
        self._payload_type = 0
        self._ext_head = b""  # extension block up to abs-send-time's 3 bytes (or all of it)
        self._ext_tail = b""
        self._abs_send_time = False
        self._srtp: pylibsrtp.Session | None = None
        self._protect: Callable[[bytes], bytes] = bytes
        aiortc_send = sender.send

        async def send(parameters: RTCRtpSendParameters) -> None:
            await aiortc_send(parameters)
            self._start(parameters)

        sender.send = send  # type: ignore[method-assign]
        sender._retransmit = self._retransmit  # type: ignore[method-assign]

    @property
    def started(self) -> bool:
        return self._started

    def _start(self, parameters: RTCRtpSendParameters) -> None:
        if self._started:
            return  # aiortc calls send() again on every renegotiation; the first one counts
        self._started = True
        codec = parameters.codecs[0]
        self._payload_type = codec.payloadType or 0
        for rtx in parameters.codecs:
            if rtx.mimeType.lower().endswith("/rtx") and rtx.parameters.get("apt") == (
                codec.payloadType
            ):
                self._rtx_payload_type = rtx.payloadType
                break
        self._extensions.configure(parameters)
        mid = parameters.muxId
        profile, low = self._extensions.set(HeaderExtensions(mid=mid, abs_send_time=0))
        _, high = self._extensions.set(HeaderExtensions(mid=mid, abs_send_time=0xFFFFFF))
        if low:
            self._first_byte = 0x90
            block = struct.pack("!HH", profile, len(low) >> 2) + low
            changed = [i for i in range(len(low)) if low[i] != high[i]]
            if changed:
                at = changed[0] + 4
                self._ext_head, self._ext_tail = block[:at], block[at + 3 :]
                self._abs_send_time = True
            else:
                self._ext_head = block
        pending, self._pending = self._pending or [], None
        for frame in pending:
            self._send(frame)

    def clear(self) -> None:
        """Forget frames still waiting for the sender (its track changes)."""
        if self._pending:
            self._pending.clear()

    def write(self, frame: PackedFrame) -> bool:
        """Send a frame now (or keep it until the sender starts); False when dropped."""
        pending = self._pending
        if pending is not None:
            if len(pending) >= self._max_pending:
                return False
            pending.append(frame)
            return True
        self._send(frame)
        return True

    def _send(self, frame: PackedFrame) -> None:
        sender = self._sender
        dtls = sender.transport
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None or dtls.state != "connected" or not sender._enabled:
            return  # closing or paused: nothing to send to, as aiortc would drop it
        sendto = pair.protocol.transport.sendto
        addr = pair.remote_addr
        srtp = dtls._tx_srtp
        if srtp is not self._srtp:
            self._srtp = srtp
            fast = isinstance(srtp, pylibsrtp.Session)
            self._protect = _fast_protect(srtp) if fast else srtp.protect
        protect = self._protect
        now = time.time() + _NTP_OFFSET
        if self._abs_send_time:
            stamp = (int(now * 262144) & 0xFFFFFF).to_bytes(3, "big")  # 6.18 fixed point
            extensions = self._ext_head + stamp + self._ext_tail
        else:
            extensions = self._ext_head
        timestamp = (self._timestamp_origin + frame.timestamp) & 0xFFFFFFFF
        ssrc = sender._ssrc
        first = self._first_byte
        history = self._history
        resent_at = self._resent_at
        seq = self._seq
        payloads = frame.payloads
        last = len(payloads) - 1
        pack = _RTP_HEADER.pack
        try:
            for i, payload in enumerate(payloads):
                marker = self._payload_type | (0x80 if i == last else 0)
                data = pack(first, marker, seq, timestamp, ssrc) + extensions + payload
                history[seq % RTP_HISTORY] = data
                resent_at[seq % RTP_HISTORY] = 0.0
                sendto(protect(data), addr)
                seq = (seq + 1) & 0xFFFF
        except Exception:  # a transport closing under us: the connection is going away
            log.debug("forwarding to a closing connection failed", exc_info=True)
        self._seq = seq
        # The sender's RTCP sender reports read these (aiortc's own sending loop keeps them).
        sender._RTCRtpSender__ntp_timestamp = int(now * 4294967296)  # type: ignore[attr-defined]
        sender._RTCRtpSender__rtp_timestamp = timestamp  # type: ignore[attr-defined]
        sender._RTCRtpSender__octet_count += frame.size  # type: ignore[attr-defined]
        sender._RTCRtpSender__packet_count += len(payloads)  # type: ignore[attr-defined]

    async def _retransmit(self, sequence_number: int) -> None:
        """A NACKed packet, again: as RTX when negotiated (what `RTCRtpSender` does)."""
        slot = sequence_number % RTP_HISTORY
        data = self._history[slot]
        if data is None or data[2:4] != sequence_number.to_bytes(2, "big"):
            return
        now = time.monotonic()
        rtt = self._sender._RTCRtpSender__rtt or 0.0  # type: ignore[attr-defined]
        if now - self._resent_at[slot] < min(max(rtt, RESEND_GAP_MIN), RESEND_GAP_MAX):
            return  # resent less than a round trip ago: that copy is on its way
        self._resent_at[slot] = now
        if self._rtx_payload_type is not None:
            # RFC 4588: the RTX stream's header (same timestamp, marker and extensions), then
            # the original sequence number and payload.
            header = 12 + len(self._ext_head) + len(self._ext_tail) + 3 * self._abs_send_time
            data = (
                _RTP_HEADER.pack(
                    data[0],
                    (data[1] & 0x80) | self._rtx_payload_type,
                    self._rtx_seq,
                    int.from_bytes(data[4:8], "big"),
                    self._sender._rtx_ssrc,
                )
                + data[12:header]
                + data[2:4]
                + data[header:]
            )
            self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
        with contextlib.suppress(ConnectionError):
            await self._sender.transport._send_rtp(data)


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

    def __init__(self, ice: IceConfig, on_keyframe_request: Callable[[str], None]) -> None:
        self._ice = ice
        self._on_keyframe_request = on_keyframe_request
        self.pc = RTCPeerConnection(ice.rtc_configuration())
        self._slots: list[_Slot] = []
        self._by_track: dict[str, RtpWriter] = {}
        self.revision = 0
        self.awaiting_answer = False
        self._answered = asyncio.Event()

    def forwarded(self) -> set[str]:
        return {s.track_id for s in self._slots if s.track_id is not None}

    def push(self, track_id: str, packet: PackedFrame) -> bool:
        """Send a frame of `track_id` to this subscriber now; False when it was dropped."""
        writer = self._by_track.get(track_id)
        return writer is not None and writer.write(packet)

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
                slot = _Slot(transceiver, want.codec, writer)
                self._slots.append(slot)
                self._redirect_keyframe_requests(slot)
            slot.track_id, slot.track = want.track_id, track
            self._by_track[want.track_id] = slot.writer
        if not changed:
            return None
        offer = await self.pc.createOffer()
        sdp = await _set_local(self.pc, offer, self._ice)
        self.revision += 1
        self.awaiting_answer = True
        self._answered.clear()
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
            if slot.track is not None:
                slot.track.stop()
        await self.pc.close()
