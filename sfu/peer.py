"""aiortc adapters: the only module that imports aiortc, aioice or av.

Encoded pass-through, built on aiortc 1.16 internals (pinned; tests fail loudly on change):
- packets in: once a connection's DTLS transport is connected, its ICE sockets hand SRTP and
  SRTCP to `FastReceive` as they read them (not through aioice's queue and aiortc's receiving
  task): unprotected with the same libsrtp session, parsed reading only the audio level, and
  given to aiortc's router and receivers' handlers, run at once;
- in: each receiver's private decoder queue gets a stand-in (`FrameTap`) that hands the
  reassembled `(codec, JitterFrame)` to the SFU instead of the decoder thread — no decoding;
- out: each frame's RTP payloads are made once per publisher track (`PackedFrame`: a VP8
  frame's own payloads as the publisher sent them, other codecs packetised as aiortc's
  packetisers do) and sent to every subscriber straight away, synchronously: from C
  (`fanout`, `sfu.native`) for all the subscribers whose `RtpWriter` allows it, else by the
  writer itself (an RTP header written on bytes, SRTP protection with the sender's session,
  `sendto` on the ICE pair's socket). aiortc's per-packet sender machinery (a task per
  sender, `RtpPacket` objects, header-extension maps) stays out of the way; the
  `RTCRtpSender` still answers RTCP (NACKs are retransmitted as RTX from the writer's
  history or C's ring); its once-a-second sender reports are packed, SRTCP-protected and sent
  the same way, byte for byte aiortc's (only the BYE at the end goes aiortc's way);
- keyframes: a sender's `_send_keyframe` (PLI/FIR from the subscriber) is redirected to the
  SFU, which relays it, coalesced, to the publisher's receiver `_send_rtcp_pli`;
- the audio level header extension is read from each incoming packet for the active speaker.

ICE: host candidates come from `IceConfig.host_addresses` (aioice alone never offers
127.0.0.1), their UDP ports from `IceConfig.udp_ports` when set (aioice alone binds port 0,
the kernel's ephemeral range), and the ICE servers are exactly `IceConfig.ice_servers` (none
means none; aiortc would otherwise fall back to a public STUN server).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import fractions
import functools
import ipaddress
import itertools
import logging
import os
import queue
import random
import re
import socket
import struct
import time
import types
import weakref
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

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
from aiortc.codecs.h264 import H264Encoder, h264_depayload
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsFingerprint, RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import (
    HeaderExtensions,
    HeaderExtensionsMap,
    RtcpByePacket,
    RtcpSdesPacket,
    RtcpSourceInfo,
    RtpPacket,
    unwrap_rtx,
)
from aiortc.sdp import candidate_from_sdp
from pylibsrtp._binding import ffi as _srtp_ffi  # type: ignore[import-not-found]
from pylibsrtp._binding import lib as _srtp_lib

from sfu import native
from sfu.errors import NegotiationError, SfuError

log = logging.getLogger("atelier.sfu.peer")

# Frames held for a subscriber whose sender has not started yet (the answer or the DTLS
# handshake is on its way); past this they are dropped (video then waits for a keyframe).
TRACK_QUEUE_FRAMES = 128
# Sent packets kept per subscriber track for retransmission on NACK (as aiortc keeps).
RTP_HISTORY = 128
# An audio packet this many sequence numbers behind the last one forwarded is late (dropped);
# further behind, the publisher's stream restarted (aiortc's jitter buffer: MAX_MISORDER).
AUDIO_MISORDER = 100
# A packet is resent at most once per round trip (at least RESEND_GAP_MIN, at most
# RESEND_GAP_MAX apart), as libwebrtc and Janus do: aiortc's receivers NACK every packet still
# missing at each new gap, so under loss each one would otherwise be resent again and again
# (in a 10-person meeting on a loaded machine, ~0.7 retransmissions per packet sent), the
# retransmissions adding to the load that made the losses.
RESEND_GAP_MIN = 0.1
RESEND_GAP_MAX = 0.4
_RTP_HEADER = struct.Struct("!BBHII")
_SENDER_REPORT = struct.Struct("!BBHLQLLL")  # RTCP SR without report blocks (RFC 3550 6.4.1)
NTP_OFFSET = 2_208_988_800  # 1900 → 1970, in seconds

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
    return int((time.time() + NTP_OFFSET) * 1000)


aiortc.clock.current_ms = _current_ms


@contextlib.contextmanager
def host_addresses(addresses: tuple[str, ...]) -> Iterator[None]:
    """Gather ICE host candidates on exactly these addresses (empty: aioice's own choice)."""
    token = _HOST_ADDRESSES.set(addresses or None)
    try:
        yield
    finally:
        _HOST_ADDRESSES.reset(token)


# --- ICE host ports ---------------------------------------------------------------------------

_UDP_PORTS: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "sfu_udp_ports", default=None
)
# Where the next search of a range starts: just after the port bound last, so that a search
# usually succeeds at its first try and a port just freed is reused last (late packets of the
# connection that had it then meet nobody). The first search starts at random.
_next_port: dict[tuple[int, int], int] = {}


class UdpPortsExhausted(NegotiationError):
    """Every UDP port of the configured range is in use on a host address."""


def _bind_in_range(address: str, ports: tuple[int, int]) -> socket.socket:
    """A UDP socket bound to `address` on a free port of `ports` (inclusive bounds).

    Ports are tried round-robin from where the last search stopped; a port in use (by this
    process or another) is skipped. UdpPortsExhausted when none is free; any other bind error
    is the OSError aioice expects (it then skips that address, as without a range).
    """
    low, high = ports
    count = high - low + 1
    start = _next_port.get(ports)
    if start is None:
        start = random.randint(low, high)
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for i in range(count):
            port = low + (start - low + i) % count
            try:
                sock.bind((address, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    continue  # a failed bind leaves the socket unbound: try the next port
                raise
            _next_port[ports] = port + 1 if port < high else low
            return sock
    except BaseException:
        sock.close()
        raise
    sock.close()
    raise UdpPortsExhausted(f"no free UDP port in {low}-{high} on {address}")


class _PortRangeLoop:
    """The running loop as `aioice.ice` sees it while the SFU gathers with a port range.

    A host socket (`create_datagram_endpoint(..., local_addr=(address, 0))`, what
    `Connection.get_component_candidates` asks for) is bound in the range; everything else
    goes to the loop. One is made per `get_running_loop()` call, i.e. per connection
    component: if a later host address finds no free port, the sockets it opened for earlier
    ones are closed before the error goes up (aioice has not recorded them yet).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, ports: tuple[int, int]) -> None:
        self._loop = loop
        self._ports = ports
        self._opened: list[asyncio.BaseTransport] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    async def create_datagram_endpoint(
        self, protocol_factory: Callable[[], Any], local_addr: Any = None, **kwargs: Any
    ) -> tuple[asyncio.DatagramTransport, Any]:
        if local_addr is None or local_addr[1] != 0 or kwargs:
            return await self._loop.create_datagram_endpoint(
                protocol_factory, local_addr=local_addr, **kwargs
            )
        try:
            sock = _bind_in_range(local_addr[0], self._ports)
        except UdpPortsExhausted:
            for transport in self._opened:
                transport.close()
            raise
        try:
            transport, protocol = await self._loop.create_datagram_endpoint(
                protocol_factory, sock=sock
            )
        except BaseException:
            sock.close()
            raise
        self._opened.append(transport)
        return transport, protocol


class _AioiceAsyncio(types.ModuleType):
    """`asyncio` as `aioice.ice` sees it: the module itself, except that `get_running_loop()`
    inside a `udp_ports(...)` block returns a `_PortRangeLoop` (uvloop's loops take no new
    attributes, and other aioice users in the process keep the plain loop)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    def get_running_loop() -> Any:
        loop = asyncio.get_running_loop()
        ports = _UDP_PORTS.get()
        return loop if ports is None else _PortRangeLoop(loop, ports)


# aioice 0.13 binds host sockets in `Connection.get_component_candidates` with
# `asyncio.get_running_loop().create_datagram_endpoint(..., local_addr=(address, 0))`.
_GATHERING_NAMES = {"asyncio", "get_running_loop", "create_datagram_endpoint"}
_gathering = aioice.ice.Connection.get_component_candidates
if not _GATHERING_NAMES <= set(_gathering.__code__.co_names):  # pragma: no cover
    raise RuntimeError("aioice gathers host candidates another way: check udp_ports()")
aioice.ice.asyncio = _AioiceAsyncio("asyncio")  # type: ignore[attr-defined]


@contextlib.contextmanager
def udp_ports(ports: tuple[int, int] | None) -> Iterator[None]:
    """Bind ICE host sockets within `ports` (LOW, HIGH inclusive; None: the kernel's choice)."""
    token = _UDP_PORTS.set(ports)
    try:
        yield
    finally:
        _UDP_PORTS.reset(token)


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
    # (LOW, HIGH): host candidates' UDP ports, both included; None: the kernel's ephemeral ones.
    udp_ports: tuple[int, int] | None = None

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
    with host_addresses(ice.host_addresses), udp_ports(ice.udp_ports):
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


# --- receiving packets ------------------------------------------------------------------------

# Largest datagram read from a socket: any UDP datagram fits. asyncio's selector loop reads with
# 256 KiB, an allocation above glibc's mmap threshold: mmap, mremap and munmap for every packet.
_MAX_DATAGRAM = 65536
_CSRC = [struct.Struct(f"!{n}L") for n in range(16)]
_EXTENSION_HEADER = struct.Struct("!HH")
# The extensions of an RTP packet without an audio level (shared: nothing on the receive path
# changes a packet's extensions).
_NO_EXTENSIONS = HeaderExtensions()
_new_rtp_packet = RtpPacket.__new__


def _audio_level(profile: int, data: bytes, start: int, end: int, wanted: int | None) -> Any:
    """The audio level element (RFC 6464) of an extension block, checked as aiortc checks it
    (a truncated element drops the packet); None without one."""
    found = None
    pos = start
    if profile == 0xBEDE:  # one-byte headers
        while pos < end:
            head = data[pos]
            if head == 0:  # padding
                pos += 1
                continue
            size = (head & 0x0F) + 1
            pos += 1
            if pos + size > end:
                raise ValueError("RTP one-byte header extension value is truncated")
            if head >> 4 == wanted and size == 1:
                found = data[pos]
            pos += size
    elif profile == 0x1000:  # two-byte headers
        while pos < end:
            if data[pos] == 0:
                pos += 1
                continue
            if pos + 2 > end:
                raise ValueError("RTP two-byte header extension is truncated")
            ident, size = data[pos], data[pos + 1]
            pos += 2
            if pos + size > end:
                raise ValueError("RTP two-byte header extension value is truncated")
            if ident == wanted and size == 1:
                found = data[pos]
            pos += size
    if found is None:
        return None
    return (found & 0x80 == 0x80, found & 0x7F)


def _parse_rtp(data: bytes, audio_level_id: int | None) -> RtpPacket:
    """`RtpPacket.parse`, with the same checks and fields, reading of the header extensions only
    the audio level (what the SFU uses; aiortc's receiver reads abs-send-time only for the
    bitrate estimator the SFU removes, and routes by SSRC and payload type)."""
    size = len(data)
    if size < 12:
        raise ValueError("RTP packet length is less than 12 bytes")
    first, second, sequence_number, timestamp, ssrc = _RTP_HEADER.unpack_from(data)
    if first >> 6 != 2:
        raise ValueError("RTP packet has invalid version")
    count = first & 0x0F
    pos = 12 + 4 * count
    if size < pos:
        raise ValueError("RTP packet has truncated CSRC")
    packet = _new_rtp_packet(RtpPacket)
    packet.version = 2
    packet.marker = second >> 7
    packet.payload_type = second & 0x7F
    packet.sequence_number = sequence_number
    packet.timestamp = timestamp
    packet.ssrc = ssrc
    packet.csrc = list(_CSRC[count].unpack_from(data, 12)) if count else []
    packet.extensions = _NO_EXTENSIONS
    if first & 0x10:
        if size < pos + 4:
            raise ValueError("RTP packet has truncated extension profile / length")
        profile, words = _EXTENSION_HEADER.unpack_from(data, pos)
        pos += 4
        end = pos + 4 * words
        if size < end:
            raise ValueError("RTP packet has truncated extension value")
        level = _audio_level(profile, data, pos, end, audio_level_id)
        if level is not None:
            packet.extensions = HeaderExtensions(audio_level=level)
        pos = end
    if first & 0x20:
        padding = data[-1]
        if not padding or padding > size - pos:
            raise ValueError("RTP packet padding length is invalid")
        packet.padding_size = padding
        packet.payload = data[pos:-padding]
    else:
        packet.padding_size = 0
        packet.payload = data[pos:]
    return packet


def _fast_unprotect(session: pylibsrtp.Session, rtcp: bool) -> Callable[[bytes], bytes]:
    """`session.unprotect` (or `unprotect_rtcp`) without pylibsrtp's per-packet allocations; a
    packet too long for its buffer is a `pylibsrtp.Error` (dropped) rather than a ValueError,
    which would end aiortc's receiving task, and with it the connection."""
    srtp = session._srtp[0]
    cdata = session._cdata
    buffer = session._buffer
    length = _srtp_ffi.new("int *")
    unprotect = _srtp_lib.srtp_unprotect_rtcp if rtcp else _srtp_lib.srtp_unprotect
    limit = len(buffer)
    ok = _srtp_lib.srtp_err_status_ok

    def fast(data: bytes, session: pylibsrtp.Session = session) -> bytes:
        size = len(data)
        if size > limit:
            raise pylibsrtp.Error("packet is too long")
        length[0] = size
        buffer[0:size] = data
        status = unprotect(srtp, cdata, length)
        if status != ok:
            raise pylibsrtp.Error(f"srtp_unprotect failed ({status})")
        return buffer[0 : length[0]]  # type: ignore[no-any-return]

    return fast


@types.coroutine
def _resume(coro: Coroutine[Any, Any, None], awaited: Any) -> Generator[Any, Any, None]:
    """Go on with a coroutine that suspended (it yielded `awaited` to us) inside a task: the
    task waits on what it waits on, and sends into or throws into it as it would."""
    while True:
        try:
            sent = yield awaited
        except BaseException as exc:  # the task is cancelled: so is what the coroutine awaits
            try:
                awaited = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                awaited = coro.send(sent)
            except StopIteration:
                return


class FastReceive:
    """One connection's SRTP/SRTCP packets, handled as the socket hands them over.

    aiortc queues every datagram (aioice's `asyncio.Queue`) for a task that reads the queue,
    unprotects, parses and awaits the receiver's (or, for RTCP, the RTP router's) handler. Once
    the DTLS transport is connected, each ICE socket's `datagram_received` sends SRTP and SRTCP
    (first byte 128–191, RFC 7983) here instead: unprotected with the same libsrtp session,
    parsed (`_parse_rtp`), routed by aiortc's router and handed to the same handlers, whose
    coroutines are run at once. They do not suspend in practice (sending RTCP is a `sendto`);
    if one does (a TURN channel bind), it goes on in a task and later packets wait behind it,
    in order, as they would have in aiortc's task. STUN (ICE checks, consent) and DTLS still go
    through aioice and aiortc. The transport's byte and packet counters are kept.
    """

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self._dtls = dtls
        self._protocols: list[Any] = []
        self._session: pylibsrtp.Session | None = None
        self._unprotect: Callable[[bytes], bytes] = bytes
        self._unprotect_rtcp: Callable[[bytes], bytes] = bytes
        self._router = dtls._rtp_router
        self._extension_ids: HeaderExtensions = (
            dtls._rtp_header_extensions_map._HeaderExtensionsMap__ids  # type: ignore[attr-defined]
        )
        self._backlog: deque[Coroutine[Any, Any, None]] | None = None
        self._suspended: tuple[Coroutine[Any, Any, None], Any] | None = None
        self._warned = False
        self.task: asyncio.Task[None] | None = None
        self.handled = 0  # packets handled here (tests)

    @classmethod
    def watch(cls, pc: RTCPeerConnection) -> list[FastReceive]:
        """Take over each of `pc`'s DTLS transports' SRTP once it is connected; the new ones."""
        added = []
        for transceiver in pc.getTransceivers():
            dtls = transceiver.receiver.transport
            if dtls is None or getattr(dtls, "_sfu_fast_receive", None) is not None:
                continue
            if not hasattr(dtls, "_rtp_router") or not hasattr(dtls, "_rx_srtp"):
                raise SfuError("aiortc internals changed: RTCDtlsTransport has no RTP router")
            fast = cls(dtls)
            dtls._sfu_fast_receive = fast  # type: ignore[attr-defined]
            dtls.on("statechange", fast._state_changed)
            if dtls._state == DtlsState.CONNECTED:
                fast._install()
            added.append(fast)
        return added

    def _state_changed(self) -> None:
        if self._dtls._state == DtlsState.CONNECTED:
            self._install()
        else:
            self._uninstall()

    def _install(self) -> None:
        if self._protocols:
            return
        connection = self._dtls.transport._connection
        for protocol in list(connection._protocols):
            transport = getattr(protocol, "transport", None)
            if getattr(transport, "max_size", 0) > _MAX_DATAGRAM:
                transport.max_size = _MAX_DATAGRAM  # type: ignore[union-attr]
            protocol.datagram_received = functools.partial(  # type: ignore[method-assign]
                self._datagram_received, protocol.datagram_received
            )
            self._protocols.append(protocol)

    def _uninstall(self) -> None:
        for protocol in self._protocols:
            with contextlib.suppress(AttributeError):
                del protocol.datagram_received  # aioice's method again
        self._protocols.clear()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def aclose(self) -> None:
        self._uninstall()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        self._drop_backlog()

    def _datagram_received(self, aioice_received: Any, data: bytes, addr: Any) -> None:
        if data and 127 < data[0] < 192:
            self._srtp(data)
        else:
            aioice_received(data, addr)

    def _srtp(self, data: bytes) -> None:
        dtls = self._dtls
        session = dtls._rx_srtp
        if session is None:
            return  # as aiortc: SRTP before the keys are known is dropped
        if session is not self._session:
            self._session = session
            self._unprotect = _fast_unprotect(session, rtcp=False)
            self._unprotect_rtcp = _fast_unprotect(session, rtcp=True)
        dtls._RTCDtlsTransport__rx_bytes += len(data)  # type: ignore[attr-defined]
        dtls._RTCDtlsTransport__rx_packets += 1  # type: ignore[attr-defined]
        self.handled += 1
        try:
            if len(data) >= 2 and 192 <= data[1] <= 208:  # RTCP (aiortc's `is_rtcp`)
                self._run(dtls._handle_rtcp_data(self._unprotect_rtcp(data)))
                return
            arrival_time_ms = _current_ms()
            packet = _parse_rtp(self._unprotect(data), self._extension_ids.audio_level)
        except pylibsrtp.Error as exc:
            log.debug("SRTP unprotect failed: %s", exc)
            return
        except ValueError as exc:
            log.debug("RTP parsing failed: %s", exc)
            return
        receiver = self._router.route_rtp(packet)
        if receiver is None:
            return
        handle = getattr(receiver, "_sfu_handle_rtp", None)
        if handle is not None and self._backlog is None:
            handle(packet, arrival_time_ms, self._run)
        else:
            self._run(receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms))

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._backlog is not None:  # an earlier packet's handler is still suspended
            self._backlog.append(coro)
            return
        try:
            awaited = coro.send(None)
        except StopIteration:
            return
        except Exception:
            self._failed()
            return
        self._backlog = deque()
        self._suspended = (coro, awaited)
        self.task = asyncio.ensure_future(self._finish())

    async def _finish(self) -> None:
        assert self._suspended is not None and self._backlog is not None
        coro, awaited = self._suspended
        try:
            await _resume(coro, awaited)
        except Exception:
            self._failed()
        self._suspended = None
        while self._backlog:
            try:
                await self._backlog.popleft()
            except Exception:
                self._failed()
        self._backlog = None

    def _failed(self) -> None:
        """A handler raised (aiortc's receiving task would have ended there, and with it the
        connection's media): the packet is dropped; a warning the first time, then debug."""
        level = logging.DEBUG if self._warned else logging.WARNING
        self._warned = True
        log.log(level, "handling a received packet failed", exc_info=True)

    def _drop_backlog(self) -> None:
        """After the task ended early (cancelled, maybe before it started): close what is
        left, as the task's cancellation would have."""
        if self._suspended is not None:
            coro, awaited = self._suspended
            if isinstance(awaited, asyncio.Future):
                awaited.cancel()
            coro.close()
            self._suspended = None
        for left in self._backlog or ():
            left.close()
        self._backlog = None


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
    """A frame packetised once for every subscriber: RTP payloads and the RTP timestamp.

    `serial` names it in the C writers' retransmission rings once its track's packetiser
    keeps it (`Packetizer.keep`); `sent_frame` finds it again by that while it is kept.
    """

    __slots__ = ("_arrays", "payloads", "serial", "size", "timestamp")

    def __init__(self, payloads: list[bytes], timestamp: int) -> None:
        self.payloads = payloads
        self.timestamp = timestamp
        self.size = sum(len(p) for p in payloads)
        self.serial = 0  # not kept
        self._arrays: tuple[Any, Any, Any] | None = None

    def arrays(self) -> tuple[Any, Any]:
        """The payloads' addresses and sizes as C arrays for `sfu.native`, made once."""
        if self._arrays is None:
            ffi = native.FFI
            held = [ffi.from_buffer(p) for p in self.payloads]  # keeps the buffers alive
            sizes = ffi.new("int[]", [len(p) for p in self.payloads])
            self._arrays = (held, ffi.new("const unsigned char *[]", held), sizes)
        return self._arrays[1], self._arrays[2]


_PACKETIZER_IDS = itertools.count(1)
# Every live packetiser by its id (the high half of its frames' serials).
_PACKETIZERS: weakref.WeakValueDictionary[int, Packetizer] = weakref.WeakValueDictionary()


def sent_frame(serial: int) -> PackedFrame | None:
    """A frame by its serial, if its packetiser still keeps it."""
    packetizer = _PACKETIZERS.get(serial >> 32)
    return packetizer.kept(serial & 0xFFFFFFFF) if packetizer is not None else None


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
        # The last frames, kept for the subscribers' retransmissions (`sent_frame`).
        self.recent: deque[PackedFrame] = deque(maxlen=RTP_HISTORY)
        self._kept = 0  # frames kept so far (the low half of their serials)
        self._id = next(_PACKETIZER_IDS)
        _PACKETIZERS[self._id] = self
        self._picture_id = random.randint(0, (1 << 15) - 1)
        self._encoder: Any = None
        # VP8 frames that came in RTP go on in the publisher's own payloads (`EncodedFrame`)
        self.passes_through = mime == "video/vp8"
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

    def keep(self, packed: PackedFrame) -> None:
        """Keep `packed` among the last RTP_HISTORY frames, and give it its serial."""
        self._kept = (self._kept + 1) & 0xFFFFFFFF
        packed.serial = (self._id << 32) | self._kept
        self.recent.append(packed)

    def kept(self, number: int) -> PackedFrame | None:
        """The frame kept as `number` (its serial's low half), if still kept."""
        recent = self.recent
        index = len(recent) - 1 - ((self._kept - number) & 0xFFFFFFFF)
        return recent[index] if 0 <= index < len(recent) else None

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


class EncodedFrame:
    """One reassembled frame, exactly as the publisher encoded it (read-only)."""

    __slots__ = ("_packed", "codec", "data", "packetizer", "payloads", "timestamp")

    def __init__(
        self,
        codec: Codec,
        data: bytes,
        timestamp: int,
        packetizer: Packetizer | None = None,
        payloads: list[bytes] | None = None,
    ) -> None:
        self.codec = codec
        self.data = data
        self.timestamp = timestamp
        self.packetizer = packetizer
        # The RTP payloads the frame came in, when it may be sent on in them (VP8, whose
        # payload descriptor carries nothing a subscriber's stream must change)
        self.payloads = payloads
        self._packed: PackedFrame | None = None

    def packet(self) -> PackedFrame:
        """The frame's RTP payloads, made once and shared by every subscriber (read-only)."""
        packed = self._packed
        if packed is None:
            packetizer = self.packetizer or Packetizer(self.codec)
            if self.payloads and packetizer.passes_through:
                packed = PackedFrame(self.payloads, self.timestamp)
            else:
                packed = packetizer.pack(self.data, self.timestamp)
            packetizer.keep(packed)
            self._packed = packed
        return packed


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
        payloads = frame.payloads if isinstance(frame, AssembledFrame) else None
        self._deliver(
            EncodedFrame(packetizer.codec, frame.data, frame.timestamp, packetizer, payloads)
        )

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


class AssembledFrame(JitterFrame):
    """A frame from `FrameAssembler`: aiortc's `JitterFrame` (the depayloaded frame), with the
    RTP payloads it came in, which VP8 forwarding sends on as they are (`EncodedFrame`)."""

    def __init__(self, packets: list[RtpPacket], timestamp: int) -> None:
        super().__init__(b"".join([x._data for x in packets]), timestamp)  # type: ignore[attr-defined]
        self.payloads = [x.payload for x in packets if x.payload]  # not padding


class FrameAssembler(JitterBuffer):
    """aiortc's video jitter buffer, with a frame complete at its last packet.

    aiortc's buffer knows a frame is complete only when the next frame's first packet is in,
    which holds every frame back one frame interval (33 ms at 30 fps) at the SFU. Here the
    packet carrying the marker bit (RFC 7741 and RFC 6184: the frame's last) completes it too,
    once every packet from the buffer's start to it is in; and when a late packet completes
    several frames at once, `ready()` hands on the others at once rather than one per later
    packet (`_SyncRtpHandler` asks for them). Everything else is aiortc's: the
    next timestamp still completes a frame whose marker was lost, and losses, reordering and
    overflow are handled the same way (NACK, PLI, dropping to the next frame).
    """

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        origin = self._origin
        if origin is None:
            return None  # nothing added yet
        packets: list[RtpPacket] = []
        timestamp = None
        for count in range(self._capacity):
            packet = self._packets[(origin + count) % self._capacity]
            if packet is None:
                return None  # a packet of the first frame is still missing
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:  # the next frame started: the first is whole
                self.remove(count)
                return AssembledFrame(packets, timestamp)
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                return AssembledFrame(packets, timestamp)
        return None

    def ready(self) -> JitterFrame | None:
        """The next frame, if it is whole too (`add` returns the first one only)."""
        return self._remove_frame(0)

    @classmethod
    def install(cls, receiver: RTCRtpReceiver) -> None:
        """Put one on a video receiver before it starts, in place of aiortc's."""
        name = "_RTCRtpReceiver__jitter_buffer"
        current = getattr(receiver, name, None)
        if not isinstance(current, JitterBuffer):
            raise SfuError("aiortc internals changed: RTCRtpReceiver has no jitter buffer")
        if current._is_video:
            setattr(receiver, name, cls(capacity=current.capacity, is_video=True))


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


class _SyncRtpHandler:
    """`RTCRtpReceiver._handle_rtp_packet` of aiortc 1.16 as a plain function, for `FastReceive`.

    The same steps on the receiver's own state (statistics for its receiver reports, RTX
    unwrapping, NACK generation, depayloading, the jitter buffer, frames to its decoder queue,
    i.e. the `FrameTap`), without a coroutine per packet; RTCP it sends (NACK, PLI) is run by
    `FastReceive` as aiortc would await it. Left out: the sources' last-seen times for
    `getSynchronizationSources()` (a datetime per packet; the SFU never asks) and the debug
    log line. A receiver that still has a bitrate estimator goes through aiortc's coroutine.

    One step differs: audio skips aiortc's jitter buffer. That buffer hands a packet on only
    once four later ones are in (80 ms of Opus, for a decoder the SFU does not run); each Opus
    packet is a whole frame, so it goes out as it comes, as any forwarding SFU sends it, and
    the browser's own jitter buffer orders and paces what it receives. A duplicate or a
    packet older than one already forwarded (by fewer than `AUDIO_MISORDER`) is dropped;
    further back is a restarted stream.
    """

    def __init__(
        self, receiver: RTCRtpReceiver, aiortc_handle: Any, seen: Callable[[Any], None]
    ) -> None:
        for name in ("codecs", "remote_streams", "nack_generator", "jitter_buffer"):
            if not hasattr(receiver, f"_RTCRtpReceiver__{name}"):
                raise SfuError(f"aiortc internals changed: RTCRtpReceiver has no __{name}")
        self._receiver = receiver
        self._aiortc_handle = aiortc_handle
        self._seen = seen
        # payload type → (its codec, is RTX, depayloader), checked against the receiver's
        # codecs at each packet (a renegotiation may change them)
        self._codecs: dict[int, tuple[Any, bool, Callable[[bytes], bytes]]] = {}
        self._audio = receiver._RTCRtpReceiver__kind == "audio"  # type: ignore[attr-defined]
        self._last_audio: int | None = None  # sequence number of the last forwarded packet

    def _codec(self, payload_type: int) -> tuple[Any, bool, Callable[[bytes], bytes]] | None:
        codec = self._receiver._RTCRtpReceiver__codecs.get(payload_type)  # type: ignore[attr-defined]
        if codec is None:
            return None
        known = self._codecs.get(payload_type)
        if known is None or known[0] is not codec:
            # as aiortc's `depayload` and `is_rtx` decide
            depayloader: Callable[[bytes], bytes]
            if codec.name == "VP8":
                depayloader = vp8_depayload
            elif codec.name == "H264":
                depayloader = h264_depayload
            else:
                depayloader = bytes
            rtx = codec.name.lower() == "rtx"
            known = self._codecs[payload_type] = (codec, rtx, depayloader)
        return known

    def __call__(
        self,
        packet: RtpPacket,
        arrival_time_ms: int,
        run: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        receiver = self._receiver
        if receiver._RTCRtpReceiver__remote_bitrate_estimator is not None:  # type: ignore[attr-defined]
            run(receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms))
            return
        self._seen(packet)
        if not receiver._enabled:
            return
        known = self._codec(packet.payload_type)
        if known is None:
            return
        codec, rtx, depayloader = known
        streams = receiver._RTCRtpReceiver__remote_streams  # type: ignore[attr-defined]
        stream = streams.get(packet.ssrc)
        if stream is None:
            stream = streams[packet.ssrc] = StreamStatistics(codec.clockRate)
        stream.add(packet)
        if rtx:
            original_ssrc = receiver._RTCRtpReceiver__rtx_ssrc.get(packet.ssrc)  # type: ignore[attr-defined]
            if original_ssrc is None:
                return
            apt = codec.parameters.get("apt")
            if len(packet.payload) < 2 or not isinstance(apt, int):
                return
            known = self._codec(apt)
            if known is None:
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
            codec, _, depayloader = known
        nack = receiver._RTCRtpReceiver__nack_generator  # type: ignore[attr-defined]
        if nack is not None and nack.add(packet):
            run(receiver._send_rtcp_nack(packet.ssrc, sorted(nack.missing)))
        try:
            packet._data = depayloader(packet.payload) if packet.payload else b""  # type: ignore[attr-defined]
        except ValueError:
            return
        if self._audio:
            self._forward_audio(receiver, codec, packet)
            return
        jitter_buffer = receiver._RTCRtpReceiver__jitter_buffer  # type: ignore[attr-defined]
        pli_flag, encoded_frame = jitter_buffer.add(packet)
        decoder_error = receiver._RTCRtpReceiver__decoder_error  # type: ignore[attr-defined]
        if decoder_error.is_set():
            decoder_error.clear()
            if receiver._RTCRtpReceiver__kind == "video":  # type: ignore[attr-defined]
                pli_flag = True
        if pli_flag:
            run(receiver._send_rtcp_pli(packet.ssrc))
        if encoded_frame is None or not receiver._RTCRtpReceiver__decoder_thread:  # type: ignore[attr-defined]
            return
        mapper = receiver._RTCRtpReceiver__timestamp_mapper  # type: ignore[attr-defined]
        tap = receiver._RTCRtpReceiver__decoder_queue  # type: ignore[attr-defined]
        while encoded_frame is not None:
            encoded_frame.timestamp = mapper.map(encoded_frame.timestamp)
            tap.put((codec, encoded_frame))
            # aiortc hands on one frame per packet; after a repaired loss several are whole
            encoded_frame = (
                jitter_buffer.ready() if isinstance(jitter_buffer, FrameAssembler) else None
            )

    def _forward_audio(self, receiver: RTCRtpReceiver, codec: Any, packet: RtpPacket) -> None:
        seq = packet.sequence_number
        last = self._last_audio
        if last is not None and (last - seq) & 0xFFFF < AUDIO_MISORDER:
            return  # a duplicate, or late: a newer packet went out already
        self._last_audio = seq
        if receiver._RTCRtpReceiver__decoder_thread:  # type: ignore[attr-defined]
            mapper = receiver._RTCRtpReceiver__timestamp_mapper  # type: ignore[attr-defined]
            frame = JitterFrame(packet._data, mapper.map(packet.timestamp))  # type: ignore[attr-defined]
            receiver._RTCRtpReceiver__decoder_queue.put((codec, frame))  # type: ignore[attr-defined]


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
        _no_bandwidth_estimation(receiver)
        self._watch_packets(mid, receiver)

    def _watch_packets(self, mid: str, receiver: RTCRtpReceiver) -> None:
        handle = receiver._handle_rtp_packet
        rtx: dict[int, int] = receiver._RTCRtpReceiver__rtx_ssrc  # type: ignore[attr-defined]

        def seen(packet: Any) -> None:
            if packet.ssrc not in rtx:
                self._ssrc[mid] = packet.ssrc
                if mid in self._pli_pending:
                    self._pli_pending.discard(mid)
                    self.request_keyframe(mid)
            level = packet.extensions.audio_level
            if level is not None:
                self._on_audio_level(mid, int(level[1]))

        async def watched(packet: Any, arrival_time_ms: int) -> None:
            seen(packet)
            await handle(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = watched  # type: ignore[method-assign]
        receiver._sfu_handle_rtp = _SyncRtpHandler(receiver, handle, seen)  # type: ignore[attr-defined]

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
        sdp = await _set_local(self.pc, answer, self._ice)
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


# --- sending encoded frames ------------------------------------------------------------------


def _fast_protect(session: pylibsrtp.Session, rtcp: bool = False) -> Callable[..., bytes]:
    """`session.protect` (or `protect_rtcp`), the same libsrtp call without pylibsrtp's
    per-packet allocations: `fast(data)`, or `fast(head, payload)` for the packet `head +
    payload`, copied into libsrtp's buffer piece by piece rather than joined first.

    The function holds the session: libsrtp's context is freed with it.
    """
    srtp = session._srtp[0]
    cdata = session._cdata
    buffer = session._buffer
    length = _srtp_ffi.new("int *")
    protect = _srtp_lib.srtp_protect_rtcp if rtcp else _srtp_lib.srtp_protect
    trailer = pylibsrtp.SRTP_MAX_SRTCP_TRAILER_LEN if rtcp else pylibsrtp.SRTP_MAX_TRAILER_LEN
    limit = len(buffer) - trailer
    ok = _srtp_lib.srtp_err_status_ok

    def fast(head: bytes, payload: bytes = b"", session: pylibsrtp.Session = session) -> bytes:
        start = len(head)
        size = start + len(payload)
        if size > limit:
            raise ValueError("packet is too long")
        buffer[0:start] = head
        buffer[start:size] = payload
        length[0] = size
        status = protect(srtp, cdata, length)
        if status != ok:
            raise pylibsrtp.Error(f"srtp_protect{'_rtcp' * rtcp} failed ({status})")
        return buffer[0 : length[0]]  # type: ignore[no-any-return]

    return fast


def _joining_protect(protect: Callable[[bytes], bytes]) -> Callable[..., bytes]:
    """`_fast_protect`'s calling convention for another session object's `protect`."""

    def joined(head: bytes, payload: bytes = b"") -> bytes:
        return protect(head + payload)

    return joined


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
    `mid` and `abs-send-time` extensions, same payloads), on the ICE pair's socket: from C when
    `sfu.native` is built (`native_dest`, and the room's `fanout` for all of a track's writers
    at once), else one `sendto` each. Until aiortc starts the sender (the answer applied, DTLS
    connected) frames wait here, and go out at once when it has. The sender keeps its RTCP: SR
    counters are updated here, and its NACK handling retransmits from this writer's history or
    C's ring (as RTX when negotiated). `close()` stops it for good.
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
        # With `sfu.native` built, what C sends with (socket, session, sequence numbers,
        # counters, retransmission ring), kept here (`_reroute`) and read by `atelier_fanout`.
        self._dest: Any = None
        self._one: Any = None  # [self._dest], for one writer's `atelier_fanout`
        self._dest_fd = -1  # our dup of the route's socket, in self._dest.fd
        self._closed = False
        self._py_seq = 0
        self._py_origin = 0
        if native.LIB is not None:
            self._dest = native.FFI.new("atelier_dest *")
            self._dest.fd = -1
            self._one = native.FFI.new("atelier_dest *[1]", [self._dest])
        self._seq = random.randint(0, 0xFFFF)
        self._timestamp_origin = random.getrandbits(32)
        # Called when this writer may start or stop being sendable from C (`native_dest`).
        self.on_route_change: Callable[[], None] | None = None
        self._rtx_seq = random.randint(0, 0xFFFF)
        self._rtx_payload_type: int | None = None
        # frames sent, newest last, for retransmission: (first sequence number, RTP
        # timestamp, extension block, payloads); at least RTP_HISTORY packets
        self._history: deque[tuple[int, int, bytes, list[bytes]]] = deque(maxlen=RTP_HISTORY)
        # by sequence number modulo RTP_HISTORY: (sequence number, when last resent)
        self._resent: list[tuple[int, float]] = [(-1, 0.0)] * RTP_HISTORY
        self._extensions = HeaderExtensionsMap()
        self._first_byte = 0x80
        self._payload_type = 0
        self._ext_head = b""  # extension block up to abs-send-time's 3 bytes (or all of it)
        self._ext_tail = b""
        self._abs_send_time = False
        # Where packets go, looked up again when the nominated pair or the SRTP session changes
        self._route: _Route | None = None
        aiortc_send = sender.send

        async def send(parameters: RTCRtpSendParameters) -> None:
            await aiortc_send(parameters)
            self._start(parameters)

        sender.send = send  # type: ignore[method-assign]
        sender._retransmit = self._retransmit  # type: ignore[method-assign]
        sender._run_rtcp = self._run_rtcp  # type: ignore[method-assign]
        self._rtcp_srtp: pylibsrtp.Session | None = None
        self._protect_rtcp: Callable[[bytes], bytes] = bytes
        self._sdes: tuple[str | None, bytes] = (None, b"")

    @property
    def started(self) -> bool:
        return self._started

    @property
    def _seq(self) -> int:
        """The next sequence number (C's, when built: both paths number the same stream)."""
        return int(self._dest.seq) if self._dest is not None else self._py_seq

    @_seq.setter
    def _seq(self, value: int) -> None:
        if self._dest is not None:
            self._dest.seq = value
        else:
            self._py_seq = value

    @property
    def _timestamp_origin(self) -> int:
        return self._py_origin

    @_timestamp_origin.setter
    def _timestamp_origin(self, value: int) -> None:
        self._py_origin = value
        if self._dest is not None:
            self._dest.timestamp_origin = value

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
        dtls = self._sender.transport
        if hasattr(dtls, "on"):
            dtls.on("statechange", self._dtls_changed)
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

    def _current_route(self) -> _Route | None:
        """Where packets go now (a new pair or SRTP session taken into account), or None
        when closed, closing or paused: nothing to send to, as aiortc would drop them."""
        sender = self._sender
        dtls = sender.transport
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None or dtls._state is not DtlsState.CONNECTED or not sender._enabled:
            return None
        if self._closed:
            return None
        route = self._route
        if route is None or pair is not route.pair or dtls._tx_srtp is not route.session:
            route = self._reroute(pair, dtls._tx_srtp)
        return route

    def _send(self, frame: PackedFrame) -> None:
        route = self._current_route()
        if route is None or route.closing():
            return  # nothing to send to, or its connection is going away
        sender = self._sender
        now = time.time() + NTP_OFFSET
        to = route.native
        if to is not None:
            self._send_native(frame, now)
            return
        if self._abs_send_time:
            stamp = (int(now * 262144) & 0xFFFFFF).to_bytes(3, "big")  # 6.18 fixed point
            extensions = self._ext_head + stamp + self._ext_tail
        else:
            extensions = self._ext_head
        timestamp = (self._timestamp_origin + frame.timestamp) & 0xFFFFFFFF
        seq = self._seq
        payloads = frame.payloads
        count = len(payloads)
        self._history.append((seq, timestamp, extensions, payloads))
        try:
            self._send_python(route, payloads, seq, timestamp, extensions)
        except Exception:  # a transport closing under us: the connection is going away
            log.debug("forwarding to a closing connection failed", exc_info=True)
        self._seq = (seq + count) & 0xFFFF
        # The sender's RTCP sender reports read these (aiortc's own sending loop keeps them).
        sender._RTCRtpSender__ntp_timestamp = int(now * 4294967296)  # type: ignore[attr-defined]
        sender._RTCRtpSender__rtp_timestamp = timestamp  # type: ignore[attr-defined]
        sender._RTCRtpSender__octet_count += frame.size  # type: ignore[attr-defined]
        sender._RTCRtpSender__packet_count += count  # type: ignore[attr-defined]

    def _send_python(
        self, route: _Route, payloads: list[bytes], seq: int, timestamp: int, extensions: bytes
    ) -> None:
        sendto, addr, protect = route.sendto, route.addr, route.protect
        first, payload_type, ssrc = self._first_byte, self._payload_type, self._sender._ssrc
        last = len(payloads) - 1
        pack = _RTP_HEADER.pack
        for i, payload in enumerate(payloads):
            second = payload_type | 0x80 if i == last else payload_type  # marker: last
            head = pack(first, second, seq, timestamp, ssrc) + extensions
            sendto(protect(head, payload), addr)
            seq = (seq + 1) & 0xFFFF

    def _send_native(self, frame: PackedFrame, now: float) -> None:
        """The frame from C, to this writer alone (`fanout` sends to all of a track's)."""
        fanout(self._one, 1, frame, now)

    def _reroute(self, pair: Any, srtp: Any) -> _Route:
        """A new nominated pair or SRTP session: the route from now on, given to C too."""
        route = self._route = _Route.via(pair, srtp)
        to = route.native
        if to is not None and self._dest is not None:
            dest = self._dest
            fd = os.dup(to.fd)  # ours: a socket closed meanwhile leaves no number to reuse
            native.FFI.memmove(dest.addr, to.sockaddr, to.addrlen)
            dest.addrlen = to.addrlen
            dest.protect = to.protect
            dest.session = to.session
            if self._sync_dest():
                self._set_dest_fd(fd)
            else:  # extensions C has no room for: from Python
                os.close(fd)
                route = self._route = route._replace(native=None)
                self._set_dest_fd(-1)
        else:
            self._set_dest_fd(-1)
        if self.on_route_change is not None:
            self.on_route_change()
        return route

    def _sync_dest(self) -> bool:
        """What C writes in every header, as the Python path writes it; False when the
        extension block is too long for C."""
        dest = self._dest
        extensions = self._ext_head + b"\0\0\0" + self._ext_tail
        if not self._abs_send_time:
            extensions = self._ext_head
        if len(extensions) > native.LIB.ATELIER_EXT_MAX:
            return False
        dest.first = self._first_byte
        dest.payload_type = self._payload_type
        dest.ssrc = self._sender._ssrc
        dest.timestamp_origin = self._py_origin
        native.FFI.memmove(dest.ext, extensions, len(extensions))
        dest.ext_len = len(extensions)
        dest.stamp_at = len(self._ext_head) if self._abs_send_time else -1
        return True

    def _set_dest_fd(self, fd: int) -> None:
        """C sends on `fd` (ours) from now on, or nothing (-1); the previous one is closed
        after C has stopped using it."""
        old, self._dest_fd = self._dest_fd, fd
        if self._dest is not None:
            self._dest.fd = fd
        if old >= 0:
            os.close(old)

    def native_dest(self) -> Any:
        """This writer's `atelier_dest` when frames may go to it from C (`fanout`) without
        passing through `write()`: started, connected, enabled, and routed from C. None
        otherwise (its frames go through `write()`)."""
        if self._dest is None or self._pending is not None:
            return None
        route = self._current_route()
        to = route.native if route is not None else None
        if to is None or to.transport.is_closing() or self._dest_fd < 0:
            return None
        return self._dest

    def _dtls_changed(self) -> None:
        if self._sender.transport._state in (DtlsState.CLOSED, DtlsState.FAILED):
            self.close()  # for good: aiortc does not connect a DTLS transport again

    def close(self) -> None:
        """Send nothing more, and close our socket: the connection is closing."""
        self._closed = True
        self._route = None
        self._set_dest_fd(-1)
        if self.on_route_change is not None:
            self.on_route_change()

    def sync_counters(self) -> None:
        """Add what C sent since last time to the sender's counters (its SR and statistics)."""
        dest = self._dest
        if dest is None or not dest.packets:
            return
        sender = self._sender
        sender._RTCRtpSender__packet_count += dest.packets  # type: ignore[attr-defined]
        sender._RTCRtpSender__octet_count += dest.octets  # type: ignore[attr-defined]
        dest.packets = dest.octets = 0
        if dest.last_ntp > sender._RTCRtpSender__ntp_timestamp:  # type: ignore[attr-defined]
            sender._RTCRtpSender__ntp_timestamp = dest.last_ntp  # type: ignore[attr-defined]
            sender._RTCRtpSender__rtp_timestamp = dest.last_timestamp  # type: ignore[attr-defined]

    def sender_report(self) -> bytes:
        """The sender's SR (and SDES CNAME), as aiortc's `RTCRtpSender._run_rtcp` makes them;
        notes the report's time for the round trip estimate, as it does."""
        self.sync_counters()
        sender = self._sender
        ntp = sender._RTCRtpSender__ntp_timestamp  # type: ignore[attr-defined]
        data = _SENDER_REPORT.pack(
            0x80,
            200,  # RTCP_SR, no report block
            6,
            sender._ssrc,
            ntp,
            sender._RTCRtpSender__rtp_timestamp,  # type: ignore[attr-defined]
            sender._RTCRtpSender__packet_count & 0xFFFFFFFF,  # type: ignore[attr-defined]
            sender._RTCRtpSender__octet_count & 0xFFFFFFFF,  # type: ignore[attr-defined]
        )
        sender._RTCRtpSender__lsr = (ntp >> 16) & 0xFFFFFFFF  # type: ignore[attr-defined]
        sender._RTCRtpSender__lsr_time = time.time()  # type: ignore[attr-defined]
        cname = sender._RTCRtpSender__cname  # type: ignore[attr-defined]
        if cname is not None:
            if self._sdes[0] != cname:
                chunk = RtcpSourceInfo(ssrc=sender._ssrc, items=[(1, cname.encode("utf8"))])
                self._sdes = (cname, bytes(RtcpSdesPacket(chunks=[chunk])))
            data += self._sdes[1]
        return data

    def _send_report(self) -> None:
        data = self.sender_report()
        dtls = self._sender.transport
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None or dtls._state is not DtlsState.CONNECTED:
            return  # aiortc's `_send_rtp` would raise ConnectionError, which its sender ignores
        srtp = dtls._tx_srtp
        if srtp is not self._rtcp_srtp:
            self._rtcp_srtp = srtp
            fast = isinstance(srtp, pylibsrtp.Session)
            self._protect_rtcp = _fast_protect(srtp, rtcp=True) if fast else srtp.protect_rtcp
        pair.protocol.transport.sendto(self._protect_rtcp(data), pair.remote_addr)

    async def _run_rtcp(self) -> None:
        """`RTCRtpSender._run_rtcp`, its SR sent as `_send` sends RTP (no RTCP objects, no
        task hop through aiortc's DTLS transport and aioice); its BYE at the end still aiortc's.
        """
        sender = self._sender
        sender._RTCRtpSender__rtcp_started.set()  # type: ignore[attr-defined]
        try:
            while True:
                # aiortc's interval: [0.5, 1.5] times the calculated one (1 s)
                await asyncio.sleep(0.5 + random.random())
                try:
                    self._send_report()
                except Exception:  # a transport closing under us
                    log.debug("sender report to a closing connection failed", exc_info=True)
        except asyncio.CancelledError:
            pass
        await sender._send_rtcp([RtcpByePacket(sources=[sender._ssrc])])
        sender._RTCRtpSender__rtcp_exited.set()  # type: ignore[attr-defined]

    async def _retransmit(self, sequence_number: int) -> None:
        """A NACKed packet, again: as RTX when negotiated (what `RTCRtpSender` does)."""
        data = self._sent_packet(sequence_number)
        if data is None:
            return  # never sent, or too long ago
        slot = sequence_number % RTP_HISTORY
        now = time.monotonic()
        rtt = self._sender._RTCRtpSender__rtt or 0.0  # type: ignore[attr-defined]
        seq, resent_at = self._resent[slot]
        gap = min(max(rtt, RESEND_GAP_MIN), RESEND_GAP_MAX)
        if seq == sequence_number and now - resent_at < gap:
            return  # resent less than a round trip ago: that copy is on its way
        self._resent[slot] = (sequence_number, now)
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

    def _sent_packet(self, sequence_number: int) -> bytes | None:
        """The packet `sequence_number` as it was sent (unprotected), from the history."""
        if self._dest is not None:
            packet = self._sent_from_c(sequence_number)
            if packet is not None:
                return packet
        sent = 0
        for first, timestamp, extensions, payloads in reversed(self._history):
            index = (sequence_number - first) & 0xFFFF
            if index < len(payloads):
                last = index == len(payloads) - 1
                second = self._payload_type | 0x80 if last else self._payload_type
                head = _RTP_HEADER.pack(
                    self._first_byte, second, sequence_number, timestamp, self._sender._ssrc
                )
                return head + extensions + payloads[index]
            sent += len(payloads)
            if sent >= RTP_HISTORY:
                break
        return None

    def _sent_from_c(self, sequence_number: int) -> bytes | None:
        """The packet `sequence_number`, if C sent it: from its ring and the frame kept."""
        dest = self._dest
        sent = 0
        for back in range(1, native.LIB.ATELIER_RING + 1):
            slot = (dest.ring_next - back) % native.LIB.ATELIER_RING
            count = dest.ring_count[slot]
            if not count:
                return None
            index = (sequence_number - dest.ring_seq[slot]) & 0xFFFF
            if index < count:
                frame = sent_frame(dest.ring_serial[slot])
                if frame is None or count != len(frame.payloads):
                    return None  # no longer kept
                if self._abs_send_time:
                    stamp = int(dest.ring_stamp[slot]).to_bytes(3, "big")
                    extensions = self._ext_head + stamp + self._ext_tail
                else:
                    extensions = self._ext_head
                last = index == count - 1
                second = self._payload_type | 0x80 if last else self._payload_type
                head = _RTP_HEADER.pack(
                    self._first_byte,
                    second,
                    sequence_number,
                    dest.ring_timestamp[slot],
                    self._sender._ssrc,
                )
                packet: bytes = head + extensions + frame.payloads[index]
                return packet
            sent += count
            if sent >= RTP_HISTORY:
                return None
        return None


def fanout(dests: Any, n: int, frame: PackedFrame, now: float) -> None:
    """`frame` from C to the first `n` writers' `atelier_dest`s of `dests`, at `now` (seconds
    since 1900, as the writers' sender reports and abs-send-time count them)."""
    addresses, sizes = frame.arrays()
    native.LIB.atelier_send_frame(
        dests,
        n,
        frame.serial,
        frame.timestamp & 0xFFFFFFFF,
        int(now * 262144) & 0xFFFFFF,  # abs-send-time: 6.18 fixed point
        int(now * 4294967296),
        len(frame.payloads),
        addresses,
        sizes,
        frame.size,
        _native_buffer(),
        native.LIB.ATELIER_STRIDE,
    )


class _NativeRoute(NamedTuple):
    """What `sfu.native` sends with: the socket, the address, libsrtp's function and session."""

    transport: Any  # asyncio's or uvloop's UDP transport (neither an asyncio.DatagramTransport)
    fd: int
    sockaddr: bytes
    addrlen: int
    protect: Any  # srtp_protect, as a pointer
    session: Any  # the srtp_t, as a pointer


class _Route(NamedTuple):
    """A subscriber writer's way out: the nominated pair's socket and address, and the SRTP
    session's protection, from Python (`sendto`, `protect`) or from C (`native`)."""

    pair: Any
    session: Any
    sendto: Callable[[bytes, Any], None]
    addr: Any
    protect: Callable[..., bytes]
    closing: Callable[[], bool]  # whether the socket is closing (its connection going away)
    native: _NativeRoute | None

    @classmethod
    def via(cls, pair: Any, srtp: Any) -> _Route:
        fast = isinstance(srtp, pylibsrtp.Session)
        protect = _fast_protect(srtp) if fast else _joining_protect(srtp.protect)
        transport = pair.protocol.transport
        addr = pair.remote_addr
        to = _native_route(transport, addr, srtp) if fast else None
        closing = getattr(transport, "is_closing", _never)
        return cls(pair, srtp, transport.sendto, addr, protect, closing, to)


def _never() -> bool:
    return False


def _native_route(transport: Any, addr: Any, srtp: pylibsrtp.Session) -> _NativeRoute | None:
    """How `sfu.native` reaches `addr` through `transport`'s socket, if it is built and the
    socket and address are plain UDP over IPv4 or IPv6 (not, say, a TURN relay)."""
    if native.LIB is None or not hasattr(transport, "is_closing"):
        return None
    sock = transport.get_extra_info("socket")  # asyncio's and uvloop's UDP transports
    fd = sock.fileno() if sock is not None else -1
    if fd < 0 or sock.type != socket.SOCK_DGRAM:
        return None
    try:
        ip = ipaddress.ip_address(addr[0])
    except (ValueError, TypeError, IndexError):
        return None
    port = int(addr[1])
    if ip.version == 4 and sock.family == socket.AF_INET:
        sockaddr = (
            struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + ip.packed + bytes(8)
        )
    elif ip.version == 6 and sock.family == socket.AF_INET6:
        flow, scope = (int(addr[2]), int(addr[3])) if len(addr) >= 4 else (0, 0)
        sockaddr = (
            struct.pack("=H", socket.AF_INET6)
            + struct.pack("!HI", port, flow)
            + ip.packed
            + struct.pack("=I", scope)
        )
    else:
        return None
    ffi = native.FFI
    protect = ffi.cast(
        "void *", _srtp_ffi.cast("uintptr_t", _srtp_ffi.addressof(_srtp_lib, "srtp_protect"))
    )
    session = ffi.cast("void *", _srtp_ffi.cast("uintptr_t", srtp._srtp[0]))
    return _NativeRoute(transport, fd, sockaddr, len(sockaddr), protect, session)


@functools.cache
def _native_buffer() -> Any:
    """Where `sfu.native` writes a batch of packets (one per process: the loop is single)."""
    return native.FFI.new(
        "unsigned char[]", native.LIB.ATELIER_MAX_BATCH * native.LIB.ATELIER_STRIDE
    )


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
        self.pc = RTCPeerConnection(ice.rtc_configuration())
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
                writer.on_route_change = self._on_route_change
                slot = _Slot(transceiver, want.codec, writer)
                self._slots.append(slot)
                self._redirect_keyframe_requests(slot)
            slot.track_id, slot.track = want.track_id, track
            self._by_track[want.track_id] = slot.writer
        if not changed:
            return None
        offer = await self.pc.createOffer()
        sdp = await _set_local(self.pc, offer, self._ice)
        self.fast_receive += FastReceive.watch(self.pc)
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
            slot.writer.close()  # nothing more from C, and our sockets closed
            if slot.track is not None:
                slot.track.stop()
        await self.pc.close()
        for fast in self.fast_receive:
            await fast.aclose()
