"""Frames out: a subscriber's frames written as SRTP straight to its socket, from Python or C.

Each subscriber transceiver has an `RtpWriter`. Every frame goes out as the RTP packets
aiortc's sender would have made (same header, same `mid` and `abs-send-time` extensions, same
payloads), on the ICE pair's socket, synchronously: from C when the C sender is in use
(sfu/native/: this writer alone, or every writer of a track at once with `send_from_c`), else
one `sendto` each. aiortc's per-packet sender machinery (a task per sender, `RtpPacket`
objects, header-extension maps) stays out of the way; the `RTCRtpSender` still answers RTCP:
NACKs are retransmitted from the writer's history or C's ring (as RTX when negotiated), and
its once-a-second sender reports are packed, protected and sent the same way, byte for byte
aiortc's (only the BYE at the end goes aiortc's way). The arithmetic is sfu/rtp.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import os
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import pylibsrtp
from aiortc import RTCRtpSender
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import (
    HeaderExtensions,
    HeaderExtensionsMap,
    RtcpByePacket,
    RtcpSdesPacket,
    RtcpSourceInfo,
)

from sfu import native
from sfu.aiortc_internals import SenderInternals, sender_internals
from sfu.frames import PackedFrame, sent_frame
from sfu.rtp import (
    RTP_HEADER,
    CatchUpPace,
    ResendGate,
    SentFrames,
    abs_send_time,
    extension_template,
    find_in_ring,
    next_sequence,
    ntp_seconds,
    ntp_timestamp,
    rtx_packet,
    sender_report,
)
from sfu.srtp import c_protect, fast_protect, joining_protect

log = logging.getLogger("atelier.sfu.sending")

# Frames held for a subscriber whose sender has not started yet (the answer or the DTLS
# handshake is on its way); past this they are dropped (video then waits for a keyframe).
TRACK_QUEUE_FRAMES = 128


class RtpWriter:
    """Sends one subscriber transceiver's frames as SRTP, synchronously, from `write()`.

    Until aiortc starts the sender (the answer applied, DTLS connected) frames wait here. A
    subscriber starting a track does not get them, nor the frames it must catch up on
    (`catch_up`), in one burst: they go paced (`CatchUpPace`, no faster than twice real time
    by their RTP timestamps), and frames written meanwhile queue behind them, until the
    backlog is sent; only then may C's fan-out send to it again. The sender keeps its RTCP:
    SR counters are updated here, and its NACK handling retransmits from this writer's
    history or C's ring. `close()` stops it for good. With the C sender in use, the writer's
    state C needs lives in an `atelier_dest` (`native_dest()`), which the room hands to
    `send_from_c` with the track's other writers'.
    """

    def __init__(self, sender: RTCRtpSender, max_pending: int = TRACK_QUEUE_FRAMES) -> None:
        self._sender: SenderInternals = sender_internals(sender)
        self._started = False
        self._max_pending = max_pending
        self._pending: list[PackedFrame] | None = []  # None once started
        # Frames going out paced (`_drain`), oldest first, until sent or dropped.
        self._backlog: deque[PackedFrame] = deque()
        self._pace: CatchUpPace | None = None  # once started: the codec's clock rate
        self._drain_timer: asyncio.TimerHandle | None = None
        # With the C sender, what C sends with (socket, session, sequence numbers, counters,
        # retransmission ring), kept here (`_reroute`) and read by `atelier_send_frame`.
        self._dest: Any = None
        self._one: Any = None  # [self._dest], for one writer's `atelier_send_frame`
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
        self._history = SentFrames()  # what went out from Python, for retransmissions
        self._resent = ResendGate()
        self._extensions = HeaderExtensionsMap()
        self._first_byte = 0x80
        self._payload_type = 0
        self._ext_head = b""  # extension block up to abs-send-time's 3 bytes (or all of it)
        self._ext_tail = b""
        self._abs_send_time = False
        # Where packets go, looked up again when the nominated pair or the SRTP session changes
        self._route: _Route | None = None
        aiortc_send = self._sender.send

        async def send(parameters: RTCRtpSendParameters) -> None:
            await aiortc_send(parameters)
            self._start(parameters)

        self._sender.send = send
        self._sender._retransmit = self._retransmit
        self._sender._run_rtcp = self._run_rtcp
        self._rtcp_srtp: pylibsrtp.Session | None = None
        self._protect_rtcp: Callable[[bytes], bytes] = bytes
        self._sdes: tuple[str | None, bytes] = (None, b"")

    @property
    def started(self) -> bool:
        return self._started

    @property
    def catching_up(self) -> bool:
        """Whether frames wait for their turn to go paced (`catch_up`)."""
        return bool(self._backlog)

    @property
    def _seq(self) -> int:
        """The next sequence number (C's, when in use: both paths number the same stream)."""
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
        self._ext_head, self._ext_tail, self._abs_send_time = extension_template(profile, low, high)
        self._pace = CatchUpPace(codec.clockRate or 90000)
        dtls = self._sender.transport
        if hasattr(dtls, "on"):
            dtls.on("statechange", self._dtls_changed)
        pending, self._pending = self._pending or [], None
        self._paced(pending)

    def clear(self) -> None:
        """Forget frames still waiting for the sender or their turn (its track changes)."""
        if self._pending:
            self._pending.clear()
        self._backlog.clear()
        self._stop_draining()

    def write(self, frame: PackedFrame) -> bool:
        """Send a frame now (or keep it until the sender starts, or behind a backlog); False
        when dropped (too many waiting)."""
        waiting = self._pending if self._pending is not None else self._backlog
        if self._pending is None and not waiting:
            self._send(frame)
            return True
        if len(waiting) >= self._max_pending:
            return False
        waiting.append(frame)
        return True

    def catch_up(self, frames: Iterable[PackedFrame]) -> bool:
        """Send `frames` (a track's latest keyframe and what followed) paced, before anything
        written after; False when some were dropped (too many waiting)."""
        frames = list(frames)
        if self._pending is not None:
            room = self._max_pending - len(self._pending)
            self._pending.extend(frames[: max(room, 0)])
            return room >= len(frames)
        room = self._max_pending - len(self._backlog)
        self._paced(frames[: max(room, 0)])
        return room >= len(frames)

    def _paced(self, frames: list[PackedFrame]) -> None:
        """Queue `frames` to go paced (a new backlog starts at once)."""
        if not frames:
            return
        starting = not self._backlog
        self._backlog.extend(frames)
        if starting and self._pace is not None:
            self._pace.restart()
            if self.on_route_change is not None:
                self.on_route_change()  # not from C's fan-out while it catches up
        if self._drain_timer is None:
            self._drain()

    def _drain(self) -> None:
        """Send the backlog's frames that are due; come back when the next one is."""
        self._drain_timer = None
        backlog, pace = self._backlog, self._pace
        if pace is None:
            return
        while backlog:
            now = time.monotonic()
            due = pace.due(backlog[0].timestamp)
            if due > now:
                loop = asyncio.get_running_loop()
                self._drain_timer = loop.call_at(loop.time() + (due - now), self._drain)
                return
            frame = backlog.popleft()
            self._send(frame)
            pace.sent(frame.timestamp, now)
        if self.on_route_change is not None:
            self.on_route_change()  # caught up: C's fan-out may send to it again

    def _stop_draining(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

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
        now = ntp_seconds(time.time())
        to = route.native
        if to is not None:
            send_from_c(self._one, 1, frame, now)
            return
        if self._abs_send_time:
            stamp = abs_send_time(now).to_bytes(3, "big")
            extensions = self._ext_head + stamp + self._ext_tail
        else:
            extensions = self._ext_head
        timestamp = (self._timestamp_origin + frame.timestamp) & 0xFFFFFFFF
        seq = self._seq
        payloads = frame.payloads
        count = len(payloads)
        self._history.add(seq, timestamp, extensions, payloads)
        try:
            self._send_python(route, payloads, seq, timestamp, extensions)
        except Exception:  # a transport closing under us: the connection is going away
            log.debug("forwarding to a closing connection failed", exc_info=True)
        self._seq = next_sequence(seq, count)
        # The sender's RTCP sender reports read these (aiortc's own sending loop keeps them).
        sender._RTCRtpSender__ntp_timestamp = ntp_timestamp(now)
        sender._RTCRtpSender__rtp_timestamp = timestamp
        sender._RTCRtpSender__octet_count += frame.size
        sender._RTCRtpSender__packet_count += count

    def _send_python(
        self, route: _Route, payloads: list[bytes], seq: int, timestamp: int, extensions: bytes
    ) -> None:
        sendto, addr, protect = route.sendto, route.addr, route.protect
        first, payload_type, ssrc = self._first_byte, self._payload_type, self._sender._ssrc
        last = len(payloads) - 1
        pack = RTP_HEADER.pack
        for i, payload in enumerate(payloads):
            second = payload_type | 0x80 if i == last else payload_type  # marker: last
            head = pack(first, second, seq, timestamp, ssrc) + extensions
            sendto(protect(head, payload), addr)
            seq = (seq + 1) & 0xFFFF

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
        """This writer's `atelier_dest` when frames may go to it from C (`send_from_c`)
        without passing through `write()`: started, connected, enabled, and routed from C.
        None otherwise (its frames go through `write()`)."""
        if self._dest is None or self._pending is not None or self._backlog:
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
        self._backlog.clear()
        self._stop_draining()
        self._set_dest_fd(-1)
        if self.on_route_change is not None:
            self.on_route_change()

    def sync_counters(self) -> None:
        """Add what C sent since last time to the sender's counters (its SR and statistics)."""
        dest = self._dest
        if dest is None or not dest.packets:
            return
        sender = self._sender
        sender._RTCRtpSender__packet_count += dest.packets
        sender._RTCRtpSender__octet_count += dest.octets
        dest.packets = dest.octets = 0
        if dest.last_ntp > sender._RTCRtpSender__ntp_timestamp:
            sender._RTCRtpSender__ntp_timestamp = dest.last_ntp
            sender._RTCRtpSender__rtp_timestamp = dest.last_timestamp

    def sender_report(self) -> bytes:
        """The sender's SR (and SDES CNAME), as aiortc's `RTCRtpSender._run_rtcp` makes them;
        notes the report's time for the round trip estimate, as it does."""
        self.sync_counters()
        sender = self._sender
        ntp = sender._RTCRtpSender__ntp_timestamp
        data = sender_report(
            sender._ssrc,
            ntp,
            sender._RTCRtpSender__rtp_timestamp,
            sender._RTCRtpSender__packet_count,
            sender._RTCRtpSender__octet_count,
        )
        sender._RTCRtpSender__lsr = (ntp >> 16) & 0xFFFFFFFF
        sender._RTCRtpSender__lsr_time = time.time()
        cname = sender._RTCRtpSender__cname
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
            self._protect_rtcp = fast_protect(srtp, rtcp=True) if fast else srtp.protect_rtcp
        pair.protocol.transport.sendto(self._protect_rtcp(data), pair.remote_addr)

    async def _run_rtcp(self) -> None:
        """Replaces aiortc 1.16's `RTCRtpSender._run_rtcp` for this sender: its SR sent as
        `_send` sends RTP (no RTCP objects, no task hop through aiortc's DTLS transport and
        aioice); its BYE at the end still aiortc's."""
        sender = self._sender
        sender._RTCRtpSender__rtcp_started.set()
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
        sender._RTCRtpSender__rtcp_exited.set()

    async def _retransmit(self, sequence_number: int) -> None:
        """Replaces aiortc 1.16's `RTCRtpSender._retransmit` for this sender: a NACKed packet,
        again, as RTX when negotiated, at most once per round trip."""
        data = self._sent_packet(sequence_number)
        if data is None:
            return  # never sent, or too long ago
        if not self._resent.admit(sequence_number, time.monotonic(), self._sender_rtt()):
            return  # resent less than a round trip ago: that copy is on its way
        if self._rtx_payload_type is not None:
            header = 12 + len(self._ext_head) + len(self._ext_tail) + 3 * self._abs_send_time
            rtx_ssrc = self._sender._rtx_ssrc
            data = rtx_packet(data, header, self._rtx_payload_type, self._rtx_seq, rtx_ssrc)
            self._rtx_seq = next_sequence(self._rtx_seq)
        with contextlib.suppress(ConnectionError):
            await self._sender.transport._send_rtp(data)

    def _sender_rtt(self) -> float | None:
        return self._sender._RTCRtpSender__rtt

    def _header(self, seq: int, timestamp: int, last: bool) -> bytes:
        second = self._payload_type | 0x80 if last else self._payload_type
        return RTP_HEADER.pack(self._first_byte, second, seq, timestamp, self._sender._ssrc)

    def _sent_packet(self, sequence_number: int) -> bytes | None:
        """The packet `sequence_number` as it was sent (unprotected), from the history."""
        if self._dest is not None:
            packet = self._sent_from_c(sequence_number)
            if packet is not None:
                return packet
        found = self._history.find(sequence_number)
        if found is None:
            return None
        timestamp, extensions, payload, last = found
        return self._header(sequence_number, timestamp, last) + extensions + payload

    def _sent_from_c(self, sequence_number: int) -> bytes | None:
        """The packet `sequence_number`, if C sent it: from its ring and the frame kept."""
        dest = self._dest
        ring = native.LIB.ATELIER_RING
        found = find_in_ring(sequence_number, dest.ring_next, dest.ring_seq, dest.ring_count, ring)
        if found is None:
            return None
        slot, index = found
        count = dest.ring_count[slot]
        frame = sent_frame(dest.ring_serial[slot])
        if frame is None or count != len(frame.payloads):
            return None  # no longer kept
        if self._abs_send_time:
            stamp = int(dest.ring_stamp[slot]).to_bytes(3, "big")
            extensions = self._ext_head + stamp + self._ext_tail
        else:
            extensions = self._ext_head
        head = self._header(sequence_number, dest.ring_timestamp[slot], index == count - 1)
        return head + extensions + frame.payloads[index]


def send_from_c(dests: Any, n: int, frame: PackedFrame, now: float) -> None:
    """`frame` from C to the first `n` writers' `atelier_dest`s of `dests`, at `now` (seconds
    since 1900, as the writers' sender reports and abs-send-time count them)."""
    addresses, sizes = frame.arrays()
    lib = native.LIB
    lib.atelier_send_frame(
        dests,
        n,
        frame.serial,
        frame.timestamp & 0xFFFFFFFF,
        abs_send_time(now),
        ntp_timestamp(now),
        len(frame.payloads),
        addresses,
        sizes,
        frame.size,
        _c_buffer(),
        lib.ATELIER_STRIDE,
    )


class _NativeRoute(NamedTuple):
    """What the C sender sends with: the socket, the address, libsrtp's function and session."""

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
        protect = fast_protect(srtp) if fast else joining_protect(srtp.protect)
        transport = pair.protocol.transport
        addr = pair.remote_addr
        to = _native_route(transport, addr, srtp) if fast else None
        closing = getattr(transport, "is_closing", _never)
        return cls(pair, srtp, transport.sendto, addr, protect, closing, to)


def _never() -> bool:
    return False


def _native_route(transport: Any, addr: Any, srtp: pylibsrtp.Session) -> _NativeRoute | None:
    """How the C sender reaches `addr` through `transport`'s socket, if it is in use and the
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
    protect, session = c_protect(srtp)
    ffi = native.FFI
    to = _NativeRoute(
        transport,
        fd,
        sockaddr,
        len(sockaddr),
        ffi.cast("void *", protect),
        ffi.cast("void *", session),
    )
    return to


@functools.cache
def _c_buffer() -> Any:
    """Where the C sender writes a batch of packets (one per process: the loop is single)."""
    lib = native.LIB
    return native.FFI.new("unsigned char[]", lib.ATELIER_MAX_BATCH * lib.ATELIER_STRIDE)
